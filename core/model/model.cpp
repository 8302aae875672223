#include "model/model.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <map>

#include "common/error.h"
#include "common/log.h"
#include "common/system_memory.h"
#include "model/source.h"
#include "registry.h"

namespace edgerun {

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opts) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  m->source_ = open_model_source(path);
  m->read_hparams();
  m->tokenizer_ = m->source_->make_tokenizer();
  // Checkpoints often pad the embedding beyond the tokenizer (Qwen: 151936
  // rows for 151665 tokens); the extra ids exist but no text maps to them.
  if (m->tokenizer_->vocab_size() > m->hp_.n_vocab)
    fail(path, "tokenizer has " + std::to_string(m->tokenizer_->vocab_size()) + " tokens but the embedding has only " +
                   std::to_string(m->hp_.n_vocab) + " rows");
  m->tokenizer_->pad_to(m->hp_.n_vocab);
  m->place_layers(opts);
  m->bind_weights(opts);
  return m;
}

void Model::read_hparams() {
  const Metadata& g = source_->metadata();
  const std::string arch = g.get_string("general.architecture");
  arch_ = find_arch(arch);
  if (!arch_) fail(path_, "unknown architecture '" + arch + "' in 'general.architecture' (supported: " + known_arch_names() + ")");
  const std::string a = arch + ".";
  // Every size is bounded, and so is every product of sizes that no tensor's
  // shape vouches for (heads x head size), so nothing wraps around in int.
  auto dim = [&](const std::string& key, uint64_t v) {
    if (v == 0 || v > kMaxModelDim) fail(path_, "metadata '" + key + "' has an invalid value " + std::to_string(v));
    return static_cast<int>(v);
  };
  auto fits = [&](const std::string& ka, int va, const std::string& kb, int vb) {
    const uint64_t p = static_cast<uint64_t>(va) * static_cast<uint64_t>(vb);
    if (p > kMaxModelDim)
      fail(path_, "metadata '" + ka + "' (" + std::to_string(va) + ") x '" + kb + "' (" + std::to_string(vb) + ") = " +
                      std::to_string(p) + " is more than " + std::to_string(kMaxModelDim));
  };
  auto positive_finite = [&](const std::string& key, double v) {
    if (!std::isfinite(v) || !(v > 0))
      fail(path_, "metadata '" + key + "' must be a positive finite number, is " + std::to_string(v));
    return static_cast<float>(v);
  };
  hp_.arch = arch;
  hp_.n_embd = dim(a + "embedding_length", g.get_uint(a + "embedding_length"));
  hp_.n_layer = dim(a + "block_count", g.get_uint(a + "block_count"));
  // Each layer has tensors of its own: a count beyond the file's tensors is
  // refused before anything per layer is allocated.
  if (static_cast<size_t>(hp_.n_layer) > source_->tensors().size())
    fail(path_, "metadata '" + a + "block_count' says " + std::to_string(hp_.n_layer) + " layers but the file has only " +
                    std::to_string(source_->tensors().size()) + " tensors");
  hp_.n_ff = dim(a + "feed_forward_length", g.get_uint(a + "feed_forward_length"));
  hp_.n_head = dim(a + "attention.head_count", g.get_uint(a + "attention.head_count"));
  hp_.n_head_kv = dim(a + "attention.head_count_kv", g.get_uint(a + "attention.head_count_kv", hp_.n_head));
  hp_.n_ctx_train = dim(a + "context_length", g.get_uint(a + "context_length", 2048));
  hp_.head_dim = dim(a + "attention.key_length", g.get_uint(a + "attention.key_length", hp_.n_embd / hp_.n_head));
  hp_.n_rot = dim(a + "rope.dimension_count", g.get_uint(a + "rope.dimension_count", hp_.head_dim));
  fits(a + "attention.head_count", hp_.n_head, a + "attention.key_length", hp_.head_dim);
  fits(a + "attention.head_count_kv", hp_.n_head_kv, a + "attention.key_length", hp_.head_dim);
  hp_.rms_eps = positive_finite(a + "attention.layer_norm_rms_epsilon", g.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));
  hp_.rope_theta = positive_finite(a + "rope.freq_base", g.get_float(a + "rope.freq_base", 10000.0));
  if (hp_.n_head % hp_.n_head_kv != 0)
    fail(path_, "metadata '" + a + "attention.head_count' (" + std::to_string(hp_.n_head) +
                    ") is not a multiple of 'attention.head_count_kv' (" + std::to_string(hp_.n_head_kv) + ")");
  describe_layers(*arch_, g, path_, hp_);
  if (hp_.n_rot > hp_.head_dim || hp_.n_rot % 2 != 0)
    fail(path_, "metadata '" + a + "rope.dimension_count' (" + std::to_string(hp_.n_rot) + ") does not fit head size " +
                    std::to_string(hp_.head_dim));
  const TensorInfo* emb = source_->find_tensor("token_embd.weight");
  if (!emb) fail(path_, "missing tensor 'token_embd.weight'");
  if (emb->shape.size() != 2) fail(path_, "tensor 'token_embd.weight' should have 2 dimensions");
  if (static_cast<uint64_t>(emb->shape[1]) > kMaxModelDim)
    fail(path_, "tensor 'token_embd.weight' has " + std::to_string(emb->shape[1]) + " rows, more than " + std::to_string(kMaxModelDim) + " tokens");
  hp_.n_vocab = static_cast<int>(emb->shape[1]);
}

