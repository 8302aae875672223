// Models are described by data. An architecture is one table entry
// (arch.cpp): its names (GGUF, Hugging Face), its RoPE layout, its extra
// config.json keys, and what each of its layers computes (a LayerSpec). The
// tensors a layer needs follow from its LayerSpec (tensor_slots()), and the
// one forward pass (graph.cpp) composes the shared blocks a LayerSpec names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"

namespace edgerun {

class Metadata;

// The MLP of a layer: one SwiGLU, or a mixture of SwiGLU experts chosen per
// token by a router (softmax, top-k; docs/NUMERICS.md).
enum class MlpKind { Dense, Moe };

// What one layer computes.
struct LayerSpec {
  bool qkv_bias = false;  // q/k/v projections carry biases (qwen2)
  bool qk_norm = false;   // per-head RMSNorm of q and k before RoPE (qwen3)
  MlpKind mlp = MlpKind::Dense;
};

// A config.json key copied into the metadata under "<arch>.<gguf>".
struct HfConfigKey {
  const char* hf;
  const char* gguf;
  bool required;
};

struct ArchSpec {
  std::string name;                       // GGUF general.architecture
  std::vector<std::string> hf_model_types;  // config.json model_type values it computes
  RopeStyle rope_style;                   // how GGUF files of this architecture lay out q/k
  LayerSpec layer;                        // what its layers compute (leading_dense_block_count
                                          // layers of a MoE model are dense)
  std::vector<HfConfigKey> hf_keys;       // config.json keys beyond the ones every architecture has
};

// nullptr when the architecture is unknown.
const ArchSpec* find_arch(const std::string& name);
// The architecture of a config.json model_type; nullptr when none computes it.
const ArchSpec* find_hf_arch(const std::string& model_type);
std::string known_arch_names();
std::string known_hf_model_types();

// The largest size any hyper-parameter may have, and any product of two that
// the forward pass forms (heads x head size): far beyond every real model,
// small enough that no index computed from them wraps around.
constexpr uint64_t kMaxModelDim = 1u << 24;
// Experts of one MoE layer: DeepSeek-V3 has 256.
constexpr int kMaxExperts = 4096;

struct HParams {
  std::string arch;
  int n_vocab = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int n_ff = 0;        // dense MLP width
  int n_ctx_train = 0;
  int n_rot = 0;  // rotated dimensions per head
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  // Mixture of experts (0 when dense).
  int n_expert = 0;       // experts per MoE layer
  int n_expert_used = 0;  // chosen per token (top-k)
  int n_ff_exp = 0;       // width of one expert
  bool expert_norm = true;  // the chosen experts' weights renormalised to sum 1 (norm_topk_prob)
  std::vector<LayerSpec> layers;  // one per layer
  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }
  bool has_moe() const { return n_expert > 0; }
};

// Fills hp.layers (and the expert hyper-parameters of a MoE architecture)
// from the metadata; throws Error naming the key that is wrong.
void describe_layers(const ArchSpec& arch, const Metadata& meta, const std::string& where, HParams& hp);

// Which tensor a weight slot takes, and what shape it must have.
enum class Dim { One, Embd, Vocab, QDim, KVDim, FF, FFExp, Experts, HeadDim, RotHalf };
enum class Need { Always, IfQkvBias, IfQkNorm, IfDense, IfMoe, Optional };

struct TensorSlot {
  const char* gguf_name;  // "%d" stands for the layer index
  const char* hf_name;    // the Hugging Face checkpoint name; "%e" stands for the expert
  Dim rows, cols;         // [rows (out), cols (in)]; vectors have rows == One
  Need need;
  bool per_layer;
  bool per_expert = false;  // one [rows, cols] matrix per expert, stacked: [cols, rows, experts] in GGUF order
};

const std::vector<TensorSlot>& tensor_slots();
int dim_value(Dim d, const HParams& hp);
// Whether a layer described by `spec` reads the tensor of `slot` (an Optional one: if present).
bool slot_needed(const TensorSlot& slot, const LayerSpec& spec);

}  // namespace edgerun
