// The .erm model format (docs/FORMAT.md): a checksummed header, zstd-
// compressed metadata in GGUF's key/value encoding, a tensor directory with a
// checksum per tensor, and tensor data aligned for mmap in the layout the
// kernels read. Loading maps the file and copies nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "formats/metadata.h"
#include "formats/tensor_info.h"

namespace edgerun {

constexpr uint32_t kErmVersion = 1;
constexpr size_t kErmAlign = 64;

#pragma pack(push, 1)
struct ErmHeader {
  char magic[8];             // "EDGERUNM"
  uint32_t version;          // kErmVersion
  uint32_t flags;            // 0
  uint64_t meta_offset;      // zstd frame of the metadata entries
  uint64_t meta_size;
  uint64_t meta_raw_size;
  uint64_t dir_offset;       // the tensor directory
  uint64_t dir_size;
  uint64_t data_offset;      // first tensor; a multiple of kErmAlign
  uint64_t file_size;
  uint64_t header_hash;      // XXH3-64 of this header (with this field 0), the metadata frame and the directory
};
#pragma pack(pop)
static_assert(sizeof(ErmHeader) == 80, "ErmHeader layout");

class ErmFile : public Metadata {
 public:
  // Opens and checks the header checksum; throws Error naming the file.
  static std::unique_ptr<ErmFile> open(const std::string& path);
  const std::string& path() const { return map_->path(); }
  size_t file_size() const { return map_->size(); }
  uint32_t version() const { return version_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  void release(const void* p, size_t n) const { map_->release(p, n); }
  uint64_t stored_checksum(size_t i) const { return checksums_[i]; }
  // Recomputes every tensor's checksum; returns the names of those that differ.
  std::vector<std::string> verify(const std::function<void(size_t done, size_t total)>& progress = {}) const;

 private:
  explicit ErmFile(std::unique_ptr<MappedFile> map) : Metadata(map->path()), map_(std::move(map)) {}
  void parse();

  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  std::string meta_bytes_;  // decompressed metadata: the entries' strings point into it
  std::vector<TensorInfo> tensors_;
  std::vector<uint64_t> checksums_;
};

// Writes an .erm through a temporary file beside the target, renamed into
// place by finish(); a writer destroyed before finish() leaves nothing behind.
class ErmWriter {
 public:
  // `plan` gives every tensor's name, type, shape and layout, in file order.
  ErmWriter(const std::string& path, const Metadata& meta, std::vector<TensorInfo> plan, bool overwrite);
  ~ErmWriter();
  // Data of plan[index], written in plan order; nbytes must match the plan.
  void write_tensor(size_t index, const void* data, size_t nbytes);
  void finish();
  uint64_t bytes_planned() const { return header_.file_size; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  ErmHeader header_{};
  std::string meta_frame_;
  std::vector<TensorInfo> plan_;
  std::vector<uint64_t> checksums_;
  size_t next_ = 0;
  bool finished_ = false;

  std::string directory() const;
};

uint64_t erm_checksum(const void* data, size_t n);

}  // namespace edgerun
