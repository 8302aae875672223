#include "formats/metadata.h"

#include <cstring>
#include <sstream>

#include "common/error.h"

namespace edgerun {

const char* gguf_type_name(GGUFType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "?";
}

size_t gguf_scalar_size(GGUFType t) {
  switch (t) {
    case GGUFType::U8: case GGUFType::I8: case GGUFType::BOOL: return 1;
    case GGUFType::U16: case GGUFType::I16: return 2;
    case GGUFType::U32: case GGUFType::I32: case GGUFType::F32: return 4;
    case GGUFType::U64: case GGUFType::I64: case GGUFType::F64: return 8;
    default: return 0;
  }
}

bool GGUFValue::is_integer() const {
  switch (type) {
    case GGUFType::U8: case GGUFType::I8: case GGUFType::U16: case GGUFType::I16:
    case GGUFType::U32: case GGUFType::I32: case GGUFType::U64: case GGUFType::I64: case GGUFType::BOOL:
      return true;
    default:
      return false;
  }
}

const GGUFValue* Metadata::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GGUFValue& Metadata::require(const std::string& key) const {
  const GGUFValue* v = find(key);
  if (!v) fail(where_, "missing metadata key '" + key + "'");
  return *v;
}

uint64_t Metadata::get_uint(const std::string& key) const {
  const GGUFValue& v = require(key);
  if (!v.is_integer()) fail(where_, "metadata '" + key + "' should be an integer, is " + gguf_type_name(v.type));
  if (v.i < 0 && v.type != GGUFType::U64) fail(where_, "metadata '" + key + "' is negative");
  return v.u;
}
uint64_t Metadata::get_uint(const std::string& key, uint64_t fallback) const { return has(key) ? get_uint(key) : fallback; }
double Metadata::get_float(const std::string& key) const {
  const GGUFValue& v = require(key);
  if (v.is_float()) return v.f;
  if (v.is_integer()) return static_cast<double>(v.i);
  fail(where_, "metadata '" + key + "' should be a number, is " + gguf_type_name(v.type));
}
double Metadata::get_float(const std::string& key, double fallback) const { return has(key) ? get_float(key) : fallback; }
bool Metadata::get_bool(const std::string& key, bool fallback) const {
  const GGUFValue* v = find(key);
  if (!v) return fallback;
  if (!v->is_integer()) fail(where_, "metadata '" + key + "' should be a bool, is " + gguf_type_name(v->type));
  return v->i != 0;
}
std::string Metadata::get_string(const std::string& key) const {
  const GGUFValue& v = require(key);
  if (v.type != GGUFType::STRING) fail(where_, "metadata '" + key + "' should be a string, is " + gguf_type_name(v.type));
  return std::string(v.str);
}
std::string Metadata::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}
const std::vector<std::string_view>& Metadata::get_string_array(const std::string& key) const {
  const GGUFValue& v = require(key);
  if (v.type != GGUFType::ARRAY || v.elem_type != GGUFType::STRING) fail(where_, "metadata '" + key + "' should be an array of strings");
  return v.strings;
}

