#include "template/builtins.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/error.h"
#include "tokenizer/utf8.h"

namespace edgerun::jinja {

namespace {

const char* kWhitespace = " \t\n\r\f\v";

std::string strip_chars(const std::string& s, const std::string& chars, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) while (b < e && chars.find(s[b]) != std::string::npos) ++b;
  if (right) while (e > b && chars.find(s[e - 1]) != std::string::npos) --e;
  return s.substr(b, e - b);
}

std::string chars_arg(const CallArgs& a) {
  const Value* c = a.get(0, "chars");
  return c && c->is_string() ? c->s : kWhitespace;
}

std::vector<std::string> split(const std::string& s, const Value* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (!sep || sep->is_none() || sep->is_undefined()) {  // runs of whitespace, no empty parts
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        out.push_back(strip_chars(s.substr(i), kWhitespace, false, true));
        break;
      }
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  const std::string& d = sep->s;
  if (d.empty()) fail("split", "empty separator");
  size_t i = 0;
  for (;;) {
    const size_t at = s.find(d, i);
    if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) {
      out.push_back(s.substr(i));
      return out;
    }
    out.push_back(s.substr(i, at - i));
    i = at + d.size();
  }
}

Value string_list(const std::vector<std::string>& parts) {
  Value v = Value::array();
  for (const auto& p : parts) v.arr->push_back(Value::string(p));
  return v;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) return s;
  std::string out;
  size_t i = 0;
  for (size_t at; (count < 0 || count-- > 0) && (at = s.find(from, i)) != std::string::npos; i = at + from.size())
    out += s.substr(i, at - i) + to;
  return out + s.substr(i);
}

std::string ascii_case(std::string s, bool upper) {
  for (char& c : s) c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string title_case(std::string s) {
  bool start = true;
  for (char& c : s) {
    const bool alpha = std::isalpha(static_cast<unsigned char>(c));
    c = static_cast<char>(alpha ? (start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c))) : c);
    start = !alpha;
  }
  return s;
}

int64_t length(const Value& v) {
  if (v.is_string()) return static_cast<int64_t>(string_chars(v.s).size());
  if (v.is_array()) return static_cast<int64_t>(v.arr->size());
  if (v.is_object()) return static_cast<int64_t>(v.obj->size());
  return 0;
}

std::vector<Value> as_list(const Value& v) {
  if (v.is_array()) return *v.arr;
  if (v.is_string()) return string_chars(v.s);
  std::vector<Value> out;
  if (v.is_object()) for (const auto& [k, x] : *v.obj) out.push_back(Value::string(k));
  return out;
}

// Looks up "a.b.c" inside v (for map/selectattr/sort attribute=).
Value attribute_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t i = 0;
  while (i <= path.size()) {
    const size_t dot = std::min(path.find('.', i), path.size());
    const Value* m = cur.member(path.substr(i, dot - i));
    if (!m) return Value();
    cur = *m;
    i = dot + 1;
  }
  return cur;
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double();
  const std::string x = a.str(), y = b.str();
  return x < y ? -1 : x > y;
}

}  // namespace

std::vector<Value> string_chars(const std::string& s) {
  std::vector<Value> out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = std::max<size_t>(1, utf8::valid_len(s, i));
    out.push_back(Value::string(s.substr(i, n)));
    i += n;
  }
  return out;
}

Value index(const Value& obj, const Value& key, int line) {
  if (obj.is_object()) {
    const Value* m = obj.member(key.str());
    return m ? *m : bound_method(obj, key.str());
  }
  if ((obj.is_array() || obj.is_string()) && key.type == Value::Type::Int) {
    const std::vector<Value> items = obj.is_array() ? *obj.arr : string_chars(obj.s);
    int64_t k = key.i < 0 ? key.i + static_cast<int64_t>(items.size()) : key.i;
    if (k < 0 || k >= static_cast<int64_t>(items.size())) return Value();
    return items[static_cast<size_t>(k)];
  }
  return Value();
}

Value slice(const Value& obj, std::optional<int64_t> start, std::optional<int64_t> stop, std::optional<int64_t> step) {
  const std::vector<Value> items = obj.is_array() ? *obj.arr : obj.is_string() ? string_chars(obj.s) : std::vector<Value>{};
  const int64_t n = static_cast<int64_t>(items.size());
  const int64_t st = step.value_or(1);
  if (st == 0) fail("slice", "slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + n : *v;
    return st > 0 ? std::clamp<int64_t>(x, 0, n) : std::clamp<int64_t>(x, -1, n - 1);
  };
  const int64_t b = clamp(start, st > 0 ? 0 : n - 1), e = clamp(stop, st > 0 ? n : -1);
  std::vector<Value> out;
  for (int64_t k = b; st > 0 ? k < e : k > e; k += st) out.push_back(items[static_cast<size_t>(k)]);
  if (obj.is_string()) {
    std::string s;
    for (const auto& c : out) s += c.s;
    return Value::string(s);
  }
  return Value::array(std::move(out));
}

