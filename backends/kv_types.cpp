#include <string>

#include "backend.h"
#include "quant.h"

namespace edgerun {

const char* kv_type_name(KVType t) {
  switch (t) {
    case KVType::F32: return "f32";
    case KVType::F16: return "f16";
    case KVType::Q8_0: return "q8_0";
    case KVType::Q4_0: return "q4_0";
  }
  return "?";
}

bool parse_kv_type(const std::string& s, KVType* out) {
  for (KVType t : {KVType::F32, KVType::F16, KVType::Q8_0, KVType::Q4_0})
    if (s == kv_type_name(t)) {
      *out = t;
      return true;
    }
  return false;
}

size_t kv_row_bytes(KVType t, int64_t width) {
  switch (t) {
    case KVType::F32: return static_cast<size_t>(width) * 4;
    case KVType::F16: return static_cast<size_t>(width) * 2;
    case KVType::Q8_0: return dtype_row_bytes(DType::Q8_0, width);
    case KVType::Q4_0: return dtype_row_bytes(DType::Q4_0, width);
  }
  return 0;
}

}  // namespace edgerun
