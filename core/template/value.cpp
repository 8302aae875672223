#include "template/value.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"

namespace edgerun::jinja {

namespace {
// Lists and dicts are shared, so a template can make one hold itself
// ({% set ns.me = ns %}): walking values is bounded instead of endless.
constexpr int kMaxValueDepth = 256;
thread_local int t_value_depth = 0;
struct ValueDepth {
  ValueDepth() {
    if (++t_value_depth > kMaxValueDepth) {
      t_value_depth = 0;  // the walk is abandoned: the next one starts afresh
      throw Error("a value nested deeper than " + std::to_string(kMaxValueDepth) + " levels (does it hold itself?)");
    }
  }
  ~ValueDepth() {
    if (t_value_depth > 0) --t_value_depth;
  }
};
}  // namespace

const Value* CallArgs::get(size_t index, const std::string& name) const {
  for (const auto& [k, v] : named)
    if (k == name) return &v;
  return index < positional.size() ? &positional[index] : nullptr;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      // Beyond int64: a float, as Python's json gives a big int that Jinja then compares and prints.
      const uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return number(static_cast<double>(u));
      return integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      jinja::Array a;
      for (const auto& e : j) a.push_back(from_json(e));
      return array(std::move(a));
    }
    case nlohmann::ordered_json::value_t::object: {
      jinja::Object o;
      for (auto it = j.begin(); it != j.end(); ++it) o.emplace_back(it.key(), from_json(it.value()));
      return object(std::move(o));
    }
    default: return Value();
  }
}

bool Value::truthy() const {
  switch (type) {
    case Type::Undefined: case Type::None: return false;
    case Type::Bool: return b;
    case Type::Int: return i != 0;
    case Type::Float: return f != 0;
    case Type::String: return !s.empty();
    case Type::Array: return !arr->empty();
    case Type::Object: return !obj->empty();
    case Type::Function: return true;
  }
  return false;
}

const Value* Value::member(const std::string& key) const {
  if (type != Type::Object) return nullptr;
  for (const auto& [k, v] : *obj)
    if (k == key) return &v;
  return nullptr;
}

void Value::set_member(const std::string& key, Value v) {
  for (auto& [k, old] : *obj)
    if (k == key) { old = std::move(v); return; }
  obj->emplace_back(key, std::move(v));
}

std::string python_float(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // The shortest text that reads back as the same double, as Python's repr.
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string s(buf);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string Value::str() const {
  ValueDepth guard;
  switch (type) {
    case Type::Undefined: return "";
    case Type::String: return s;
    default: return repr();
  }
}

static std::string py_quote(const std::string& s) {
  // Python prefers single quotes unless the text holds one and no double quote.
  const char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    if (c == q || c == '\\') { out += '\\'; out += c; }
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out + q;
}

std::string Value::repr() const {
  ValueDepth guard;
  switch (type) {
    case Type::Undefined: return "";
    case Type::None: return "None";
    case Type::Bool: return b ? "True" : "False";
    case Type::Int: return std::to_string(i);
    case Type::Float: return python_float(f);
    case Type::String: return py_quote(s);
    case Type::Array: {
      std::string out = "[";
      for (size_t k = 0; k < arr->size(); ++k) out += (k ? ", " : "") + (*arr)[k].repr();
      return out + "]";
    }
    case Type::Object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, v] : *obj) {
        out += (first ? "" : ", ") + py_quote(key) + ": " + v.repr();
        first = false;
      }
      return out + "}";
    }
    case Type::Function: return "<function>";
  }
  return "";
}

static std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string Value::to_json(int indent, int depth) const {
  ValueDepth guard;
  const std::string nl = indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent) * (depth + 1), ' ') : "";
  const std::string close = indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent) * depth, ' ') : "";
  const std::string sep = indent >= 0 ? "," : ", ";
  switch (type) {
    case Type::Undefined: case Type::None: return "null";
    case Type::Bool: return b ? "true" : "false";
    case Type::Int: return std::to_string(i);
    case Type::Float: return std::isfinite(f) ? python_float(f) : (std::isnan(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity");
    case Type::String: return json_quote(s);
    case Type::Array: {
      if (arr->empty()) return "[]";
      std::string out = "[";
      for (size_t k = 0; k < arr->size(); ++k) out += (k ? sep : "") + nl + (*arr)[k].to_json(indent, depth + 1);
      return out + close + "]";
    }
    case Type::Object: {
      if (obj->empty()) return "{}";
      std::string out = "{";
      bool first = true;
      for (const auto& [key, v] : *obj) {
        out += (first ? "" : sep) + nl + json_quote(key) + ": " + v.to_json(indent, depth + 1);
        first = false;
      }
      return out + close + "}";
    }
    case Type::Function: return "null";
  }
  return "null";
}

const char* Value::type_name() const {
  static const char* names[] = {"undefined", "none", "bool", "int", "float", "string", "list", "dict", "function"};
  return names[static_cast<int>(type)];
}

bool equal(const Value& a, const Value& b) {
  ValueDepth guard;
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if ((a.type == Value::Type::Bool) != (b.type == Value::Type::Bool)) {
    // Python: True == 1
    if (a.is_number() || b.is_number()) return a.as_double() == b.as_double();
    return false;
  }
  if (a.type != b.type) return a.is_undefined() && b.is_none() ? false : (a.is_none() && b.is_none());
  switch (a.type) {
    case Value::Type::Undefined: case Value::Type::None: return true;
    case Value::Type::Bool: return a.b == b.b;
    case Value::Type::String: return a.s == b.s;
    case Value::Type::Array:
      if (a.arr->size() != b.arr->size()) return false;
      for (size_t k = 0; k < a.arr->size(); ++k)
        if (!equal((*a.arr)[k], (*b.arr)[k])) return false;
      return true;
    case Value::Type::Object:
      if (a.obj->size() != b.obj->size()) return false;
      for (const auto& [k, v] : *a.obj) {
        const Value* o = b.member(k);
        if (!o || !equal(v, *o)) return false;
      }
      return true;
    default: return a.fn == b.fn;
  }
}

}  // namespace edgerun::jinja
