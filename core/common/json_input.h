// JSON that comes from outside (model folders, tokenizer files, messages,
// requests) is parsed with a bound on its nesting: nlohmann's parser itself
// is iterative, but copying, comparing or walking a value recurses, so a
// document nested 100,000 deep would exhaust the stack later, far from here.
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace edgerun {

constexpr int kMaxJsonDepth = 256;

// Parses `text`; throws Error("<where>: ...") when it is not JSON or is
// nested deeper than kMaxJsonDepth.
template <typename Json = nlohmann::json>
Json parse_json_input(const std::string& where, std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end(), [](int depth, typename Json::parse_event_t, Json&) {
      if (depth > kMaxJsonDepth) throw Error("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      return true;
    });
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number too large (out_of_range)
    // nlohmann's text after its "[json.exception.<kind>.N] " tag.
    std::string what = e.what();
    if (what.rfind("[json.exception", 0) == 0 && what.find("] ") != std::string::npos) what.erase(0, what.find("] ") + 2);
    fail(where, "malformed JSON: " + what);
  } catch (const Error& e) {
    fail(where, std::string("JSON ") + e.what());
  }
}

// The value of a JSON number that is a whole number within [lo, hi] (42, or
// 42.0); nullopt for anything else: a string, a fraction, a number out of the
// range. nlohmann's get<int>() on 1e81 or on 2^64 - 1 converts out of range
// (undefined, or wrapped to a negative): every integer read from outside goes
// through here instead.
template <typename Json>
std::optional<int64_t> json_integer(const Json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.template get<uint64_t>();
    if (u > static_cast<uint64_t>(hi) || (lo > 0 && u < static_cast<uint64_t>(lo))) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.template get<int64_t>();
    if (i < lo || i > hi) return std::nullopt;
    return i;
  }
  if (v.is_number_float()) {
    const double d = v.template get<double>();
    // The bounds as doubles may round up (2^63 - 1 -> 2^63): compare strictly below 2^63.
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) || d >= 9223372036854775808.0 ||
        d > static_cast<double>(hi))
      return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace edgerun
