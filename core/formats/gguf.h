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
#include "formats/metadata.h"
#include "formats/tensor_info.h"
#include "types.h"

namespace edgerun {

class GGUFFile : public Metadata {
 public:
  // Opens and validates; throws Error("<path>: ...") on any problem.
  static std::unique_ptr<GGUFFile> open(const std::string& path);

  const std::string& path() const { return map_->path(); }
  uint32_t version() const { return version_; }
  size_t file_size() const { return map_->size(); }
  size_t alignment() const { return alignment_; }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  void release(const void* p, size_t n) const { map_->release(p, n); }
  const TensorInfo* find_tensor(const std::string& name) const;

 private:
  explicit GGUFFile(std::unique_ptr<MappedFile> map) : Metadata(map->path()), map_(std::move(map)) {}
  void parse();

  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace edgerun
