#include "formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

#include "common/error.h"
#include "formats/kv_codec.h"

namespace edgerun {
namespace {

constexpr int kMaxDims = 4;

}  // namespace

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
  if (n_tensors > map_->size() / 32 || n_kv > map_->size() / 8)
    fail(p, "header says " + std::to_string(n_tensors) + " tensors and " + std::to_string(n_kv) +
                " metadata entries, more than " + std::to_string(map_->size()) +
                " bytes can hold (file truncated or header corrupt)");

  read_kv_entries(c, n_kv, *this);

  if (const GGUFValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > 65536)
      fail(p, "metadata 'general.alignment' must be a power of two");
    alignment_ = a->u;
  }

  // Reserved up to a bound only: the count is the file's claim, the entries
  // are what it holds (each takes 32 bytes at least).
  tensors_.reserve(std::min<uint64_t>(n_tensors, 1u << 16));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    TensorInfo ti;
    ti.name = std::string(c.read_string("tensor info #" + std::to_string(t)));
    const std::string what = "tensor '" + ti.name + "'";
    const uint32_t n_dims = c.read<uint32_t>(what + " (dimension count)");
    if (n_dims == 0 || n_dims > kMaxDims) fail(p, what + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>(what + " (shape)");
      if (dim == 0 || dim > (1ull << 40)) fail(p, what + " has an invalid dimension " + std::to_string(dim));
      // 2^50 elements: beyond any model, and far from overflowing the byte count.
      if (static_cast<uint64_t>(n) > (1ull << 50) / dim) fail(p, what + " has too many elements");
      n *= static_cast<int64_t>(dim);
      ti.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t raw_type = c.read<uint32_t>(what + " (type)");
    const DTypeTraits& tr = dtype_traits(raw_type);
    if (!tr.known) fail(p, what + " " + unsupported_type_reason(raw_type));
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

const TensorInfo* GGUFFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace edgerun
