// Where a model comes from: a GGUF file, an .erm file or a Hugging Face
// folder. Every source speaks GGUF's vocabulary — metadata keys and tensor
// names — so the loader and the converter need not know which one it is.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/metadata.h"
#include "formats/tensor_info.h"
#include "tokenizer/tokenizer.h"

namespace edgerun {

// Metadata keys edgerun adds to GGUF's.
namespace keys {
constexpr const char* kRopeStyle = "edgerun.rope.style";           // "neox" or "interleaved"
constexpr const char* kEogIds = "edgerun.eog_token_ids";           // end-of-generation ids beyond EOS/EOT
constexpr const char* kTokenizerJson = "edgerun.tokenizer.json";   // a Hugging Face tokenizer.json, verbatim
constexpr const char* kTokenizerConfig = "edgerun.tokenizer_config.json";
}  // namespace keys

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  virtual const std::string& path() const = 0;
  virtual std::string format() const = 0;     // e.g. "GGUF v3"
  virtual size_t file_size() const = 0;       // bytes on disk
  virtual const Metadata& metadata() const = 0;
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  const TensorInfo* find_tensor(const std::string& name) const;
  // The tokenizer the source carries, with its end-of-generation tokens.
  std::unique_ptr<Tokenizer> make_tokenizer() const;
  // Lets go of a tensor's pages once read (mapped data only): a converter's
  // input may be larger than memory.
  virtual void release(const TensorInfo&) const {}

 protected:
  // A Hugging Face folder's tokenizer is read from its files.
  virtual std::unique_ptr<Tokenizer> base_tokenizer() const;

 private:
  mutable std::once_flag index_once_;
  mutable std::unordered_map<std::string, size_t> index_;  // tensor name -> index in tensors()
};

// Opens a .gguf, an .erm, or a folder with config.json; throws Error.
std::unique_ptr<ModelSource> open_model_source(const std::string& path);
std::unique_ptr<ModelSource> open_hf_folder(const std::string& dir);

}  // namespace edgerun
