// The Jinja interpreter: statements, expressions and the global functions.
#include <climits>
#include <cmath>
#include <ctime>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "template/ast.h"
#include "template/builtins.h"
#include "template/jinja.h"

namespace edgerun::jinja {

namespace {

struct LoopControl {
  enum class Kind { None, Break, Continue } kind = Kind::None;
};

// A chat template comes with a model file from anyone: rendering is bounded
// in steps (an endless loop ends), depth (recursion ends) and the size of any
// string it builds, and each limit says which it was.
constexpr int64_t kMaxSteps = 5'000'000;
constexpr int kMaxDepth = 256;
constexpr size_t kMaxString = 64u << 20;
constexpr int64_t kMaxRange = 1'000'000;

class Interpreter {
 public:
  Interpreter(const std::string& where, const Value& vars) : where_(where) {
    scopes_.emplace_back();
    if (vars.is_object())
      for (const auto& [k, v] : *vars.obj) scopes_.back()[k] = v;
    install_globals();
  }

  void exec(const Body& body, std::string& out, LoopControl& ctl) {
    for (const auto& st : body) {
      exec(*st, out, ctl);
      if (out.size() > kMaxString) error(st->line, "the output is larger than " + std::to_string(kMaxString >> 20) + " MiB");
      if (ctl.kind != LoopControl::Kind::None) return;
    }
  }

 private:
  struct Depth {
    Interpreter& in;
    Depth(Interpreter& i, int line) : in(i) {
      if (++in.depth_ > kMaxDepth) in.error(line, "nested deeper than " + std::to_string(kMaxDepth) + " levels (endless recursion?)");
      in.count_step(line);
    }
    ~Depth() { --in.depth_; }
  };
  // Whether v is, or contains, the object `target` (each container looked at once).
  bool holds(const Value& v, const void* target, std::unordered_set<const void*>& seen) {
    if (v.is_object()) {
      if (v.obj.get() == target) return true;
      if (!seen.insert(v.obj.get()).second) return false;
      for (const auto& [k, x] : *v.obj) {
        count_step(0);
        if (holds(x, target, seen)) return true;
      }
    } else if (v.is_array()) {
      if (!seen.insert(v.arr.get()).second) return false;
      for (const auto& x : *v.arr) {
        count_step(0);
        if (holds(x, target, seen)) return true;
      }
    }
    return false;
  }

  void count_step(int line) {
    if (++steps_ > kMaxSteps) error(line, "rendering took more than " + std::to_string(kMaxSteps) + " steps (an endless loop?)");
  }
  std::string checked(std::string s, int line) const {
    if (s.size() > kMaxString) error(line, "a string larger than " + std::to_string(kMaxString >> 20) + " MiB");
    return s;
  }

  [[noreturn]] void error(int line, const std::string& msg) const { fail(where_ + ":" + std::to_string(line), msg); }

  void install_globals() {
    auto& g = scopes_.front();
    g["raise_exception"] = Value::function([this](const CallArgs& a) -> Value {
      const Value* m = a.get(0, "message");
      fail(where_, "template raised an exception: " + (m ? m->str() : std::string("(no message)")));
    });
    g["namespace"] = Value::function([](const CallArgs& a) {
      Value ns = Value::object();
      for (const auto& p : a.positional)
        if (p.is_object()) for (const auto& [k, v] : *p.obj) ns.set_member(k, v);
      for (const auto& [k, v] : a.named) ns.set_member(k, v);
      return ns;
    });
    g["range"] = Value::function([this](const CallArgs& a) {
      int64_t start = 0, stop = 0, step = 1;
      if (a.positional.size() == 1) stop = a.positional[0].i;
      if (a.positional.size() >= 2) { start = a.positional[0].i; stop = a.positional[1].i; }
      if (a.positional.size() >= 3) step = a.positional[2].i;
      if (step == 0) fail(where_, "range: step must not be zero");
      const long double count = (static_cast<long double>(stop) - start) / step;
      if (count > kMaxRange) fail(where_, "range: more than " + std::to_string(kMaxRange) + " numbers");
      Value out = Value::array();
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.arr->push_back(Value::integer(i));
      return out;
    });
    g["dict"] = Value::function([](const CallArgs& a) {
      Value d = Value::object();
      for (const auto& [k, v] : a.named) d.set_member(k, v);
      return d;
    });
    g["strftime_now"] = Value::function([](const CallArgs& a) {
      const Value* f = a.get(0, "format");
      std::time_t now = std::time(nullptr);
      std::tm tm{};
      localtime_r(&now, &tm);
      char buf[256];
      const size_t n = std::strftime(buf, sizeof buf, f ? f->s.c_str() : "%Y-%m-%d", &tm);
      return Value::string(std::string(buf, n));
    });
  }

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return Value();
  }
  void assign(const std::string& name, Value v) { scopes_.back()[name] = std::move(v); }

