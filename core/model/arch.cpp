#include "model/arch.h"

#include "common/error.h"
#include "formats/metadata.h"

namespace edgerun {

namespace {

// Every architecture edgerun computes. Adding one: its names, RoPE layout,
// what its layers compute and the config.json keys it adds; its tensors come
// from the LayerSpec (tensor_slots below lists every kind there is).
const std::vector<ArchSpec> kArchs = {
    {"llama", {"llama", "mistral"}, RopeStyle::Interleaved, {false, false, MlpKind::Dense}, {}},
    {"qwen2", {"qwen2"}, RopeStyle::Neox, {true, false, MlpKind::Dense}, {}},
    {"qwen3", {"qwen3"}, RopeStyle::Neox, {false, true, MlpKind::Dense}, {}},
    {"qwen3moe",
     {"qwen3_moe"},
     RopeStyle::Neox,
     {false, true, MlpKind::Moe},
     {{"num_experts", "expert_count", true},
      {"num_experts_per_tok", "expert_used_count", true},
      {"moe_intermediate_size", "expert_feed_forward_length", true},
      {"norm_topk_prob", "expert_weights_norm", false}}},
};

}  // namespace

const ArchSpec* find_arch(const std::string& name) {
  for (const auto& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

const ArchSpec* find_hf_arch(const std::string& model_type) {
  for (const auto& a : kArchs)
    for (const auto& t : a.hf_model_types)
      if (t == model_type) return &a;
  return nullptr;
}

std::string known_arch_names() {
  std::string s;
  for (const auto& a : kArchs) s += (s.empty() ? "" : ", ") + a.name;
  return s;
}

std::string known_hf_model_types() {
  std::string s;
  for (const auto& a : kArchs)
    for (const auto& t : a.hf_model_types) s += (s.empty() ? "" : ", ") + t;
  return s;
}

void describe_layers(const ArchSpec& arch, const Metadata& g, const std::string& where, HParams& hp) {
  const std::string a = arch.name + ".";
  // A llama file with experts is Mixtral: the same blocks, MoE MLPs.
  const bool moe = arch.layer.mlp == MlpKind::Moe || g.get_uint(a + "expert_count", 0) > 0;
  hp.layers.assign(hp.n_layer, arch.layer);
  if (!moe) return;
  auto key = [&](const char* k) { return a + k; };
  const uint64_t n_expert = g.get_uint(key("expert_count"), 0);
  if (n_expert == 0 || n_expert > static_cast<uint64_t>(kMaxExperts))
    fail(where, "metadata '" + key("expert_count") + "' must be 1.." + std::to_string(kMaxExperts) + ", is " + std::to_string(n_expert));
  const uint64_t used = g.get_uint(key("expert_used_count"), 0);
  if (used == 0 || used > n_expert)
    fail(where, "metadata '" + key("expert_used_count") + "' (" + std::to_string(used) + ") must be 1.." + key("expert_count") +
                    " (" + std::to_string(n_expert) + ")");
  const uint64_t width = g.get_uint(key("expert_feed_forward_length"), static_cast<uint64_t>(hp.n_ff));
  if (width == 0 || width > kMaxModelDim)
    fail(where, "metadata '" + key("expert_feed_forward_length") + "' has an invalid value " + std::to_string(width));
  // What the router does beyond softmax -> top-k -> (renormalised) weights is
  // refused by name, never approximated.
  if (g.get_uint(key("expert_shared_count"), 0) != 0)
    fail(where, "metadata '" + key("expert_shared_count") + "': shared experts are not supported");
  const uint64_t gating = g.get_uint(key("expert_gating_func"), 1);
  if (gating != 0 && gating != 1)
    fail(where, "metadata '" + key("expert_gating_func") + "' is " + std::to_string(gating) +
                    " (" + (gating == 2 ? "sigmoid" : "unknown") + "); only softmax gating (1) is supported");
  if (g.has(key("expert_weights_scale"))) {
    const double s = g.get_float(key("expert_weights_scale"));
    if (s != 1.0) fail(where, "metadata '" + key("expert_weights_scale") + "' is " + std::to_string(s) + "; only 1 is supported");
  }
  if (g.get_uint(key("expert_group_count"), 1) > 1)
    fail(where, "metadata '" + key("expert_group_count") + "': grouped expert routing is not supported");
  hp.n_expert = static_cast<int>(n_expert);
  hp.n_expert_used = static_cast<int>(used);
  hp.n_ff_exp = static_cast<int>(width);
  hp.expert_norm = g.get_bool(key("expert_weights_norm"), true);
  const uint64_t dense = g.get_uint(key("leading_dense_block_count"), 0);
  if (dense > static_cast<uint64_t>(hp.n_layer))
    fail(where, "metadata '" + key("leading_dense_block_count") + "' (" + std::to_string(dense) + ") is more than the " +
                    std::to_string(hp.n_layer) + " layers");
  for (int l = 0; l < hp.n_layer; ++l) hp.layers[l].mlp = l < static_cast<int>(dense) ? MlpKind::Dense : MlpKind::Moe;
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
      {"blk.%d.ffn_gate.weight", "model.layers.%d.mlp.gate_proj.weight", Dim::FF, Dim::Embd, Need::IfDense, true},
      {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.up_proj.weight", Dim::FF, Dim::Embd, Need::IfDense, true},
      {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight", Dim::Embd, Dim::FF, Need::IfDense, true},
      {"blk.%d.ffn_gate_inp.weight", "model.layers.%d.mlp.gate.weight", Dim::Experts, Dim::Embd, Need::IfMoe, true},
      {"blk.%d.ffn_gate_exps.weight", "model.layers.%d.mlp.experts.%e.gate_proj.weight", Dim::FFExp, Dim::Embd, Need::IfMoe,
       true, true},
      {"blk.%d.ffn_up_exps.weight", "model.layers.%d.mlp.experts.%e.up_proj.weight", Dim::FFExp, Dim::Embd, Need::IfMoe, true,
       true},
      {"blk.%d.ffn_down_exps.weight", "model.layers.%d.mlp.experts.%e.down_proj.weight", Dim::Embd, Dim::FFExp, Need::IfMoe,
       true, true},
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
    case Dim::FFExp: return hp.n_ff_exp;
    case Dim::Experts: return hp.n_expert;
    case Dim::HeadDim: return hp.head_dim;
    case Dim::RotHalf: return hp.n_rot / 2;
  }
  return 0;
}

bool slot_needed(const TensorSlot& slot, const LayerSpec& spec) {
  switch (slot.need) {
    case Need::Always: return true;
    case Need::IfQkvBias: return spec.qkv_bias;
    case Need::IfQkNorm: return spec.qk_norm;
    case Need::IfDense: return spec.mlp == MlpKind::Dense;
    case Need::IfMoe: return spec.mlp == MlpKind::Moe;
    case Need::Optional: return false;
  }
  return false;
}

}  // namespace edgerun