static std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

static std::string slot_name(const char* pattern, int layer) {
  std::string s(pattern);
  const auto at = s.find("%d");
  if (at != std::string::npos) s.replace(at, 2, std::to_string(layer));
  return s;
}

void Model::place_layers(const LoadOptions& opts) {
  auto primary = create_backend(opts.backend, BackendOptions{opts.device});
  const int n = hp_.n_layer;
  int on_gpu = n;
  if (primary->is_gpu()) {
    if (opts.gpu_layers < -1) fail("gpu layers", "must be -1 (all) or a count of layers");
    on_gpu = opts.gpu_layers < 0 ? layers_that_fit(*primary) : std::min(opts.gpu_layers, n);
  }
  if (on_gpu == n) {
    backends_.push_back(std::move(primary));
    layer_backend_.assign(n, 0);
  } else {
    // llama.cpp's split: the first layers on the cpu, the last ones (and the head) on the GPU.
    backends_.push_back(create_backend(auto_cpu_backend_name()));
    if (on_gpu > 0) backends_.push_back(std::move(primary));
    layer_backend_.assign(n, 0);
    for (int l = n - on_gpu; l < n; ++l) layer_backend_[l] = 1;
  }
  std::vector<int> count(backends_.size(), 0);
  layer_slot_.resize(n);
  for (int l = 0; l < n; ++l) layer_slot_[l] = count[layer_backend_[l]]++;
}

int Model::layers_that_fit(const Backend& gpu) const {
  // Like ollama: as many of the last layers as the device's memory holds,
  // with the globals (embedding, head), a 4096-token f32 KV cache per layer
  // and 512 MiB for activations and staging. Weights of types the GPU
  // dequantizes on upload take more than counted here.
  const int n = hp_.n_layer;
  const uint64_t budget = gpu.memory_budget();
  if (budget == 0) return n;
  std::vector<uint64_t> layer(n, 0);
  uint64_t globals = 512ull << 20;
  for (const auto& t : source_->tensors()) {
    int l = -1;
    if (std::sscanf(t.name.c_str(), "blk.%d.", &l) == 1 && l >= 0 && l < n) layer[l] += t.nbytes;
    else globals += t.nbytes;
  }
  const uint64_t kv = 2ull * 4096 * hp_.kv_dim() * 4;
  uint64_t used = globals;
  int fit = 0;
  for (int l = n - 1; l >= 0 && used + layer[l] + kv <= budget; --l, ++fit) used += layer[l] + kv;
  if (fit < n)
    log_message(LogLevel::Info, std::to_string(fit) + " of " + std::to_string(n) + " layers fit on " + gpu.device_name() + " (" +
                                    std::to_string(budget >> 20) + " MiB); the others run on the cpu");
  return fit;
}

int Model::layers_on(int b) const {
  int c = 0;
  for (int x : layer_backend_) c += x == b;
  return c;
}

std::string Model::backend_summary() const {
  std::string s;
  for (int b = n_backends() - 1; b >= 0; --b) {
    if (!s.empty()) s += " + ";
    s += backends_[b]->name();
    const std::string dev = backends_[b]->device_name();
    if (!dev.empty()) s += " on " + dev;
    if (n_backends() > 1) s += " (" + std::to_string(layers_on(b)) + "/" + std::to_string(hp_.n_layer) + " layers)";
  }
  return s;
}

