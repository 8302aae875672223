// Filters, tests and methods of the Jinja engine (Python's str/dict/list
// methods that chat templates call).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "template/value.h"

namespace edgerun::jinja {

using ErrorFn = std::function<void(const std::string&)>;  // must not return

std::vector<Value> string_chars(const std::string& s);  // one Value per code point
Value index(const Value& obj, const Value& key, int line);
Value slice(const Value& obj, std::optional<int64_t> start, std::optional<int64_t> stop, std::optional<int64_t> step);
// obj.name as a callable (e.g. "abc".startswith), or undefined.
Value bound_method(const Value& obj, const std::string& name);
Value apply_filter(const std::string& name, const Value& v, const CallArgs& args, const ErrorFn& error);
bool apply_test(const std::string& name, const Value& v, const CallArgs& args, const ErrorFn& error);

}  // namespace edgerun::jinja
