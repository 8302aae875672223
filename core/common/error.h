// Error handling for edgerun.
//
// Inside the library, failures throw edgerun::Error (parsers and loaders are far
// clearer that way). At the library's public edge every call is wrapped so that
// errors come back as values (Result<T>): no exception crosses into an app.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace edgerun {

// What kind of failure, for APIs that report a code beside the message (the C
// API's er_status). Most errors leave it Unspecified: the caller knows what it
// was doing (loading a model, parsing a request) and maps that.
enum class ErrorKind { Unspecified, IO, Unsupported, ContextFull, Busy };

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg, ErrorKind kind = ErrorKind::Unspecified) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Throws Error with the message "<where>: <what>".
[[noreturn]] inline void fail(const std::string& where, const std::string& what, ErrorKind kind = ErrorKind::Unspecified) {
  throw Error(where.empty() ? what : where + ": " + what, kind);
}

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  static Result error(std::string msg) { return Result(ErrTag{std::move(msg)}); }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const std::string& message() const { return std::get<1>(v_).msg; }

 private:
  struct ErrTag { std::string msg; };
  explicit Result(ErrTag e) : v_(std::in_place_index<1>, std::move(e)) {}
  std::variant<T, ErrTag> v_;
};

// Runs fn() and turns any exception into an error Result.
template <typename Fn>
auto capture(Fn&& fn) -> Result<decltype(fn())> {
  using T = decltype(fn());
  try {
    return Result<T>(fn());
  } catch (const std::bad_alloc&) {
    return Result<T>::error("out of memory");
  } catch (const std::exception& e) {
    return Result<T>::error(e.what());
  }
}

}  // namespace edgerun
