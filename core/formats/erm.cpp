#include "formats/erm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/error.h"
#include "formats/kv_codec.h"

namespace edgerun {

namespace {
constexpr char kMagic[8] = {'E', 'D', 'G', 'E', 'R', 'U', 'N', 'M'};
constexpr uint64_t kMaxMetadata = 1ull << 30;
constexpr uint64_t kMaxMetadataRatio = 64;

uint64_t align_up(uint64_t x) { return (x + kErmAlign - 1) / kErmAlign * kErmAlign; }

uint64_t header_hash(ErmHeader h, const uint8_t* meta, const uint8_t* dir) {
  h.header_hash = 0;
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, &h, sizeof h);
  XXH3_64bits_update(st, meta, h.meta_size);
  XXH3_64bits_update(st, dir, h.dir_size);
  const uint64_t r = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return r;
}
}  // namespace

uint64_t erm_checksum(const void* data, size_t n) { return XXH3_64bits(data, n); }

// ---- reading ------------------------------------------------------------------------

std::unique_ptr<ErmFile> ErmFile::open(const std::string& path) {
  std::unique_ptr<ErmFile> f(new ErmFile(std::make_unique<MappedFile>(path)));
  f->parse();
  return f;
}

void ErmFile::parse() {
  const std::string& p = map_->path();
  const size_t size = map_->size();
  if (size < sizeof(ErmHeader)) fail(p, "file is truncated: no complete .erm header");
  ErmHeader h;
  std::memcpy(&h, map_->data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, 8) != 0) fail(p, "not an .erm file (wrong magic)");
  version_ = h.version;
  if (h.version > kErmVersion)
    fail(p, "written in .erm format version " + std::to_string(h.version) + " by a newer edgerun; this build reads version " +
                std::to_string(kErmVersion) + " (update edgerun, or convert the model again)");
  if (h.version == 0) fail(p, "header has format version 0 (header corrupt)");
  if (h.file_size != size)
    fail(p, "file is " + std::to_string(size) + " bytes but its header says " + std::to_string(h.file_size) + " (truncated or damaged)");
  auto in_file = [&](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };
  if (!in_file(h.meta_offset, h.meta_size) || !in_file(h.dir_offset, h.dir_size) || h.data_offset > size ||
      h.data_offset % kErmAlign != 0 || h.meta_raw_size > kMaxMetadata)
    fail(p, "header offsets lie outside the file (header corrupt)");
  const uint8_t* meta = map_->data() + h.meta_offset;
  const uint8_t* dir = map_->data() + h.dir_offset;
  if (header_hash(h, meta, dir) != h.header_hash) fail(p, "header checksum mismatch: the header, metadata or tensor directory is damaged");

  // The declared size is what gets allocated: it must agree with the frame's
  // own and be one zstd could reach from a frame this size (metadata
  // compresses a few times, never by orders of magnitude beyond the bound).
  const unsigned long long frame_size = ZSTD_getFrameContentSize(meta, h.meta_size);
  if (frame_size != h.meta_raw_size || h.meta_raw_size > kMaxMetadataRatio * h.meta_size + (1u << 20))
    fail(p, "the metadata claims " + std::to_string(h.meta_raw_size) + " bytes, more than its " + std::to_string(h.meta_size) +
                "-byte compressed frame can hold (header corrupt)");
  meta_bytes_.resize(h.meta_raw_size);
  const size_t got = ZSTD_decompress(meta_bytes_.data(), meta_bytes_.size(), meta, h.meta_size);
  if (ZSTD_isError(got) || got != h.meta_raw_size) fail(p, std::string("cannot decompress the metadata: ") + (ZSTD_isError(got) ? ZSTD_getErrorName(got) : "size mismatch"));
  Cursor mc(p, reinterpret_cast<const uint8_t*>(meta_bytes_.data()), meta_bytes_.size());
  read_kv_entries(mc, mc.read<uint64_t>("metadata count"), *this);

  Cursor dc(p, dir, h.dir_size);
  const uint64_t n = dc.read<uint64_t>("tensor count");
  if (n > h.dir_size / 8) fail(p, "tensor directory count is implausible (directory corrupt)");
  for (uint64_t i = 0; i < n; ++i) {
    TensorInfo t;
    t.name = std::string(dc.read_string("tensor name"));
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t type = dc.read<uint32_t>(what);
    if (!dtype_traits(type).known) fail(p, what + " " + unsupported_type_reason(type));
    t.type = static_cast<DType>(type);
    t.layout = static_cast<int>(dc.read<uint32_t>(what));
    if (t.layout != kLayoutRows && t.layout != kLayoutX16)
      fail(p, what + " uses weight layout " + std::to_string(t.layout) + ", unknown to this build");
    const uint32_t dims = dc.read<uint32_t>(what);
    if (dims == 0 || dims > 4) fail(p, what + " has " + std::to_string(dims) + " dimensions");
    uint64_t elems = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      const uint64_t v = dc.read<uint64_t>(what);
      if (v == 0 || v > (1ull << 40)) fail(p, what + " has an invalid dimension");
      if (elems > (1ull << 50) / v) fail(p, what + " has too many elements (its dimensions' product overflows)");
      t.shape.push_back(static_cast<int64_t>(v));
      elems *= v;
    }
    t.offset = dc.read<uint64_t>(what);
    t.nbytes = dc.read<uint64_t>(what);
    checksums_.push_back(dc.read<uint64_t>(what));
    if (t.layout == kLayoutX16 && (dims != 2 || !x16_stored(t.type, t.shape[1], t.shape[0])))
      fail(p, what + " has layout 1 (16-row groups), which type " + dtype_name(t.type) + " and shape " +
                  std::to_string(t.shape[0]) + "x" + std::to_string(dims > 1 ? t.shape[1] : 1) + " cannot take");
    if (t.shape[0] % dtype_traits(t.type).block_size != 0 || t.nbytes != tensor_bytes(t))
      fail(p, what + " size does not match its type and shape");
    if (t.offset % kErmAlign != 0 || !in_file(h.data_offset + t.offset, t.nbytes) || h.data_offset + t.offset < h.data_offset)
      fail(p, what + " data lies outside the file");
    t.data = map_->data() + h.data_offset + t.offset;
    tensors_.push_back(std::move(t));
  }
}

