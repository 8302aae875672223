#include "quant_mix.h"

#include <cstdlib>

#include "common/error.h"
#include "quant.h"

namespace edgerun {

namespace {

struct Named { const char* name; DType base; };
const Named kMixes[] = {
    {"f32", DType::F32},   {"f16", DType::F16},   {"bf16", DType::BF16}, {"q8_0", DType::Q8_0},
    {"q6_k", DType::Q6_K}, {"q5_1", DType::Q5_1}, {"q5_0", DType::Q5_0}, {"q4_1", DType::Q4_1},
    {"q4_0", DType::Q4_0}, {"q5_k_m", DType::Q5_K}, {"q4_k_m", DType::Q4_K}, {"q3_k_m", DType::Q3_K},
    {"q5_k", DType::Q5_K}, {"q4_k", DType::Q4_K}, {"q3_k", DType::Q3_K}, {"q2_k", DType::Q2_K},
    {"q5_k_s", DType::Q5_K}, {"q4_k_s", DType::Q4_K}, {"iq4_nl", DType::IQ4_NL}, {"iq4_xs", DType::IQ4_XS},
};

// llama.cpp's "use more bits" layers: the first and last eighth, and every
// third layer in between.
bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::atoi(name.c_str() + 4);
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Rows of 256-weight super-block types must split into whole super-blocks;
// where they do not, llama.cpp falls back to a 32-block type of similar size.
DType fit_rows(DType t, int64_t row) {
  if (row % dtype_traits(t).block_size == 0) return t;
  if (row % 32 != 0) return DType::F16;
  switch (t) {
    case DType::Q2_K: case DType::Q3_K: return DType::Q4_0;
    case DType::Q4_K: return DType::Q5_0;
    case DType::Q5_K: return DType::Q5_1;
    case DType::Q6_K: return DType::Q8_0;
    case DType::IQ4_XS: return DType::IQ4_NL;
    default: return DType::F16;
  }
}

}  // namespace

std::vector<std::string> QuantMix::names() {
  std::vector<std::string> out{"keep"};
  for (const auto& m : kMixes) out.push_back(m.name);
  return out;
}

QuantMix::QuantMix(const std::string& name, int n_layer, bool has_output, int n_expert, int n_gqa)
    : name_(name), n_layer_(n_layer), has_output_(has_output), n_expert_(n_expert), n_gqa_(n_gqa) {
  if (name == "keep") return;
  for (const auto& m : kMixes)
    if (name == m.name) base_ = m.base;
  bool known = false;
  for (const auto& m : kMixes) known = known || name == m.name;
  if (!known) {
    std::string list;
    for (const auto& n : names()) list += (list.empty() ? "" : ", ") + n;
    fail("quantization", "unknown quantization '" + name + "' (known: " + list + ")");
  }
}

DType QuantMix::choose(const TensorInfo& t) {
  if (name_ == "keep") return t.type;
  if (t.shape.size() < 2) return DType::F32;  // norms, biases, rope factors
  if (ends_with(t.name, "ffn_gate_inp.weight")) return DType::F32;  // MoE routers: small, and they pick the experts
  const int64_t row = t.shape[0];
  if (!is_quantized(base_)) return base_;
  const bool output = t.name == "output.weight" || (!has_output_ && t.name == "token_embd.weight");
  DType type = base_;
  const bool m4 = name_ == "q4_k_m", m5 = name_ == "q5_k_m", m3 = name_ == "q3_k_m", s4 = name_ == "q4_k_s";
  const bool m2 = name_ == "q2_k";  // llama.cpp's Q2_K is a mix too
  const bool iq4 = base_ == DType::IQ4_NL || base_ == DType::IQ4_XS;
  if (output) {
    if (base_ != DType::Q8_0) type = DType::Q6_K;
    if (row % 256 != 0) type = DType::Q8_0;
  } else if (ends_with(t.name, "attn_v.weight")) {
    const int i = attn_v_seen_++;
    if (m2) type = n_gqa_ >= 4 ? DType::Q4_K : DType::Q3_K;
    else if (m3) type = i < 2 ? DType::Q5_K : DType::Q4_K;
    else if (iq4 && n_gqa_ >= 4) type = DType::Q5_K;
    else if ((m4 || m5) && more_bits(i, n_layer_)) type = DType::Q6_K;
    else if (s4 && i < 4) type = DType::Q5_K;
    // llama.cpp's choice for 8-expert models (Mixtral, Qwen3-MoE's fixture): attention is a small share of them.
    if (n_expert_ == 8) type = DType::Q8_0;
  } else if (ends_with(t.name, "attn_k.weight")) {
    if (n_expert_ == 8) type = DType::Q8_0;
  } else if (ends_with(t.name, "ffn_down.weight") || ends_with(t.name, "ffn_down_exps.weight")) {
    const int i = layer_of(t.name);
    if (m2) type = DType::Q3_K;
    else if (m3) type = i < n_layer_ / 16 ? DType::Q5_K : DType::Q4_K;
    else if (m4 && more_bits(i, n_layer_)) type = DType::Q6_K;
    else if (iq4 && i < n_layer_ / 8) type = DType::Q5_K;
    else if (m5 && more_bits(i, n_layer_)) type = DType::Q6_K;
    else if (s4 && i < n_layer_ / 8) type = DType::Q5_K;
  } else if (ends_with(t.name, "attn_output.weight")) {
    if (n_expert_ == 8 && (m2 || m3 || m4 || s4 || iq4)) type = DType::Q5_K;
    else if (m2) type = DType::Q3_K;
    else if (m3) type = DType::Q4_K;
  }
  return fit_rows(type, row);
}

}  // namespace edgerun
