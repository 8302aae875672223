#include "formats/safetensors.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_input.h"

namespace edgerun {

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->map_ = std::make_unique<MappedFile>(path);
  const size_t size = f->map_->size();
  if (size < 8) fail(path, "file is truncated: no safetensors header");
  uint64_t header_len;
  std::memcpy(&header_len, f->map_->data(), 8);
  if (header_len > size - 8) fail(path, "file is truncated: the header says " + std::to_string(header_len) + " bytes, the file has " + std::to_string(size - 8));
  const char* h = reinterpret_cast<const char*>(f->map_->data() + 8);
  const nlohmann::json j = parse_json_input(path + " (safetensors header)", std::string_view(h, header_len));
  if (!j.is_object()) fail(path, "the safetensors header is not a JSON object (file damaged?)");
  const uint64_t data_start = 8 + header_len, data_size = size - data_start;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto& e = it.value();
    const std::string what = "tensor '" + it.key() + "'";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["dtype"].is_string() || !e["shape"].is_array() || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      fail(path, what + " has a malformed header entry");
    SafetensorsTensor t;
    t.info.name = it.key();
    t.dtype = e["dtype"].get<std::string>();
    uint64_t n = 1;
    if (e["shape"].size() > 8) fail(path, what + " has more than 8 dimensions");
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 40)) fail(path, what + " has an invalid shape");
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && n > (1ull << 50) / dim) fail(path, what + " has too many elements");
      t.info.shape.push_back(static_cast<int64_t>(dim));
      n *= dim;
    }
    size_t elem = 0;
    if (t.dtype == "F32") { t.info.type = DType::F32; elem = 4; t.supported = true; }
    else if (t.dtype == "F16") { t.info.type = DType::F16; elem = 2; t.supported = true; }
    else if (t.dtype == "BF16") { t.info.type = DType::BF16; elem = 2; t.supported = true; }
    else if (t.dtype == "F64" || t.dtype == "I64" || t.dtype == "U64") elem = 8;
    else if (t.dtype == "I32" || t.dtype == "U32") elem = 4;
    else if (t.dtype == "I16" || t.dtype == "U16") elem = 2;
    else if (t.dtype == "I8" || t.dtype == "U8" || t.dtype == "BOOL" || t.dtype.rfind("F8", 0) == 0) elem = 1;
    else fail(path, what + " has unknown dtype '" + t.dtype + "'");
    const auto& off = e["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) fail(path, what + " has invalid data_offsets");
    const uint64_t begin = off[0], end = off[1];
    if (begin > end || end > data_size)
      fail(path, what + " data [" + std::to_string(begin) + ", " + std::to_string(end) + ") lies past the end of the file (file truncated?)");
    if (end - begin != n * elem)
      fail(path, what + " holds " + std::to_string(end - begin) + " bytes but its shape and dtype need " + std::to_string(n * elem));
    t.info.offset = begin;
    t.info.nbytes = end - begin;
    t.info.data = f->map_->data() + data_start + begin;
    f->tensors_.push_back(std::move(t));
  }
  return f;
}

}  // namespace edgerun
