// GGUF's key/value encoding, shared by the GGUF reader and the .erm format
// (whose metadata block is the same entries, zstd-compressed).
#pragma once

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <string_view>

#include "common/error.h"
#include "formats/metadata.h"

namespace edgerun {

// A bounds-checked little-endian cursor over a byte range; errors name `path`.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, size_t size) : path_(path), data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  const std::string& path() const { return path_; }
  void need(uint64_t n, const std::string& what) const {
    if (n > size_ - pos_) {
      std::ostringstream os;
      os << "file is truncated: " << what << " at offset " << pos_ << " needs " << n
         << " bytes but the file has " << (size_ - pos_) << " left";
      fail(path_, os.str());
    }
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view read_string(const std::string& what) {
    const uint64_t len = read<uint64_t>(what + " (string length)");
    need(len, what);
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }
  const uint8_t* take(uint64_t n, const std::string& what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};


// Reads n_kv entries at the cursor into `out`; strings stay in the cursor's memory.
void read_kv_entries(Cursor& c, uint64_t n_kv, Metadata& out);
// Appends the encoding of every entry of `m`, in order.
void write_kv_entries(std::string& out, const Metadata& m);

}  // namespace edgerun