  void assign_targets(const std::vector<std::string>& targets, const Value& v, int line) {
    if (targets.size() == 1) return assign(targets[0], v);
    if (!v.is_array() || v.arr->size() != targets.size())
      error(line, "cannot unpack " + std::string(v.type_name()) + " into " + std::to_string(targets.size()) + " names");
    for (size_t k = 0; k < targets.size(); ++k) assign(targets[k], (*v.arr)[k]);
  }

  void exec(const Stmt& st, std::string& out, LoopControl& ctl) {
    Depth depth(*this, st.line);
    switch (st.kind) {
      case Stmt::Kind::Text: out += st.text; return;
      case Stmt::Kind::Output: out += eval(*st.expr).str(); return;
      case Stmt::Kind::If:
        for (size_t b = 0; b < st.branches.size(); ++b) {
          if (b >= st.conditions.size() || eval(*st.conditions[b]).truthy()) {
            exec(st.branches[b], out, ctl);
            return;
          }
        }
        return;
      case Stmt::Kind::For: return exec_for(st, out);
      case Stmt::Kind::Set: {
        Value v = eval(*st.expr);
        if (st.target_attr) {
          Value obj = lookup(st.target_attr->args[0]->name);
          if (!obj.is_object()) error(st.line, "cannot set attribute '" + st.target_attr->name + "' of " + obj.type_name());
          // Setting an attribute is the one way a template can make a value
          // hold itself; such a cycle would never be freed, so it is refused.
          std::unordered_set<const void*> seen;
          if (holds(v, obj.obj.get(), seen))
            error(st.line, "cannot set '" + st.target_attr->name + "': the namespace would hold itself");
          obj.set_member(st.target_attr->name, std::move(v));
        } else {
          assign_targets(st.targets, v, st.line);
        }
        return;
      }
      case Stmt::Kind::SetBlock: {
        std::string captured;
        LoopControl inner;
        exec(st.body, captured, inner);
        assign(st.targets.at(0), Value::string(captured));
        return;
      }
      case Stmt::Kind::Macro: return define_macro(st);
      case Stmt::Kind::Break: ctl.kind = LoopControl::Kind::Break; return;
      case Stmt::Kind::Continue: ctl.kind = LoopControl::Kind::Continue; return;
      case Stmt::Kind::Passthrough: return exec(st.body, out, ctl);
    }
  }

  void exec_for(const Stmt& st, std::string& out) {
    Value iter = eval(*st.expr);
    std::vector<Value> items;
    if (iter.is_array()) {
      items = *iter.arr;
    } else if (iter.is_object()) {
      for (const auto& [k, v] : *iter.obj) items.push_back(Value::string(k));
    } else if (iter.is_string()) {
      items = string_chars(iter.s);
    } else if (!iter.is_undefined() && !iter.is_none()) {
      error(st.line, std::string("cannot loop over ") + iter.type_name());
    }
    if (st.filter) {
      std::vector<Value> kept;
      scopes_.emplace_back();
      for (const auto& it : items) {
        assign_targets(st.targets, it, st.line);
        if (eval(*st.filter).truthy()) kept.push_back(it);
      }
      scopes_.pop_back();
      items.swap(kept);
    }
    if (items.empty()) {
      LoopControl ctl;
      exec(st.else_body, out, ctl);
      return;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t k = 0; k < n; ++k) {
      count_step(st.line);
      scopes_.emplace_back();
      Value loop = Value::object();
      loop.set_member("index", Value::integer(k + 1));
      loop.set_member("index0", Value::integer(k));
      loop.set_member("revindex", Value::integer(n - k));
      loop.set_member("revindex0", Value::integer(n - k - 1));
      loop.set_member("first", Value::boolean(k == 0));
      loop.set_member("last", Value::boolean(k == n - 1));
      loop.set_member("length", Value::integer(n));
      loop.set_member("previtem", k > 0 ? items[k - 1] : Value());
      loop.set_member("nextitem", k + 1 < n ? items[k + 1] : Value());
      assign("loop", loop);
      assign_targets(st.targets, items[k], st.line);
      LoopControl ctl;
      exec(st.body, out, ctl);
      scopes_.pop_back();
      if (ctl.kind == LoopControl::Kind::Break) break;
    }
  }