Value bound_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    const std::string s = obj.s;
    if (name == "startswith" || name == "endswith") {
      const bool start = name == "startswith";
      return Value::function([s, start](const CallArgs& a) {
        const Value* p = a.get(0, "prefix");
        std::vector<std::string> cands;
        if (p && p->is_array()) for (const auto& x : *p->arr) cands.push_back(x.str());
        else if (p) cands.push_back(p->str());
        for (const auto& c : cands)
          if (c.size() <= s.size() && (start ? s.compare(0, c.size(), c) == 0 : s.compare(s.size() - c.size(), c.size(), c) == 0))
            return Value::boolean(true);
        return Value::boolean(false);
      });
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      const bool l = name != "rstrip", r = name != "lstrip";
      return Value::function([s, l, r](const CallArgs& a) { return Value::string(strip_chars(s, chars_arg(a), l, r)); });
    }
    if (name == "split" || name == "rsplit") {
      return Value::function([s](const CallArgs& a) {
        const Value* m = a.get(1, "maxsplit");
        return string_list(split(s, a.get(0, "sep"), m ? m->i : -1));
      });
    }
    if (name == "upper" || name == "lower") {
      const bool up = name == "upper";
      return Value::function([s, up](const CallArgs&) { return Value::string(ascii_case(s, up)); });
    }
    if (name == "title") return Value::function([s](const CallArgs&) { return Value::string(title_case(s)); });
    if (name == "capitalize")
      return Value::function([s](const CallArgs&) {
        std::string r = ascii_case(s, false);
        if (!r.empty()) r[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(r[0])));
        return Value::string(r);
      });
    if (name == "replace")
      return Value::function([s](const CallArgs& a) {
        const Value* c = a.get(2, "count");
        return Value::string(replace_all(s, a.get(0, "old") ? a.get(0, "old")->str() : "", a.get(1, "new") ? a.get(1, "new")->str() : "", c ? c->i : -1));
      });
    if (name == "find")
      return Value::function([s](const CallArgs& a) {
        const size_t at = s.find(a.get(0, "sub") ? a.get(0, "sub")->str() : "");
        return Value::integer(at == std::string::npos ? -1 : static_cast<int64_t>(at));
      });
    if (name == "count")
      return Value::function([s](const CallArgs& a) {
        const std::string sub = a.get(0, "sub") ? a.get(0, "sub")->str() : "";
        int64_t n = 0;
        if (!sub.empty()) for (size_t i = s.find(sub); i != std::string::npos; i = s.find(sub, i + sub.size())) ++n;
        return Value::integer(n);
      });
    if (name == "join")
      return Value::function([s](const CallArgs& a) {
        std::string out;
        const Value* items = a.get(0, "iterable");
        bool first = true;
        if (items) for (const auto& x : as_list(*items)) { out += (first ? "" : s) + x.str(); first = false; }
        return Value::string(out);
      });
    if (name == "isdigit" || name == "isalpha" || name == "isspace")
      return Value::function([s, name](const CallArgs&) {
        if (s.empty()) return Value::boolean(false);
        for (unsigned char c : s) {
          const bool ok = name == "isdigit" ? std::isdigit(c) : name == "isalpha" ? std::isalpha(c) : std::isspace(c);
          if (!ok) return Value::boolean(false);
        }
        return Value::boolean(true);
      });
  }
  if (obj.is_object()) {
    const Value o = obj;
    if (name == "items")
      return Value::function([o](const CallArgs&) {
        Value v = Value::array();
        for (const auto& [k, x] : *o.obj) v.arr->push_back(Value::array({Value::string(k), x}));
        return v;
      });
    if (name == "keys" || name == "values") {
      const bool keys = name == "keys";
      return Value::function([o, keys](const CallArgs&) {
        Value v = Value::array();
        for (const auto& [k, x] : *o.obj) v.arr->push_back(keys ? Value::string(k) : x);
        return v;
      });
    }
    if (name == "get")
      return Value::function([o](const CallArgs& a) {
        const Value* k = a.get(0, "key");
        const Value* m = k ? o.member(k->str()) : nullptr;
        if (m) return *m;
        const Value* d = a.get(1, "default");
        return d ? *d : Value::none();
      });
  }
  if (obj.is_array()) {
    const Value o = obj;
    if (name == "append")
      return Value::function([o](const CallArgs& a) {
        if (const Value* x = a.get(0, "object")) o.arr->push_back(*x);
        return Value::none();
      });
    if (name == "pop")
      return Value::function([o](const CallArgs& a) {
        if (o.arr->empty()) fail("pop", "pop from an empty list");
        const Value* i = a.get(0, "index");
        int64_t k = i ? i->i : -1;
        if (k < 0) k += static_cast<int64_t>(o.arr->size());
        if (k < 0 || k >= static_cast<int64_t>(o.arr->size())) fail("pop", "index out of range");
        Value v = (*o.arr)[static_cast<size_t>(k)];
        o.arr->erase(o.arr->begin() + k);
        return v;
      });
  }
  return Value();
}

