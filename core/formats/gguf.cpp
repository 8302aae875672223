#include "formats/gguf.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "common/error.h"

namespace edgerun {
namespace {

constexpr uint64_t kMaxArrayCount = 1ull << 32;
constexpr int kMaxDims = 4;

// A bounds-checked little-endian cursor over the mapped file.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, size_t size) : path_(path), data_(data), size_(size) {}

  size_t pos() const { return pos_; }
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

bool valid_type(uint32_t t) { return t <= 12; }

void read_scalar(Cursor& c, GGUFType t, GGUFValue& v, const std::string& what) {
  switch (t) {
    case GGUFType::U8: v.u = c.read<uint8_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I8: v.i = c.read<int8_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::U16: v.u = c.read<uint16_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I16: v.i = c.read<int16_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::U32: v.u = c.read<uint32_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I32: v.i = c.read<int32_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::U64: v.u = c.read<uint64_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I64: v.i = c.read<int64_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::F32: v.f = c.read<float>(what); break;
    case GGUFType::F64: v.f = c.read<double>(what); break;
    case GGUFType::BOOL: v.i = c.read<uint8_t>(what) != 0; v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::STRING: v.str = c.read_string(what); break;
    default: break;
  }
}

}  // namespace

int64_t GGUFTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::unique_ptr<GGUFFile> GGUFFile::open(const std::string& path) {
  std::unique_ptr<GGUFFile> f(new GGUFFile(std::make_unique<MappedFile>(path)));
  f->parse();
  return f;
}

void GGUFFile::parse() {
  const std::string& p = map_->path();
  Cursor c(p, map_->data(), map_->size());
  if (map_->size() < 4 || std::memcmp(map_->data(), "GGUF", 4) != 0)
    fail(p, "not a GGUF file (wrong magic; expected 'GGUF')");
  c.take(4, "magic");
  version_ = c.read<uint32_t>("header version");
  if (version_ != 2 && version_ != 3) {
    std::ostringstream os;
    os << "unsupported GGUF version " << version_ << " (this build reads versions 2 and 3)";
    fail(p, os.str());
  }
  const uint64_t n_tensors = c.read<uint64_t>("header tensor count");
  const uint64_t n_kv = c.read<uint64_t>("header metadata count");
  // Each entry needs at least a few bytes, so an absurd count means damage.
  if (n_tensors > map_->size() / 8 || n_kv > map_->size() / 8)
    fail(p, "header says " + std::to_string(n_tensors) + " tensors and " + std::to_string(n_kv) +
                " metadata entries, more than " + std::to_string(map_->size()) +
                " bytes can hold (file truncated or header corrupt)");

  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string key(c.read_string("metadata key #" + std::to_string(k)));
    const uint32_t raw_type = c.read<uint32_t>("type of metadata '" + key + "'");
    if (!valid_type(raw_type)) fail(p, "metadata '" + key + "' has unknown value type " + std::to_string(raw_type));
    GGUFValue v;
    v.type = static_cast<GGUFType>(raw_type);
    const std::string what = "metadata '" + key + "'";
    if (v.type == GGUFType::ARRAY) {
      const uint32_t et = c.read<uint32_t>(what + " (element type)");
      if (!valid_type(et) || et == static_cast<uint32_t>(GGUFType::ARRAY))
        fail(p, what + " has unsupported array element type " + std::to_string(et));
      v.elem_type = static_cast<GGUFType>(et);
      v.count = c.read<uint64_t>(what + " (element count)");
      if (v.count > kMaxArrayCount) fail(p, what + " has an implausible element count");
      if (v.elem_type == GGUFType::STRING) {
        v.strings.reserve(v.count);
        for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(c.read_string(what));
      } else {
        v.raw = c.take(v.count * gguf_scalar_size(v.elem_type), what);
      }
    } else {
      read_scalar(c, v.type, v, what);
    }
    if (has(key)) fail(p, "duplicate metadata key '" + key + "'");
    set(key, std::move(v));
  }

  if (const GGUFValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > 65536)
      fail(p, "metadata 'general.alignment' must be a power of two");
    alignment_ = a->u;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    GGUFTensor ti;
    ti.name = std::string(c.read_string("tensor info #" + std::to_string(t)));
    const std::string what = "tensor '" + ti.name + "'";
    const uint32_t n_dims = c.read<uint32_t>(what + " (dimension count)");
    if (n_dims == 0 || n_dims > kMaxDims) fail(p, what + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>(what + " (shape)");
      if (dim == 0 || dim > (1ull << 40)) fail(p, what + " has an invalid dimension " + std::to_string(dim));
      if (static_cast<uint64_t>(n) > (std::numeric_limits<uint64_t>::max() >> 2) / dim)
        fail(p, what + " has too many elements");
      n *= static_cast<int64_t>(dim);
      ti.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t raw_type = c.read<uint32_t>(what + " (type)");
    const DTypeTraits& tr = dtype_traits(raw_type);
    if (!tr.known) fail(p, what + " has unknown tensor type id " + std::to_string(raw_type));
    ti.type = static_cast<DType>(raw_type);
    if (ti.shape[0] % tr.block_size != 0)
      fail(p, what + " row length " + std::to_string(ti.shape[0]) + " is not a multiple of the " + tr.name +
                  " block size " + std::to_string(tr.block_size));
    ti.nbytes = static_cast<size_t>(n / tr.block_size) * tr.block_bytes;
    ti.offset = c.read<uint64_t>(what + " (offset)");
    if (ti.offset % alignment_ != 0) fail(p, what + " data offset is not aligned to " + std::to_string(alignment_));
    if (tensor_index_.count(ti.name)) fail(p, "duplicate tensor name '" + ti.name + "'");
    tensor_index_[ti.name] = tensors_.size();
    tensors_.push_back(std::move(ti));
  }

  const size_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  for (auto& ti : tensors_) {
    const uint64_t begin = data_start + ti.offset;
    if (ti.offset > map_->size() || begin > map_->size() || ti.nbytes > map_->size() - begin) {
      std::ostringstream os;
      os << "tensor '" << ti.name << "' data [" << begin << ", " << begin + ti.nbytes
         << ") lies past the end of the file (" << map_->size() << " bytes)";
      fail(p, os.str());
    }
    ti.data = map_->data() + begin;
  }
}

const GGUFTensor* GGUFFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace edgerun