  void define_macro(const Stmt& st) {
    const Stmt* m = &st;
    assign(st.name, Value::function([this, m](const CallArgs& a) {
      scopes_.emplace_back();
      for (size_t k = 0; k < m->params.size(); ++k) {
        const Value* v = a.get(k, m->params[k].first);
        assign(m->params[k].first, v ? *v : m->params[k].second ? eval(*m->params[k].second) : Value());
      }
      std::string out;
      LoopControl ctl;
      exec(m->body, out, ctl);
      scopes_.pop_back();
      return Value::string(out);
    }));
  }

  CallArgs eval_args(const Expr& e, size_t first) {
    CallArgs a;
    for (size_t k = first; k < e.args.size(); ++k) a.positional.push_back(eval(*e.args[k]));
    for (const auto& [name, ex] : e.kwargs) a.named.emplace_back(name, eval(*ex));
    return a;
  }

  Value eval(const Expr& e) {
    Depth depth(*this, e.line);
    try {
      return eval_inner(e);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& ex) {
      error(e.line, ex.what());
    }
  }

  Value eval_inner(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.literal;
      case Expr::Kind::Name: return lookup(e.name);
      case Expr::Kind::List: {
        Value v = Value::array();
        for (const auto& a : e.args) v.arr->push_back(eval(*a));
        return v;
      }
      case Expr::Kind::Dict: {
        Value v = Value::object();
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) v.set_member(eval(*e.args[k]).str(), eval(*e.args[k + 1]));
        return v;
      }
      case Expr::Kind::Attr: {
        Value obj = eval(*e.args[0]);
        if (const Value* m = obj.member(e.name)) return *m;
        Value method = bound_method(obj, e.name);
        return method;  // undefined when there is no such attribute
      }
      case Expr::Kind::Index: {
        Value obj = eval(*e.args[0]);
        return index(obj, eval(*e.args[1]), e.line);
      }
      case Expr::Kind::Slice: {
        Value obj = eval(*e.args[0]);
        std::optional<int64_t> parts[3];
        for (int k = 0; k < 3; ++k)
          if (e.args[k + 1]) parts[k] = eval(*e.args[k + 1]).i;
        return slice(obj, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::Call: {
        Value f = eval(*e.args[0]);
        if (f.type != Value::Type::Function) {
          const std::string what = e.args[0]->kind == Expr::Kind::Name || e.args[0]->kind == Expr::Kind::Attr ? "'" + e.args[0]->name + "'" : "value";
          error(e.line, what + " is not callable (" + f.type_name() + ")");
        }
        return (*f.fn)(eval_args(e, 1));
      }
      case Expr::Kind::Filter: {
        Value v = eval(*e.args[0]);
        CallArgs a = eval_args(e, 1);
        return apply_filter(e.name, v, a, [&](const std::string& msg) { error(e.line, msg); });
      }
      case Expr::Kind::Test: {
        if (e.name == "defined" || e.name == "undefined") {
          const bool defined = !eval(*e.args[0]).is_undefined();
          return Value::boolean((e.name == "defined") == defined ? !e.negated : e.negated);
        }
        Value v = eval(*e.args[0]);
        CallArgs a = eval_args(e, 1);
        const bool r = apply_test(e.name, v, a, [&](const std::string& msg) { error(e.line, msg); });
        return Value::boolean(r != e.negated);
      }
      case Expr::Kind::Unary: {
        Value v = eval(*e.args[0]);
        if (e.name == "not") return Value::boolean(!v.truthy());
        if (v.type == Value::Type::Int) return Value::integer(-v.i);
        if (v.type == Value::Type::Float) return Value::number(-v.f);
        error(e.line, std::string("bad operand for unary -: ") + v.type_name());
      }
      case Expr::Kind::Binary: return binary_op(e);
      case Expr::Kind::Ternary:
        if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
        return e.args[2] ? eval(*e.args[2]) : Value();
    }
    return Value();
  }