void Model::bind_weights(const LoadOptions& opts) {
  const auto& slots = tensor_slots();
  if (slots.size() != static_cast<size_t>(W::Count)) fail("", "internal: tensor slot table and W enum disagree");
  globals_.resize(static_cast<size_t>(W::Count));
  layers_.resize(hp_.n_layer);
  for (auto& l : layers_) l.resize(static_cast<size_t>(W::Count));
  expert_weights_.resize(hp_.n_layer);
  experts_.resize(hp_.n_layer);
  routers_.resize(hp_.n_layer);
  const LayerSpec global_spec;  // globals are Always or Optional
  if (hp_.has_moe()) {
    // The cpu copies weights into huge pages of its own (cpu_backend.cpp);
    // a MoE model whose weights do not fit leaves the experts where the file
    // is mapped, so the page cache holds the ones chosen lately.
    uint64_t total = 0;
    for (const auto& t : source_->tensors()) total += t.nbytes;
    const uint64_t budget = opts.memory_available ? opts.memory_available : available_memory_bytes();
    experts_mapped_ = budget > 0 && total > budget / 10 * 9;
    if (experts_mapped_)
      log_message(LogLevel::Info, "the weights (" + std::to_string(total >> 20) + " MiB) need more than the memory available (" +
                                      std::to_string(budget >> 20) + " MiB): the experts are read from the mapped file as they are chosen");
  }

  for (size_t si = 0; si < slots.size(); ++si) {
    const TensorSlot& slot = slots[si];
    const int n = slot.per_layer ? hp_.n_layer : 1;
    for (int layer = 0; layer < n; ++layer) {
      const bool needed = slot_needed(slot, slot.per_layer ? hp_.layers[layer] : global_spec);
      const bool wanted = needed || slot.need == Need::Optional;
      const std::string name = slot_name(slot.gguf_name, layer);
      const TensorInfo* t = source_->find_tensor(name);
      if (!t) {
        if (needed) fail(path_, "missing tensor '" + name + "' (required by architecture '" + hp_.arch + "')");
        continue;
      }
      if (!wanted) continue;
      const int64_t rows = dim_value(slot.rows, hp_), cols = dim_value(slot.cols, hp_);
      std::vector<int64_t> expect = slot.rows == Dim::One ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows};
      if (slot.per_expert) expect.push_back(hp_.n_expert);
      if (t->shape != expect)
        fail(path_, "tensor '" + name + "' has shape " + shape_str(t->shape) + " but the hyper-parameters need " +
                        shape_str(expect));
      if (slot.per_expert && t->layout != kLayoutRows)
        fail(path_, "tensor '" + name + "': expert tensors must be stored as rows");
      if (si == static_cast<size_t>(W::Router)) {  // computed on the host (graph.cpp), as floats
        if (t->layout != kLayoutRows) fail(path_, "tensor '" + name + "': a router must be stored as rows");
        auto& r = routers_[layer];
        r.resize(static_cast<size_t>(rows) * cols);
        for (int64_t i = 0; i < rows; ++i) dequantize_row(t->type, t->data + i * dtype_row_bytes(t->type, cols), r.data() + i * cols, cols);
        weight_bytes_ += t->nbytes;
        continue;
      }
      // Globals: the embedding with the first layer, the rest with the head.
      const int b = slot.per_layer ? layer_backend_[layer] : si == static_cast<size_t>(W::TokEmbd) ? layer_backend_[0] : head_backend();
      const int n_parts = slot.per_expert ? hp_.n_expert : 1;
      bool copied = false;
      for (int e = 0; e < n_parts; ++e) {
        TensorDesc d{n_parts > 1 ? name + "[" + std::to_string(e) + "]" : name, t->type, rows, cols, t->slice(e, n_parts), t->layout};
        d.keep_mapped = slot.per_expert && experts_mapped_;
        // The embedding is looked up row by row; other weights go as the file
        // stores them to a backend that reads that layout.
        if (d.layout != kLayoutRows &&
            (si == static_cast<size_t>(W::TokEmbd) || !backends_[b]->takes_layout(d.type, d.layout))) {
          row_copies_.push_back(std::make_unique<uint8_t[]>(dtype_row_bytes(d.type, rows * cols)));
          x16_to_rows(d.type, d.data, rows, cols, row_copies_.back().get());
          d.data = row_copies_.back().get();
          d.layout = kLayoutRows;
          copied = true;
        }
        auto w = backends_[b]->upload(d);
        if (slot.per_expert) expert_weights_[layer].push_back(std::move(w));
        else (slot.per_layer ? layers_[layer][si] : globals_[si]) = std::move(w);
      }
      if (copied) source_->release(*t);
      weight_bytes_ += t->nbytes;
      if (si == static_cast<size_t>(W::TokEmbd) && head_backend() != b && !source_->find_tensor("output.weight"))
        tied_head_ = backends_[head_backend()]->upload(TensorDesc{name, t->type, rows, cols, t->data, t->layout});
    }
  }
  // Expert e of a layer: its gate, up and down (the slots come in that order).
  for (int l = 0; l < hp_.n_layer; ++l) {
    const auto& w = expert_weights_[l];
    if (w.empty()) continue;
    for (int e = 0; e < hp_.n_expert; ++e)
      experts_[l].push_back({w[e].get(), w[hp_.n_expert + e].get(), w[2 * hp_.n_expert + e].get()});
  }

  // RoPE, with per-frequency divisors (Llama 3 scaling) when present.
  const std::string style = source_->metadata().get_string(keys::kRopeStyle, "");
  if (!style.empty() && style != "neox" && style != "interleaved")
    fail(path_, std::string("metadata '") + keys::kRopeStyle + "' has unknown value '" + style + "'");
  rope_.style = style.empty() ? arch_->rope_style : style == "neox" ? RopeStyle::Neox : RopeStyle::Interleaved;
  rope_.n_rot = hp_.n_rot;
  rope_.theta_scale = std::pow(hp_.rope_theta, -2.0f / static_cast<float>(hp_.n_rot));
  rope_.freq_factors.assign(hp_.n_rot / 2, 1.0f);
  // Context-extension scalings: linear is position interpolation; the others
  // (yarn, longrope, ...) change the attention too and are refused, not ignored.
  const std::string a = hp_.arch + ".rope.scaling.type";
  const std::string scaling = source_->metadata().get_string(a, "none");
  if (scaling == "linear") {
    const double factor = source_->metadata().get_float(hp_.arch + ".rope.scaling.factor", 1.0);
    if (!(factor >= 1.0) || !std::isfinite(factor)) fail(path_, "metadata '" + hp_.arch + ".rope.scaling.factor' must be a finite number of at least 1");
    rope_.freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && scaling != "llama3") {
    fail(path_, "unsupported RoPE scaling '" + scaling + "' in '" + a + "' (supported: none, linear, llama3)");
  }
  if (const TensorInfo* rf = source_->find_tensor("rope_freqs.weight")) {
    if (rf->type != DType::F32) fail(path_, "tensor 'rope_freqs.weight' must be f32");
    std::memcpy(rope_.freq_factors.data(), rf->data, rope_.freq_factors.size() * sizeof(float));
  }
}

