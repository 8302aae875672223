#include "model/arch.h"

namespace edgerun {

namespace {
const std::vector<ArchSpec> kArchs = {
    {"llama", RopeStyle::Interleaved, false, false},
    {"qwen2", RopeStyle::Neox, true, false},
    {"qwen3", RopeStyle::Neox, false, true},
};
}  // namespace

const ArchSpec* find_arch(const std::string& name) {
  for (const auto& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

std::string known_arch_names() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + a.name;
  return s;
}

const std::vector<TensorSlot>& tensor_slots() {
  static const std::vector<TensorSlot> slots = {
      {"token_embd.weight", "model.embed_tokens.weight", Dim::Vocab, Dim::Embd, Need::Always, false},
      {"output_norm.weight", "model.norm.weight", Dim::One, Dim::Embd, Need::Always, false},
      {"output.weight", "lm_head.weight", Dim::Vocab, Dim::Embd, Need::Optional, false},
      {"rope_freqs.weight", "", Dim::One, Dim::RotHalf, Need::Optional, false},
      {"blk.%d.attn_norm.weight", "model.layers.%d.input_layernorm.weight", Dim::One, Dim::Embd, Need::Always, true},
      {"blk.%d.attn_q.weight", "model.layers.%d.self_attn.q_proj.weight", Dim::QDim, Dim::Embd, Need::Always, true},
      {"blk.%d.attn_k.weight", "model.layers.%d.self_attn.k_proj.weight", Dim::KVDim, Dim::Embd, Need::Always, true},
      {"blk.%d.attn_v.weight", "model.layers.%d.self_attn.v_proj.weight", Dim::KVDim, Dim::Embd, Need::Always, true},
      {"blk.%d.attn_q.bias", "model.layers.%d.self_attn.q_proj.bias", Dim::One, Dim::QDim, Need::IfQkvBias, true},
      {"blk.%d.attn_k.bias", "model.layers.%d.self_attn.k_proj.bias", Dim::One, Dim::KVDim, Need::IfQkvBias, true},
      {"blk.%d.attn_v.bias", "model.layers.%d.self_attn.v_proj.bias", Dim::One, Dim::KVDim, Need::IfQkvBias, true},
      {"blk.%d.attn_q_norm.weight", "model.layers.%d.self_attn.q_norm.weight", Dim::One, Dim::HeadDim, Need::IfQkNorm, true},
      {"blk.%d.attn_k_norm.weight", "model.layers.%d.self_attn.k_norm.weight", Dim::One, Dim::HeadDim, Need::IfQkNorm, true},
      {"blk.%d.attn_output.weight", "model.layers.%d.self_attn.o_proj.weight", Dim::Embd, Dim::QDim, Need::Always, true},
      {"blk.%d.ffn_norm.weight", "model.layers.%d.post_attention_layernorm.weight", Dim::One, Dim::Embd, Need::Always, true},
      {"blk.%d.ffn_gate.weight", "model.layers.%d.mlp.gate_proj.weight", Dim::FF, Dim::Embd, Need::Always, true},
      {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.up_proj.weight", Dim::FF, Dim::Embd, Need::Always, true},
      {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight", Dim::Embd, Dim::FF, Need::Always, true},
  };
  return slots;
}

int dim_value(Dim d, const HParams& hp) {
  switch (d) {
    case Dim::One: return 1;
    case Dim::Embd: return hp.n_embd;
    case Dim::Vocab: return hp.n_vocab;
    case Dim::QDim: return hp.q_dim();
    case Dim::KVDim: return hp.kv_dim();
    case Dim::FF: return hp.n_ff;
    case Dim::HeadDim: return hp.head_dim;
    case Dim::RotHalf: return hp.n_rot / 2;
  }
  return 0;
}

}  // namespace edgerun
