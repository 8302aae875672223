// A loaded model: hyper-parameters, the tokenizer, and its weights resident
// on a backend. Immutable after loading, so sessions can share it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "model/arch.h"
#include "tokenizer/tokenizer.h"

namespace edgerun {

class ModelSource;

// Weight slots in the order of tensor_slots().
enum class W {
  TokEmbd, OutputNorm, Output, RopeFreqs,
  AttnNorm, Wq, Wk, Wv, Bq, Bk, Bv, QNorm, KNorm, Wo,
  FfnNorm, Gate, Up, Down,
  Count
};

struct LoadOptions {
  std::string backend = "auto";
};

class Model {
 public:
  // A .gguf or .erm file, or a Hugging Face folder.
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& opts);
  ~Model();

  const std::string& path() const { return path_; }
  const HParams& hparams() const { return hp_; }
  const ArchSpec& arch() const { return *arch_; }
  const RopeParams& rope() const { return rope_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  Backend& backend() const { return *backend_; }

  // A weight, or nullptr for an absent optional one. layer -1 for globals.
  const Weight* weight(W slot, int layer = -1) const;
  // The output head (the token embedding when the two are tied).
  const Weight& output_head() const;

  size_t weight_bytes() const { return weight_bytes_; }
  // Tensor types and counts, e.g. {"f32": 12, "q4_k": 150}.
  std::vector<std::pair<std::string, int>> type_counts() const;
  const ModelSource& source() const { return *source_; }

 private:
  Model() = default;
  void read_hparams();
  void bind_weights();

  std::string path_;
  std::unique_ptr<ModelSource> source_;
  const ArchSpec* arch_ = nullptr;
  HParams hp_;
  RopeParams rope_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Backend> backend_;
  std::vector<std::unique_ptr<Weight>> globals_;              // indexed by W
  std::vector<std::vector<std::unique_ptr<Weight>>> layers_;  // [layer][W]
  size_t weight_bytes_ = 0;
};

}  // namespace edgerun
