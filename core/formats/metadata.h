// Model metadata as typed key/value pairs with GGUF's key names and value
// types ("general.architecture", "llama.block_count", ...). GGUF files fill it
// straight from their header; other sources (Hugging Face folders, .erm files)
// translate into it, so the model loader reads one vocabulary of keys.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace edgerun {

enum class GGUFType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GGUFType t);
size_t gguf_scalar_size(GGUFType t);

struct GGUFValue {
  GGUFType type = GGUFType::U8;
  // Scalars (integers and bools in `i`/`u`, floats in `f`).
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string_view str;  // STRING: points into the mapped file or the Metadata's own storage
  // ARRAY
  GGUFType elem_type = GGUFType::U8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;               // numeric array elements
  std::vector<std::string_view> strings;      // string array elements

  bool is_integer() const;
  bool is_float() const { return type == GGUFType::F32 || type == GGUFType::F64; }
};

class Metadata {
 public:
  explicit Metadata(std::string where = "") : where_(std::move(where)) {}
  Metadata(const Metadata&) = delete;
  Metadata& operator=(const Metadata&) = delete;
  virtual ~Metadata() = default;

  // Names the source in error messages (a file path).
  const std::string& where() const { return where_; }
  const std::vector<std::string>& keys() const { return key_order_; }
  const GGUFValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters: throw Error naming the source and key when missing or mistyped.
  uint64_t get_uint(const std::string& key) const;
  uint64_t get_uint(const std::string& key, uint64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  const std::vector<std::string_view>& get_string_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  std::vector<int32_t> get_int_array(const std::string& key) const;

  // Setters keep their own copy of the data. A key set twice is replaced.
  void set(const std::string& key, GGUFValue v);
  void set_uint(const std::string& key, uint64_t v);
  void set_float(const std::string& key, double v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, std::string v);
  void set_string_array(const std::string& key, std::vector<std::string> v);
  void set_int_array(const std::string& key, const std::vector<int32_t>& v);
  void set_float_array(const std::string& key, const std::vector<float>& v);

  // Human-readable rendering of a value (arrays abbreviated), for `info`.
  std::string describe(const GGUFValue& v) const;

 protected:
  void set_where(std::string w) { where_ = std::move(w); }

 private:
  const GGUFValue& require(const std::string& key) const;

  std::string where_;
  std::map<std::string, GGUFValue> kv_;
  std::vector<std::string> key_order_;
  std::deque<std::string> owned_strings_;
  std::deque<std::vector<uint8_t>> owned_arrays_;
};

}  // namespace edgerun
