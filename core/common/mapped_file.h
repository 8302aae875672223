// A read-only memory map of a whole file: model weights are used in place,
// never copied, so resident memory stays near the file size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace edgerun {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool contains(const void* p) const { return p >= data_ && p < data_ + size_; }
  // Drops the pages of [p, p+n) from this process's resident memory (they are
  // read again from the file if touched). Ranges outside the map are ignored.
  void release(const void* p, size_t n) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace edgerun
