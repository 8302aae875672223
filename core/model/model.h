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
  Router, GateExps, UpExps, DownExps,
  Count
};

struct LoadOptions {
  std::string backend = "auto";
  int device = -1;      // GPU backends: the device index (as the registry lists them); -1 = their default
  int gpu_layers = -1;  // GPU backends: the last N layers (and the head) on the GPU, the rest on the cpu; -1 = as many as fit
  // Bytes of memory the weights may take; 0: what the system has available
  // (available_memory_bytes). A MoE model whose weights need more keeps its
  // experts in the mapped file, read as they are chosen.
  uint64_t memory_available = 0;
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
  // The backend chosen (the GPU one when layers are split).
  Backend& backend() const { return *backends_.back(); }
  // "vulkan (NVIDIA ..., 28/28 layers)", "cpu": what computes, for messages.
  std::string backend_summary() const;

  // Where the weights live: the backends, the one of each layer, and each
  // layer's index among those on its backend (its KV cache slot there).
  int n_backends() const { return static_cast<int>(backends_.size()); }
  Backend& backend(int i) const { return *backends_[i]; }
  int layer_backend(int layer) const { return layer_backend_[layer]; }
  int layer_slot(int layer) const { return layer_slot_[layer]; }
  int layers_on(int backend) const;
  int head_backend() const { return layer_backend_.back(); }

  // A weight, or nullptr for an absent optional one. layer -1 for globals.
  const Weight* weight(W slot, int layer = -1) const;
  // The experts of a MoE layer: expert e's gate, up and down matrices.
  const ExpertMlp* experts(int layer) const { return experts_[layer].data(); }
  // A MoE layer's router, [n_expert, n_embd] floats in host memory (it runs on the host).
  const float* router(int layer) const { return routers_[layer].data(); }
  // The token embedding (on the first layer's backend) and the output head
  // (on the last layer's: the token embedding again when the two are tied).
  const Weight& embedding() const { return *weight(W::TokEmbd); }
  const Weight& output_head() const;

  size_t weight_bytes() const { return weight_bytes_; }
  // Whether the experts are read from the mapped file (LoadOptions::memory_available).
  bool experts_mapped() const { return experts_mapped_; }
  // Parameters in all, and those one token reads (a MoE layer: only the
  // experts it chooses).
  uint64_t n_params() const;
  uint64_t n_active_params() const;
  // Tensor types and counts, e.g. {"f32": 12, "q4_k": 150}.
  std::vector<std::pair<std::string, int>> type_counts() const;
  const ModelSource& source() const { return *source_; }

 private:
  Model() = default;
  void read_hparams();
  void place_layers(const LoadOptions& opts);
  int layers_that_fit(const Backend& gpu) const;
  void bind_weights(const LoadOptions& opts);

  std::string path_;
  std::unique_ptr<ModelSource> source_;
  const ArchSpec* arch_ = nullptr;
  HParams hp_;
  RopeParams rope_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<std::unique_ptr<Backend>> backends_;  // the cpu first when layers are split
  std::vector<int> layer_backend_, layer_slot_;
  std::vector<std::unique_ptr<Weight>> globals_;              // indexed by W
  std::vector<std::vector<std::unique_ptr<Weight>>> layers_;  // [layer][W] (the expert slots stay empty)
  std::vector<std::vector<std::unique_ptr<Weight>>> expert_weights_;  // [layer][kind * n_expert + e]
  std::vector<std::vector<ExpertMlp>> experts_;                     // [layer][e], pointing into expert_weights_
  std::vector<std::vector<float>> routers_;                         // [layer]
  std::unique_ptr<Weight> tied_head_;  // the embedding on the head's backend, when that is another one
  // Weights a file stores in 16-row groups, turned back into rows for a
  // backend (or an embedding lookup) that reads rows.
  std::vector<std::unique_ptr<uint8_t[]>> row_copies_;
  size_t weight_bytes_ = 0;
  bool experts_mapped_ = false;
};

}  // namespace edgerun