// A filter that is also a method (x | items is x.items()): where x has no
// such method, an error, never a call through an empty function.
static Value call_as_method(const Value& v, const std::string& name, const CallArgs& a, const ErrorFn& error) {
  const Value m = bound_method(v, name);
  if (m.type != Value::Type::Function || !m.fn) {
    error("filter '" + name + "' does not apply to " + v.type_name());
    return Value();
  }
  return (*m.fn)(a);
}

Value apply_filter(const std::string& name, const Value& v, const CallArgs& a, const ErrorFn& error) {
  if (name == "trim") return Value::string(strip_chars(v.str(), a.get(0, "chars") ? a.get(0, "chars")->str() : kWhitespace, true, true));
  if (name == "tojson") {
    const Value* ind = a.get(0, "indent");
    return Value::string(v.to_json(ind && ind->type == Value::Type::Int ? static_cast<int>(ind->i) : -1));
  }
  if (name == "length" || name == "count") return Value::integer(length(v));
  if (name == "upper" || name == "lower") return Value::string(ascii_case(v.str(), name == "upper"));
  if (name == "title") return Value::string(title_case(v.str()));
  if (name == "capitalize") return call_as_method(Value::string(v.str()), "capitalize", a, error);
  if (name == "string") return Value::string(v.str());
  if (name == "safe") return v;
  if (name == "default" || name == "d") {
    const Value* d = a.get(0, "default_value");
    const Value* boolean = a.get(1, "boolean");
    const bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
    return use_default ? (d ? *d : Value::string("")) : v;
  }
  if (name == "join") {
    const Value* sep = a.get(0, "d");
    const Value* attr = a.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& x : as_list(v)) {
      out += (first ? "" : (sep ? sep->str() : "")) + (attr ? attribute_path(x, attr->str()) : x).str();
      first = false;
    }
    return Value::string(out);
  }
  if (name == "first" || name == "last") {
    const auto items = as_list(v);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value::array(as_list(v));
  if (name == "reverse") {
    if (v.is_string()) return slice(v, std::nullopt, std::nullopt, -1);
    auto items = as_list(v);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "replace") {
    const Value* c = a.get(2, "count");
    return Value::string(replace_all(v.str(), a.get(0, "old") ? a.get(0, "old")->str() : "", a.get(1, "new") ? a.get(1, "new")->str() : "", c ? c->i : -1));
  }
  if (name == "int") {
    if (v.type == Value::Type::Float) return Value::integer(static_cast<int64_t>(v.f));
    if (v.is_number()) return v;
    try { return Value::integer(std::stoll(v.str())); } catch (...) { return Value::integer(0); }
  }
  if (name == "float") {
    if (v.is_number()) return Value::number(v.as_double());
    try { return Value::number(std::stod(v.str())); } catch (...) { return Value::number(0); }
  }
  if (name == "abs") return v.type == Value::Type::Int ? Value::integer(std::llabs(v.i)) : Value::number(std::fabs(v.as_double()));
  if (name == "round") {
    const Value* p = a.get(0, "precision");
    const double m = std::pow(10.0, p ? p->as_double() : 0);
    return Value::number(std::round(v.as_double() * m) / m);
  }
  if (name == "items") return v.type == Value::Type::Undefined ? Value::array() : call_as_method(v, "items", a, error);
  if (name == "dictsort") {
    Value items = v.is_object() ? call_as_method(v, "items", a, error) : Value::array();
    std::stable_sort(items.arr->begin(), items.arr->end(), [](const Value& x, const Value& y) { return compare_values((*x.arr)[0], (*y.arr)[0]) < 0; });
    return items;
  }
  if (name == "sort") {
    auto items = as_list(v);
    const Value* attr = a.get(2, "attribute");
    const Value* rev = a.get(0, "reverse");
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      return attr ? compare_values(attribute_path(x, attr->str()), attribute_path(y, attr->str())) < 0 : compare_values(x, y) < 0;
    });
    if (rev && rev->truthy()) std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "unique") {
    std::vector<Value> out;
    for (const auto& x : as_list(v))
      if (std::none_of(out.begin(), out.end(), [&](const Value& y) { return equal(x, y); })) out.push_back(x);
    return Value::array(std::move(out));
  }
  if (name == "map") {
    const Value* attr = a.get(99, "attribute");
    std::vector<Value> out;
    for (const auto& x : as_list(v)) {
      if (attr) out.push_back(attribute_path(x, attr->str()));
      else if (!a.positional.empty()) {
        CallArgs rest;
        rest.positional.assign(a.positional.begin() + 1, a.positional.end());
        out.push_back(apply_filter(a.positional[0].str(), x, rest, error));
      } else out.push_back(x);
    }
    return Value::array(std::move(out));
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    const bool by_attr = name.size() > 6;
    const bool keep = name[0] == 's';
    std::vector<Value> out;
    for (const auto& x : as_list(v)) {
      const Value subject = by_attr ? attribute_path(x, a.positional.empty() ? "" : a.positional[0].str()) : x;
      const size_t test_at = by_attr ? 1 : 0;
      bool r;
      if (a.positional.size() > test_at) {
        CallArgs rest;
        rest.positional.assign(a.positional.begin() + static_cast<long>(test_at) + 1, a.positional.end());
        const std::string test = a.positional[test_at].str();
        r = test == "defined" ? !subject.is_undefined() : test == "undefined" ? subject.is_undefined() : apply_test(test, subject, rest, error);
      } else {
        r = subject.truthy();
      }
      if (r == keep) out.push_back(x);
    }
    return Value::array(std::move(out));
  }
  if (name == "indent") {
    const Value* w = a.get(0, "width");
    const Value* first = a.get(1, "first");
    const std::string pad(w ? static_cast<size_t>(w->i) : 4, ' ');
    const std::string s = v.str();
    std::string out = first && first->truthy() ? pad : "";
    for (size_t i = 0; i < s.size(); ++i) {
      out += s[i];
      if (s[i] == '\n' && i + 1 < s.size() && s[i + 1] != '\n') out += pad;
    }
    return Value::string(out);
  }
  if (name == "wordcount") return Value::integer(static_cast<int64_t>(split(v.str(), nullptr, -1).size()));
  error("unknown filter '" + name + "'");
  return Value();
}

