// Values of the Jinja template engine, with Python's semantics where chat
// templates rely on them (truthiness, repr, json.dumps).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace edgerun::jinja {

struct Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;  // insertion-ordered, like Python dicts

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> named;
  const Value* get(size_t index, const std::string& name) const;
};
using Function = std::function<Value(const CallArgs&)>;

struct Value {
  enum class Type { Undefined, None, Bool, Int, Float, String, Array, Object, Function };
  Type type = Type::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<jinja::Array> arr;   // shared: lists and dicts are mutable references, as in Python
  std::shared_ptr<jinja::Object> obj;
  std::shared_ptr<jinja::Function> fn;

  Value() = default;
  static Value none() { Value v; v.type = Type::None; return v; }
  static Value boolean(bool x) { Value v; v.type = Type::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.type = Type::Int; v.i = x; return v; }
  static Value number(double x) { Value v; v.type = Type::Float; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.type = Type::String; v.s = std::move(x); return v; }
  static Value array(jinja::Array a = {}) { Value v; v.type = Type::Array; v.arr = std::make_shared<jinja::Array>(std::move(a)); return v; }
  static Value object(jinja::Object o = {}) { Value v; v.type = Type::Object; v.obj = std::make_shared<jinja::Object>(std::move(o)); return v; }
  static Value function(jinja::Function f) { Value v; v.type = Type::Function; v.fn = std::make_shared<jinja::Function>(std::move(f)); return v; }
  static Value from_json(const nlohmann::ordered_json& j);

  bool is_undefined() const { return type == Type::Undefined; }
  bool is_none() const { return type == Type::None; }
  bool is_string() const { return type == Type::String; }
  bool is_number() const { return type == Type::Int || type == Type::Float; }
  bool is_array() const { return type == Type::Array; }
  bool is_object() const { return type == Type::Object; }
  double as_double() const { return type == Type::Int ? static_cast<double>(i) : type == Type::Bool ? b : f; }

  bool truthy() const;
  // Object member or nullptr.
  const Value* member(const std::string& key) const;
  void set_member(const std::string& key, Value v);
  // What {{ value }} prints (Python's str()).
  std::string str() const;
  // Python's repr(), used inside printed lists and dicts.
  std::string repr() const;
  // Python's json.dumps(value, ensure_ascii=False, indent=indent).
  std::string to_json(int indent = -1, int depth = 0) const;
  const char* type_name() const;
};

bool equal(const Value& a, const Value& b);
std::string python_float(double x);

}  // namespace edgerun::jinja