  Value binary_op(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? eval(*e.args[1]) : a;
    }
    if (op == "or") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? a : eval(*e.args[1]);
    }
    const Value a = eval(*e.args[0]), b = eval(*e.args[1]);
    auto bad = [&]() -> Value {
      error(e.line, "unsupported operand types for " + op + ": " + a.type_name() + " and " + b.type_name());
    };
    if (op == "==") return Value::boolean(equal(a, b));
    if (op == "!=") return Value::boolean(!equal(a, b));
    if (op == "~") return Value::string(checked(a.str() + b.str(), e.line));
    if (op == "in" || op == "not in") {
      bool found = false;
      if (b.is_string()) found = b.s.find(a.str()) != std::string::npos;
      else if (b.is_array()) for (const auto& x : *b.arr) found = found || equal(x, a);
      else if (b.is_object()) found = b.member(a.str()) != nullptr;
      else if (!b.is_undefined() && !b.is_none()) return bad();
      return Value::boolean(found == (op == "in"));
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      int c;
      if (a.is_number() && b.is_number()) c = a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double() ? 1 : 0;
      else if (a.is_string() && b.is_string()) c = a.s.compare(b.s);
      else return bad();
      return Value::boolean(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
    }
    if (op == "+") {
      if (a.is_string() && b.is_string()) return Value::string(checked(a.s + b.s, e.line));
      if (a.is_array() && b.is_array()) {
        Value v = Value::array(*a.arr);
        v.arr->insert(v.arr->end(), b.arr->begin(), b.arr->end());
        return v;
      }
    }
    if (op == "*" && a.is_string() && b.type == Value::Type::Int) {
      if (b.i > 0 && !a.s.empty() && static_cast<uint64_t>(b.i) > kMaxString / a.s.size())
        error(e.line, "a string larger than " + std::to_string(kMaxString >> 20) + " MiB");
      std::string s;
      for (int64_t k = 0; k < b.i; ++k) s += a.s;
      return Value::string(s);
    }
    const bool numeric = (a.is_number() || a.type == Value::Type::Bool) && (b.is_number() || b.type == Value::Type::Bool);
    if (!numeric) return bad();
    const bool ints = a.type != Value::Type::Float && b.type != Value::Type::Float;
    const int64_t ai = a.type == Value::Type::Bool ? a.b : a.i, bi = b.type == Value::Type::Bool ? b.b : b.i;
    const double ad = a.as_double(), bd = b.as_double();
    int64_t r = 0;
    auto overflow = [&]() -> Value { error(e.line, "integer overflow in " + op); };
    if (op == "+") return ints ? (__builtin_add_overflow(ai, bi, &r) ? overflow() : Value::integer(r)) : Value::number(ad + bd);
    if (op == "-") return ints ? (__builtin_sub_overflow(ai, bi, &r) ? overflow() : Value::integer(r)) : Value::number(ad - bd);
    if (op == "*") return ints ? (__builtin_mul_overflow(ai, bi, &r) ? overflow() : Value::integer(r)) : Value::number(ad * bd);
    if (op == "/") {
      if (bd == 0) error(e.line, "division by zero");
      return Value::number(ad / bd);
    }
    if (op == "//" || op == "%") {
      if (bd == 0) error(e.line, "division by zero");
      if (ints) {
        if (ai == INT64_MIN && bi == -1) return op == "%" ? Value::integer(0) : overflow();
        int64_t q = ai / bi, r = ai % bi;
        if (r != 0 && ((r < 0) != (bi < 0))) { --q; r += bi; }  // Python floors
        return Value::integer(op == "//" ? q : r);
      }
      const double q = std::floor(ad / bd);
      return Value::number(op == "//" ? q : ad - q * bd);
    }
    if (op == "**") {
      if (!ints || bi < 0) return Value::number(std::pow(ad, bd));
      // Exact, by squaring; beyond 64 bits an error, as for + - * (never a
      // double out of range cast to an integer).
      int64_t base = ai, result = 1;
      for (int64_t n = bi; n > 0; n >>= 1) {
        if ((n & 1) && __builtin_mul_overflow(result, base, &result)) return overflow();
        if (n > 1 && __builtin_mul_overflow(base, base, &base)) return overflow();
      }
      return Value::integer(result);
    }
    return bad();
  }

  std::string where_;
  std::vector<std::unordered_map<std::string, Value>> scopes_;
  int depth_ = 0;
  int64_t steps_ = 0;
};

}  // namespace

Engine::Engine(const std::string& source, const std::string& where) : tmpl_(parse(source, where)), where_(where) {}
Engine::~Engine() = default;

std::string Engine::render(const Value& variables) const {
  Interpreter in(where_, variables);
  std::string out;
  LoopControl ctl;
  in.exec(tmpl_->body, out, ctl);
  return out;
}

}  // namespace edgerun::jinja
