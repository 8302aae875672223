#include "model/source.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>

#include "common/error.h"
#include "formats/erm.h"
#include "formats/gguf.h"

namespace edgerun {

const TensorInfo* ModelSource::find_tensor(const std::string& name) const {
  // Built on first use, once the source has its tensors: a lookup per tensor
  // of a file with many layers must not be a scan of them all.
  std::call_once(index_once_, [&] {
    const auto& ts = tensors();
    index_.reserve(ts.size());
    for (size_t i = 0; i < ts.size(); ++i) index_.emplace(ts[i].name, i);  // the first of a repeated name wins
  });
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors()[it->second];
}

std::unique_ptr<Tokenizer> ModelSource::base_tokenizer() const {
  const Metadata& m = metadata();
  if (m.has(keys::kTokenizerJson))
    return Tokenizer::from_hf_text(m.where() + ": " + keys::kTokenizerJson, m.get_string(keys::kTokenizerJson),
                                   m.get_string(keys::kTokenizerConfig, ""));
  return Tokenizer::from_metadata(m);
}

std::unique_ptr<Tokenizer> ModelSource::make_tokenizer() const {
  auto tok = base_tokenizer();
  if (metadata().has(keys::kEogIds))
    for (int32_t id : metadata().get_int_array(keys::kEogIds)) tok->add_end_of_generation(id);
  return tok;
}

namespace {

class GgufSource : public ModelSource {
 public:
  explicit GgufSource(const std::string& path) : file_(GGUFFile::open(path)) {}
  const std::string& path() const override { return file_->path(); }
  std::string format() const override { return "GGUF v" + std::to_string(file_->version()); }
  size_t file_size() const override { return file_->file_size(); }
  const Metadata& metadata() const override { return *file_; }
  const std::vector<TensorInfo>& tensors() const override { return file_->tensors(); }
  void release(const TensorInfo& t) const override { file_->release(t.data, t.nbytes); }

 private:
  std::unique_ptr<GGUFFile> file_;
};

}  // namespace

std::unique_ptr<ModelSource> open_erm(const std::string& path);  // below

std::unique_ptr<ModelSource> open_model_source(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno), ErrorKind::IO);
  if (S_ISDIR(st.st_mode)) return open_hf_folder(path);
  // A FIFO or a device would block or never end: only regular files are read.
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file (a model is a .gguf or .erm file, or a folder)", ErrorKind::IO);
  char magic[8] = {};
  std::ifstream f(path, std::ios::binary);
  f.read(magic, sizeof magic);
  if (std::memcmp(magic, "EDGERUNM", 8) == 0) return open_erm(path);
  return std::make_unique<GgufSource>(path);  // its reader reports a wrong magic
}

}  // namespace edgerun

namespace edgerun {
namespace {

class ErmSource : public ModelSource {
 public:
  explicit ErmSource(const std::string& path) : file_(ErmFile::open(path)) {}
  const std::string& path() const override { return file_->path(); }
  std::string format() const override { return "edgerun .erm v" + std::to_string(file_->version()); }
  size_t file_size() const override { return file_->file_size(); }
  const Metadata& metadata() const override { return *file_; }
  const std::vector<TensorInfo>& tensors() const override { return file_->tensors(); }
  void release(const TensorInfo& t) const override { file_->release(t.data, t.nbytes); }

 private:
  std::unique_ptr<ErmFile> file_;
};

}  // namespace

std::unique_ptr<ModelSource> open_erm(const std::string& path) { return std::make_unique<ErmSource>(path); }

}  // namespace edgerun