bool apply_test(const std::string& name, const Value& v, const CallArgs& a, const ErrorFn& error) {
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.type == Value::Type::Int;
  if (name == "float") return v.type == Value::Type::Float;
  if (name == "boolean") return v.type == Value::Type::Bool;
  if (name == "true") return v.type == Value::Type::Bool && v.b;
  if (name == "false") return v.type == Value::Type::Bool && !v.b;
  if (name == "mapping") return v.is_object();
  if (name == "sequence") return v.is_array() || v.is_string();
  if (name == "iterable") return v.is_array() || v.is_string() || v.is_object();
  if (name == "callable") return v.type == Value::Type::Function;
  if (name == "odd" || name == "even") return v.type == Value::Type::Int && (v.i % 2 != 0) == (name == "odd");
  if (name == "divisibleby") {
    const Value* d = a.get(0, "num");
    return d && d->i != 0 && v.i % d->i == 0;
  }
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") {
    const Value* o = a.get(0, "other");
    return o && equal(v, *o);
  }
  if (name == "ne" || name == "!=") {
    const Value* o = a.get(0, "other");
    return !o || !equal(v, *o);
  }
  if (name == "in") {
    const Value* c = a.get(0, "seq");
    if (!c) return false;
    if (c->is_string()) return c->s.find(v.str()) != std::string::npos;
    for (const auto& x : as_list(*c)) if (equal(x, v)) return true;
    return false;
  }
  if (name == "lower") return v.is_string() && ascii_case(v.s, false) == v.s;
  if (name == "upper") return v.is_string() && ascii_case(v.s, true) == v.s;
  error("unknown test '" + name + "'");
  return false;
}

}  // namespace edgerun::jinja
