// safetensors reader: an 8-byte header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the data. Memory-mapped; every
// range is checked against the file before use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "formats/tensor_info.h"

namespace edgerun {

struct SafetensorsTensor {
  TensorInfo info;    // shape in safetensors (row-major, outermost first) order
  std::string dtype;  // as written in the file ("F32", "BF16", ...)
  bool supported = false;  // F32, F16 or BF16
};

class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);  // throws Error naming the file
  const std::string& path() const { return map_->path(); }
  size_t file_size() const { return map_->size(); }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  void release(const void* p, size_t n) const { map_->release(p, n); }

 private:
  std::unique_ptr<MappedFile> map_;
  std::vector<SafetensorsTensor> tensors_;
};

}  // namespace edgerun
