// Models are described by data: an architecture is a name, a few switches and
// the tensors it needs. The forward pass (graph.cpp) is one function for all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"

namespace edgerun {

struct ArchSpec {
  std::string name;       // GGUF general.architecture
  RopeStyle rope_style;   // how GGUF files of this architecture lay out q/k
  bool qkv_bias;          // q/k/v projections carry biases (qwen2)
  bool qk_norm;           // per-head RMSNorm of q and k before RoPE (qwen3)
};

// nullptr when the architecture is unknown.
const ArchSpec* find_arch(const std::string& name);
std::string known_arch_names();

// The largest size any hyper-parameter may have, and any product of two that
// the forward pass forms (heads x head size): far beyond every real model,
// small enough that no index computed from them wraps around.
constexpr uint64_t kMaxModelDim = 1u << 24;

struct HParams {
  std::string arch;
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int n_ff = 0;
  int n_ctx_train = 0;
  int n_rot = 0;  // rotated dimensions per head
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }
};

// Which tensor a weight slot takes, and what shape it must have.
enum class Dim { One, Embd, Vocab, QDim, KVDim, FF, HeadDim, RotHalf };
enum class Need { Always, IfQkvBias, IfQkNorm, Optional };

struct TensorSlot {
  const char* gguf_name;  // "%d" stands for the layer index
  const char* hf_name;    // the Hugging Face checkpoint name
  Dim rows, cols;         // [rows (out), cols (in)]; vectors have rows == One
  Need need;
  bool per_layer;
};

const std::vector<TensorSlot>& tensor_slots();
int dim_value(Dim d, const HParams& hp);

}  // namespace edgerun
