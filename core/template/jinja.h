// A Jinja engine for the subset real chat templates use: if/elif/else, for
// (with loop variables, else, filters), set (names, namespace attributes,
// blocks), macros, break/continue, the usual filters, tests and Python string
// and dict methods, raise_exception. Rendering follows Hugging Face's setup
// (trim_blocks and lstrip_blocks on).
#pragma once

#include <memory>
#include <string>

#include "template/value.h"

namespace edgerun::jinja {

struct Template;

class Engine {
 public:
  // Parses `source`; throws Error("<where>:<line>: ...") on a syntax error.
  Engine(const std::string& source, const std::string& where);
  ~Engine();
  // Renders with the given variables (an Object value). Throws Error on a
  // runtime error, including the template's own raise_exception().
  std::string render(const Value& variables) const;

 private:
  std::shared_ptr<Template> tmpl_;
  std::string where_;
};

}  // namespace edgerun::jinja