const Weight* Model::weight(W slot, int layer) const {
  const size_t i = static_cast<size_t>(slot);
  return layer < 0 ? globals_[i].get() : layers_[layer][i].get();
}

const Weight& Model::output_head() const {
  if (tied_head_) return *tied_head_;
  const Weight* out = weight(W::Output);
  return out ? *out : *weight(W::TokEmbd);
}

uint64_t Model::n_params() const {
  uint64_t n = 0;
  for (const auto& t : source_->tensors()) n += static_cast<uint64_t>(t.n_elements());
  return n;
}

uint64_t Model::n_active_params() const {
  uint64_t n = n_params();
  if (!hp_.has_moe()) return n;
  for (int l = 0; l < hp_.n_layer; ++l) {
    if (hp_.layers[l].mlp != MlpKind::Moe) continue;
    const uint64_t per_expert = 3ull * hp_.n_ff_exp * hp_.n_embd;
    n -= per_expert * static_cast<uint64_t>(hp_.n_expert - hp_.n_expert_used);
  }
  return n;
}

std::vector<std::pair<std::string, int>> Model::type_counts() const {
  std::map<std::string, int> counts;
  for (const auto& t : source_->tensors()) counts[dtype_name(t.type)]++;
  return {counts.begin(), counts.end()};
}

}  // namespace edgerun