std::vector<float> Metadata::get_float_array(const std::string& key) const {
  const GGUFValue& v = require(key);
  if (v.type != GGUFType::ARRAY || (v.elem_type != GGUFType::F32 && v.elem_type != GGUFType::F64))
    fail(where_, "metadata '" + key + "' should be an array of floats");
  std::vector<float> out(v.count);
  for (uint64_t i = 0; i < v.count; ++i) {
    if (v.elem_type == GGUFType::F32) {
      std::memcpy(&out[i], v.raw + 4 * i, 4);
    } else {
      double d;
      std::memcpy(&d, v.raw + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
  }
  return out;
}

std::vector<int32_t> Metadata::get_int_array(const std::string& key) const {
  const GGUFValue& v = require(key);
  GGUFValue probe;
  probe.type = v.elem_type;
  if (v.type != GGUFType::ARRAY || !probe.is_integer()) fail(where_, "metadata '" + key + "' should be an array of integers");
  std::vector<int32_t> out(v.count);
  const size_t es = gguf_scalar_size(v.elem_type);
  const bool is_signed = v.elem_type == GGUFType::I8 || v.elem_type == GGUFType::I16 || v.elem_type == GGUFType::I32 || v.elem_type == GGUFType::I64;
  for (uint64_t i = 0; i < v.count; ++i) {
    uint64_t u = 0;
    std::memcpy(&u, v.raw + es * i, es);  // little-endian
    int64_t x = static_cast<int64_t>(u);
    if (is_signed && es < 8 && (u >> (8 * es - 1)) & 1) x = static_cast<int64_t>(u | (~0ull << (8 * es)));
    out[i] = static_cast<int32_t>(x);
  }
  return out;
}

void Metadata::set(const std::string& key, GGUFValue v) {
  auto it = kv_.find(key);
  if (it == kv_.end()) {
    key_order_.push_back(key);
    kv_.emplace(key, std::move(v));
  } else {
    it->second = std::move(v);
  }
}

void Metadata::set_uint(const std::string& key, uint64_t x) {
  GGUFValue v;
  v.type = GGUFType::U64;
  v.u = x;
  v.i = static_cast<int64_t>(x);
  set(key, std::move(v));
}
void Metadata::set_float(const std::string& key, double x) {
  GGUFValue v;
  v.type = GGUFType::F64;
  v.f = x;
  set(key, std::move(v));
}
void Metadata::set_bool(const std::string& key, bool x) {
  GGUFValue v;
  v.type = GGUFType::BOOL;
  v.i = x;
  v.u = x;
  set(key, std::move(v));
}
void Metadata::set_string(const std::string& key, std::string x) {
  owned_strings_.push_back(std::move(x));
  GGUFValue v;
  v.type = GGUFType::STRING;
  v.str = owned_strings_.back();
  set(key, std::move(v));
}
void Metadata::set_string_array(const std::string& key, std::vector<std::string> xs) {
  GGUFValue v;
  v.type = GGUFType::ARRAY;
  v.elem_type = GGUFType::STRING;
  v.count = xs.size();
  for (auto& s : xs) {
    owned_strings_.push_back(std::move(s));
    v.strings.push_back(owned_strings_.back());
  }
  set(key, std::move(v));
}
void Metadata::set_int_array(const std::string& key, const std::vector<int32_t>& xs) {
  owned_arrays_.emplace_back(xs.size() * 4);
  std::memcpy(owned_arrays_.back().data(), xs.data(), xs.size() * 4);
  GGUFValue v;
  v.type = GGUFType::ARRAY;
  v.elem_type = GGUFType::I32;
  v.count = xs.size();
  v.raw = owned_arrays_.back().data();
  set(key, std::move(v));
}
void Metadata::set_float_array(const std::string& key, const std::vector<float>& xs) {
  owned_arrays_.emplace_back(xs.size() * 4);
  std::memcpy(owned_arrays_.back().data(), xs.data(), xs.size() * 4);
  GGUFValue v;
  v.type = GGUFType::ARRAY;
  v.elem_type = GGUFType::F32;
  v.count = xs.size();
  v.raw = owned_arrays_.back().data();
  set(key, std::move(v));
}

std::string Metadata::describe(const GGUFValue& v) const {
  std::ostringstream os;
  switch (v.type) {
    case GGUFType::STRING: {
      std::string s(v.str.substr(0, 60));
      for (char& ch : s)
        if (ch == '\n') ch = ' ';
      os << '"' << s << (v.str.size() > 60 ? "...\"" : "\"");
      break;
    }
    case GGUFType::ARRAY: os << "[" << gguf_type_name(v.elem_type) << " x " << v.count << "]"; break;
    case GGUFType::F32: case GGUFType::F64: os << v.f; break;
    case GGUFType::BOOL: os << (v.i ? "true" : "false"); break;
    case GGUFType::U64: os << v.u; break;
    default: os << v.i; break;
  }
  return os.str();
}

}  // namespace edgerun
