// GGUF reader (versions 2 and 3). The file is memory-mapped; metadata is
// parsed up front and every offset and size is checked against the file
// before anything is touched, so a damaged file gives an error, not a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mapped_file.h"
#include "types.h"

namespace edgerun {

enum class GGUFType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GGUFType t);

struct GGUFValue {
  GGUFType type = GGUFType::U8;
  // Scalars (integers and bools in `i`/`u`, floats in `f`).
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string_view str;  // STRING: points into the mapped file
  // ARRAY
  GGUFType elem_type = GGUFType::U8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;               // numeric array elements, in the map
  std::vector<std::string_view> strings;      // string array elements, in the map

  bool is_integer() const;
  bool is_float() const { return type == GGUFType::F32 || type == GGUFType::F64; }
};

struct GGUFTensor {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the contiguous (row) dimension
  uint64_t offset = 0;         // relative to the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;
  int64_t n_elements() const;
};

class GGUFFile {
 public:
  // Opens and validates; throws Error("<path>: ...") on any problem.
  static std::unique_ptr<GGUFFile> open(const std::string& path);

  const std::string& path() const { return map_->path(); }
  uint32_t version() const { return version_; }
  size_t file_size() const { return map_->size(); }
  size_t alignment() const { return alignment_; }

  const std::vector<std::string>& keys() const { return key_order_; }
  const GGUFValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters: throw Error naming file and key when missing or mistyped.
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

  const std::vector<GGUFTensor>& tensors() const { return tensors_; }
  const GGUFTensor* find_tensor(const std::string& name) const;

  // Human-readable rendering of a value (arrays abbreviated), for `info`.
  std::string describe(const GGUFValue& v) const;

 private:
  explicit GGUFFile(std::unique_ptr<MappedFile> map) : map_(std::move(map)) {}
  void parse();
  const GGUFValue& require(const std::string& key) const;

  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::map<std::string, GGUFValue> kv_;
  std::vector<std::string> key_order_;
  std::vector<GGUFTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace edgerun