std::vector<std::string> ErmFile::verify(const std::function<void(size_t, size_t)>& progress) const {
  std::vector<std::string> bad;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (erm_checksum(tensors_[i].data, tensors_[i].nbytes) != checksums_[i]) bad.push_back(tensors_[i].name);
    if (progress) progress(i + 1, tensors_.size());
  }
  return bad;
}

// ---- writing ------------------------------------------------------------------------

ErmWriter::ErmWriter(const std::string& path, const Metadata& meta, std::vector<TensorInfo> plan, bool overwrite)
    : path_(path), plan_(std::move(plan)) {
  struct stat st {};
  if (!overwrite && ::stat(path.c_str(), &st) == 0) fail(path, "exists already (the converter's overwrite option replaces it)");
  std::string raw;
  const uint64_t count = meta.keys().size();
  raw.append(reinterpret_cast<const char*>(&count), 8);
  write_kv_entries(raw, meta);
  meta_frame_.resize(ZSTD_compressBound(raw.size()));
  const size_t z = ZSTD_compress(meta_frame_.data(), meta_frame_.size(), raw.data(), raw.size(), 19);
  if (ZSTD_isError(z)) fail(path, std::string("cannot compress metadata: ") + ZSTD_getErrorName(z));
  meta_frame_.resize(z);

  std::memcpy(header_.magic, kMagic, 8);
  header_.version = kErmVersion;
  header_.meta_offset = sizeof(ErmHeader);
  header_.meta_size = meta_frame_.size();
  header_.meta_raw_size = raw.size();
  uint64_t off = 0;
  for (auto& t : plan_) {
    t.offset = off;
    t.nbytes = tensor_bytes(t);
    off = align_up(off + t.nbytes);
  }
  checksums_.assign(plan_.size(), 0);
  header_.dir_offset = header_.meta_offset + header_.meta_size;
  header_.dir_size = directory().size();
  header_.data_offset = align_up(header_.dir_offset + header_.dir_size);
  header_.file_size = header_.data_offset + off;

  tmp_ = path + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path, std::string("cannot write: ") + std::strerror(errno));
  if (::ftruncate(fd_, static_cast<off_t>(header_.file_size)) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
    fail(path, std::string("cannot reserve space: ") + std::strerror(err));
  }
}

ErmWriter::~ErmWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

static void pwrite_all(int fd, const void* data, size_t n, uint64_t off, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, std::string("write failed: ") + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
}

void ErmWriter::write_tensor(size_t index, const void* data, size_t nbytes) {
  if (index != next_ || index >= plan_.size()) fail(path_, "internal: tensors written out of order");
  if (nbytes != plan_[index].nbytes) fail(path_, "internal: tensor '" + plan_[index].name + "' has the wrong size");
  pwrite_all(fd_, data, nbytes, header_.data_offset + plan_[index].offset, path_);
  checksums_[index] = erm_checksum(data, nbytes);
  ++next_;
}

std::string ErmWriter::directory() const {
  std::string d;
  auto put = [&](const void* p, size_t n) { d.append(static_cast<const char*>(p), n); };
  const uint64_t n = plan_.size();
  put(&n, 8);
  for (size_t i = 0; i < plan_.size(); ++i) {
    const TensorInfo& t = plan_[i];
    const uint64_t len = t.name.size();
    put(&len, 8);
    put(t.name.data(), len);
    const uint32_t type = static_cast<uint32_t>(t.type), layout = static_cast<uint32_t>(t.layout),
                   dims = static_cast<uint32_t>(t.shape.size());
    put(&type, 4);
    put(&layout, 4);
    put(&dims, 4);
    for (int64_t s : t.shape) {
      const uint64_t v = static_cast<uint64_t>(s);
      put(&v, 8);
    }
    put(&t.offset, 8);
    const uint64_t nb = t.nbytes;
    put(&nb, 8);
    put(&checksums_[i], 8);
  }
  return d;
}

void ErmWriter::finish() {
  if (next_ != plan_.size()) fail(path_, "internal: not every tensor was written");
  const std::string dir = directory();
  header_.header_hash = header_hash(header_, reinterpret_cast<const uint8_t*>(meta_frame_.data()),
                                    reinterpret_cast<const uint8_t*>(dir.data()));
  pwrite_all(fd_, &header_, sizeof header_, 0, path_);
  pwrite_all(fd_, meta_frame_.data(), meta_frame_.size(), header_.meta_offset, path_);
  pwrite_all(fd_, dir.data(), dir.size(), header_.dir_offset, path_);
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    fd_ = -1;
    fail(path_, std::string("cannot flush the file: ") + std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail(path_, std::string("cannot rename into place: ") + std::strerror(errno));
  finished_ = true;
}

}  // namespace edgerun
