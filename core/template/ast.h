// The parsed form of a Jinja template.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace edgerun::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind { Literal, Name, List, Dict, Attr, Index, Slice, Call, Filter, Test, Unary, Binary, Ternary };
  Kind kind = Kind::Literal;
  int line = 0;
  Value literal;
  std::string name;  // variable, attribute, filter, test or operator
  bool negated = false;                                  // "is not"
  std::vector<ExprPtr> args;                             // operands / call arguments (slots may be null for slices)
  std::vector<std::pair<std::string, ExprPtr>> kwargs;   // named call arguments
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, Passthrough };
  Kind kind = Kind::Text;
  int line = 0;
  std::string text;                    // Text
  ExprPtr expr;                        // Output value, Set value, For iterable
  ExprPtr target_attr;                 // Set ns.attr = ... (an Attr expression)
  std::vector<std::string> targets;    // For / Set names
  std::vector<ExprPtr> conditions;     // If: one per branch (else has none)
  std::vector<Body> branches;          // If branches
  ExprPtr filter;                      // For ... if filter
  Body body, else_body;
  std::string name;                    // Macro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro parameters with defaults
};

struct Template {
  Body body;
};

// Parses template source. Throws Error("<where>:<line>: ...") on a syntax error.
std::shared_ptr<Template> parse(const std::string& source, const std::string& where);

}  // namespace edgerun::jinja
