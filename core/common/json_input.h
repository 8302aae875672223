// JSON that comes from outside (model folders, tokenizer files, messages,
// requests) is parsed with a bound on its nesting: nlohmann's parser itself
// is iterative, but copying, comparing or walking a value recurses, so a
// document nested 100,000 deep would exhaust the stack later, far from here.
#pragma once

#include <nlohmann/json.hpp>
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

}  // namespace edgerun
