// A Hugging Face model folder (config.json, safetensors shards, tokenizer
// files) seen as GGUF-style metadata and tensors.
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "common/json_input.h"
#include "formats/safetensors.h"
#include "model/arch.h"
#include "model/source.h"

namespace edgerun {

namespace {

using json = nlohmann::json;

json read_json(const std::string& path) { return parse_json_input(path, read_file(path)); }

// Values of a config.json object, each checked for its type and range; an
// error names the file and the key.
class ConfigValues {
 public:
  ConfigValues(const json& j, std::string path, std::string prefix = "")
      : j_(j), path_(std::move(path)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  // A size: a positive integer no larger than any model has.
  uint64_t dim(const char* key) const {
    if (!has(key)) fail(path_, "missing '" + name(key) + "'");
    const json& v = j_[key];
    if (!v.is_number_unsigned() || v.get<uint64_t>() == 0) fail(path_, "'" + name(key) + "' must be a positive integer");
    if (v.get<uint64_t>() > kMaxModelDim)
      fail(path_, "'" + name(key) + "' is " + std::to_string(v.get<uint64_t>()) + ", more than " + std::to_string(kMaxModelDim));
    return v.get<uint64_t>();
  }
  uint64_t dim(const char* key, uint64_t fallback) const { return has(key) ? dim(key) : fallback; }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number() || !std::isfinite(v.get<double>())) fail(path_, "'" + name(key) + "' must be a finite number");
    return v.get<double>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) fail(path_, "'" + name(key) + "' must be a string");
    return j_[key].get<std::string>();
  }

 private:
  std::string name(const char* key) const { return prefix_ + key; }
  const json& j_;
  std::string path_, prefix_;
};

// Llama 3.1's rope_scaling, as per-frequency divisors (what GGUF files carry
// as rope_freqs.weight).
std::vector<float> llama3_rope_factors(const json& rs, double base, int dims, const std::string& where) {
  const ConfigValues v(rs, where, "rope_scaling.");
  const double factor = v.number("factor", 8.0), lo = v.number("low_freq_factor", 1.0), hi = v.number("high_freq_factor", 4.0);
  const double old_ctx = v.number("original_max_position_embeddings", 8192.0);
  if (!(factor > 0) || !(hi > lo)) fail(where, "invalid 'rope_scaling' values");
  const double lo_wavelen = old_ctx / lo, hi_wavelen = old_ctx / hi;
  std::vector<float> out;
  for (int i = 0; i < dims; i += 2) {
    const double freq = 1.0 / std::pow(base, static_cast<double>(i) / dims);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < hi_wavelen) out.push_back(1.0f);
    else if (wavelen > lo_wavelen) out.push_back(static_cast<float>(factor));
    else {
      const double smooth = (old_ctx / wavelen - lo) / (hi - lo);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

// Hugging Face tensor names -> GGUF names, from the architecture table. Layer
// and expert names are parsed, not listed, so the work does not grow with the
// layer or expert counts a config.json claims.
class HfNames {
 public:
  struct Name {
    std::string gguf;  // "" for a tensor the model does not read
    int expert = -1;   // the expert of a per-expert tensor, stacked into `gguf`
  };

  HfNames(int n_layer, int n_expert) : n_layer_(n_layer), n_expert_(n_expert) {
    for (const TensorSlot& s : tensor_slots()) {
      if (!*s.hf_name) continue;
      const std::string hf(s.hf_name);
      const size_t at = hf.find("%d");
      if (at == std::string::npos) {
        globals_[hf] = s.gguf_name;
        continue;
      }
      prefix_ = hf.substr(0, at);  // the same for every layer slot ("model.layers.")
      const std::string rest = hf.substr(at + 2);
      const size_t e = rest.find("%e");
      if (e == std::string::npos) per_layer_[rest] = s.gguf_name;
      else per_expert_.push_back({rest.substr(0, e), rest.substr(e + 2), s.gguf_name});
    }
  }

  Name gguf_name(const std::string& hf) const {
    if (auto g = globals_.find(hf); g != globals_.end()) return {g->second};
    if (prefix_.empty() || hf.compare(0, prefix_.size(), prefix_) != 0) return {};
    size_t i = prefix_.size();
    const int layer = number(hf, i, n_layer_);
    if (layer < 0) return {};
    const std::string rest = hf.substr(i);
    if (auto it = per_layer_.find(rest); it != per_layer_.end()) return {layer_name(it->second, layer)};
    for (const auto& p : per_expert_) {
      if (rest.size() <= p.before.size() + p.after.size() || rest.compare(0, p.before.size(), p.before) != 0 ||
          rest.compare(rest.size() - p.after.size(), p.after.size(), p.after) != 0)
        continue;
      size_t j = p.before.size();
      const int expert = number(rest, j, n_expert_);
      if (expert >= 0 && j == rest.size() - p.after.size()) return {layer_name(p.gguf, layer), expert};
    }
    return {};
  }

 private:
  struct ExpertPattern {
    std::string before, after, gguf;
  };
  // The decimal number at s[i] below `limit` (no leading zeros), or -1; moves i past it.
  static int number(const std::string& s, size_t& i, int limit) {
    const size_t first = i;
    int v = 0;
    while (i < s.size() && i - first < 8 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
    if (i == first || v >= limit || (s[first] == '0' && i - first > 1)) return -1;
    return v;
  }
  static std::string layer_name(std::string g, int layer) { return g.replace(g.find("%d"), 2, std::to_string(layer)); }

  int n_layer_, n_expert_;
  std::string prefix_;
  std::map<std::string, std::string> globals_, per_layer_;  // per_layer_: the name after the layer number
  std::vector<ExpertPattern> per_expert_;
};

class HfSource : public ModelSource {
 public:
  explicit HfSource(const std::string& dir) : dir_(dir), meta_(dir) {
    const std::string cfg_path = dir_ + "/config.json";
    const json cfg = read_json(cfg_path);
    if (!cfg.is_object()) fail(cfg_path, "expected a JSON object");
    try {
      read_config(cfg, cfg_path);
    } catch (const json::exception& e) {  // a type no check above foresaw
      fail(cfg_path, std::string("unexpected structure: ") + e.what());
    }
  }

  const std::string& path() const override { return dir_; }
  std::string format() const override { return "Hugging Face safetensors"; }
  size_t file_size() const override {
    size_t s = 0;
    for (const auto& f : files_) s += f->file_size();
    return s;
  }
  const Metadata& metadata() const override { return meta_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  void release(const TensorInfo& t) const override {
    for (const auto& f : files_) {
      if (t.parts.empty()) f->release(t.data, t.nbytes);
      else
        for (const uint8_t* p : t.parts) f->release(p, t.nbytes / t.parts.size());
    }
  }

 protected:
  std::unique_ptr<Tokenizer> base_tokenizer() const override {
    const std::string tj = dir_ + "/tokenizer.json";
    if (!file_exists(tj)) fail(dir_, "no tokenizer.json in the model folder");
    return Tokenizer::from_hf_file(tj);
  }

 private:
  void read_config(const json& cfg, const std::string& cfg_path) {
    const ConfigValues c(cfg, cfg_path);
    const std::string model_type = c.string("model_type", "");
    const ArchSpec* spec = find_hf_arch(model_type);
    if (!spec) fail(cfg_path, "unknown architecture '" + model_type + "' in 'model_type' (supported: " + known_hf_model_types() + ")");
    const std::string& arch = spec->name;
    const std::string a = arch + ".";
    meta_.set_string("general.architecture", arch);
    meta_.set_string("general.name", dir_.substr(dir_.find_last_of('/') + 1));
    const uint64_t n_embd = c.dim("hidden_size"), n_head = c.dim("num_attention_heads");
    const uint64_t n_layer = c.dim("num_hidden_layers");
    meta_.set_uint(a + "embedding_length", n_embd);
    meta_.set_uint(a + "block_count", n_layer);
    meta_.set_uint(a + "feed_forward_length", c.dim("intermediate_size"));
    meta_.set_uint(a + "attention.head_count", n_head);
    meta_.set_uint(a + "attention.head_count_kv", c.dim("num_key_value_heads", n_head));
    const uint64_t head_dim = c.dim("head_dim", std::max<uint64_t>(1, n_embd / n_head));
    meta_.set_uint(a + "attention.key_length", head_dim);
    meta_.set_uint(a + "attention.value_length", head_dim);
    meta_.set_uint(a + "context_length", c.dim("max_position_embeddings", 2048));
    meta_.set_float(a + "attention.layer_norm_rms_epsilon", c.number("rms_norm_eps", 1e-6));
    const double theta = c.number("rope_theta", 10000.0);
    meta_.set_float(a + "rope.freq_base", theta);
    meta_.set_uint(a + "rope.dimension_count", head_dim);
    // Hugging Face keeps q/k rows in "rotate half" order: NeoX-style RoPE computes
    // them unpermuted, with the same result as GGUF's interleaved order.
    meta_.set_string(keys::kRopeStyle, "neox");
    if (cfg.contains("rope_scaling") && cfg["rope_scaling"].is_object()) {
      const json& rs = cfg["rope_scaling"];
      const ConfigValues r(rs, cfg_path, "rope_scaling.");
      const std::string type = r.string("rope_type", r.string("type", ""));
      if (type != "llama3") fail(cfg_path, "unsupported 'rope_scaling' type '" + type + "' (supported: llama3)");
      rope_freqs_ = llama3_rope_factors(rs, theta, static_cast<int>(head_dim), cfg_path);
    }

    for (const HfConfigKey& k : spec->hf_keys) {
      if (!c.has(k.hf)) {
        if (k.required) fail(cfg_path, std::string("missing '") + k.hf + "' (needed by '" + model_type + "')");
        continue;
      }
      if (cfg[k.hf].is_boolean()) meta_.set_bool(a + k.gguf, cfg[k.hf].get<bool>());
      else meta_.set_uint(a + k.gguf, c.dim(k.hf));
    }
    // Qwen's MoE configs can make some layers dense; edgerun's layers are
    // all MoE (or a leading run of dense ones, which these keys cannot say).
    if (c.dim("decoder_sparse_step", 1) != 1) fail(cfg_path, "'decoder_sparse_step' other than 1 is not supported");
    if (cfg.contains("mlp_only_layers") && !(cfg["mlp_only_layers"].is_array() && cfg["mlp_only_layers"].empty()))
      fail(cfg_path, "'mlp_only_layers' (dense layers among MoE ones) is not supported");
    const uint64_t n_expert = meta_.get_uint(a + "expert_count", 0);

    // End of generation: generation_config.json may list several eos ids.
    std::vector<int32_t> eog;
    const std::string gen_path = dir_ + "/generation_config.json";
    for (const json* src : {&cfg}) {
      if (src->contains("eos_token_id")) add_ids((*src)["eos_token_id"], cfg_path, eog);
    }
    if (file_exists(gen_path)) {
      const json gen = read_json(gen_path);
      if (!gen.is_object()) fail(gen_path, "expected a JSON object");
      if (gen.contains("eos_token_id")) add_ids(gen["eos_token_id"], gen_path, eog);
      read_sampling_defaults(gen, gen_path);
    }
    if (!eog.empty()) meta_.set_int_array(keys::kEogIds, eog);

    open_weights(static_cast<int>(n_layer), static_cast<int>(n_expert));
  }

  // generation_config.json's sampling, as the GGUF keys llama.cpp's converter
  // writes (general.sampling.*), so a converted .erm keeps them too.
  void read_sampling_defaults(const json& gen, const std::string& where) {
    auto number = [&](const char* key) -> const json* {
      if (!gen.contains(key) || gen[key].is_null()) return nullptr;
      if (!gen[key].is_number()) fail(where, std::string("'") + key + "' must be a number");
      return &gen[key];
    };
    if (gen.contains("do_sample") && !gen["do_sample"].is_boolean()) fail(where, "'do_sample' must be true or false");
    const bool sample = gen.value("do_sample", true);
    if (!sample) {
      meta_.set_float("general.sampling.temp", 0.0);  // greedy, whatever temperature says
    } else if (const json* t = number("temperature")) {
      meta_.set_float("general.sampling.temp", t->get<double>());
    }
    if (const json* v = number("top_p")) meta_.set_float("general.sampling.top_p", v->get<double>());
    if (const json* v = number("min_p")) meta_.set_float("general.sampling.min_p", v->get<double>());
    if (const json* v = number("top_k")) {
      const auto k = json_integer(*v, INT64_MIN, INT64_MAX);
      if (!k) fail(where, "'top_k' must be a whole number, not " + v->dump());
      meta_.set_uint("general.sampling.top_k", static_cast<uint64_t>(std::max<int64_t>(0, *k)));
    }
  }

  // eos_token_id: one id or a list of them (null: none).
  static void add_ids(const json& v, const std::string& where, std::vector<int32_t>& out) {
    if (v.is_null()) return;
    auto add = [&](const json& x) {
      const auto id = json_integer(x, 0, INT32_MAX);
      if (!id) fail(where, "'eos_token_id' holds " + x.dump() + ", which is not a token id");
      out.push_back(static_cast<int32_t>(*id));
    };
    if (v.is_array()) {
      for (const auto& x : v) add(x);
    } else {
      add(v);
    }
  }

  void open_weights(int n_layer, int n_expert) {
    // Which file holds which tensor: one model.safetensors, or shards listed in the index.
    std::vector<std::string> shard_names;
    const std::string index_path = dir_ + "/model.safetensors.index.json";
    if (file_exists(index_path)) {
      const json idx = read_json(index_path);
      if (!idx.contains("weight_map") || !idx["weight_map"].is_object()) fail(index_path, "missing 'weight_map'");
      for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
        if (!it.value().is_string()) fail(index_path, "'weight_map' entry '" + it.key() + "' must be a file name");
        const std::string shard = it.value().get<std::string>();
        // Shards are files of this folder: a name that leads elsewhere is refused, not opened.
        if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos || shard.find('\0') != std::string::npos)
          fail(index_path, "shard '" + shard + "' of tensor '" + it.key() + "' lies outside the model folder (shards are file names in it)");
        if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end()) shard_names.push_back(shard);
      }
    } else if (file_exists(dir_ + "/model.safetensors")) {
      shard_names.push_back("model.safetensors");
    } else {
      fail(dir_, "no model.safetensors or model.safetensors.index.json in the model folder");
    }
    const HfNames names(n_layer, n_expert);
    // A MoE layer's experts, one tensor each in the checkpoint, become one
    // stacked tensor of GGUF's shape whose parts stay where they are mapped.
    std::map<std::string, std::vector<TensorInfo>> experts;
    for (const auto& shard : shard_names) {
      const std::string p = dir_ + "/" + shard;
      if (!file_exists(p)) fail(p, "cannot open (a shard listed in model.safetensors.index.json is missing)", ErrorKind::IO);
      files_.push_back(SafetensorsFile::open(p));
      for (const auto& t : files_.back()->tensors()) {
        HfNames::Name name = names.gguf_name(t.info.name);
        if (name.gguf.empty()) continue;  // e.g. rotary_emb.inv_freq: recomputed, not read
        if (!t.supported) fail(p, "tensor '" + t.info.name + "' has unsupported dtype '" + t.dtype + "' (supported: F32, F16, BF16)");
        TensorInfo info = t.info;
        std::reverse(info.shape.begin(), info.shape.end());  // GGUF order: row length first
        if (name.expert >= 0) {
          auto& slot = experts[name.gguf];
          slot.resize(n_expert);
          if (slot[name.expert].data) fail(p, "tensor '" + t.info.name + "' appears twice");
          slot[name.expert] = std::move(info);
          continue;
        }
        info.name = std::move(name.gguf);
        tensors_.push_back(std::move(info));
      }
    }
    for (auto& [gguf, parts] : experts) tensors_.push_back(stack_experts(gguf, parts));
    if (!rope_freqs_.empty()) {
      TensorInfo rf;
      rf.name = "rope_freqs.weight";
      rf.type = DType::F32;
      rf.shape = {static_cast<int64_t>(rope_freqs_.size())};
      rf.nbytes = rope_freqs_.size() * sizeof(float);
      rf.data = reinterpret_cast<const uint8_t*>(rope_freqs_.data());
      tensors_.push_back(rf);
    }
  }

  // Expert tensors of one kind and layer -> one [cols, rows, experts] tensor.
  TensorInfo stack_experts(const std::string& gguf, const std::vector<TensorInfo>& parts) const {
    TensorInfo s;
    s.name = gguf;
    for (size_t e = 0; e < parts.size(); ++e) {
      const TensorInfo& p = parts[e];
      if (!p.data) fail(dir_, "expert " + std::to_string(e) + " of tensor '" + gguf + "' is missing from the checkpoint");
      if (e == 0) {
        s.type = p.type;
        s.shape = p.shape;
        s.shape.push_back(static_cast<int64_t>(parts.size()));
      } else if (p.type != s.type || p.shape != parts[0].shape) {
        fail(dir_, "expert " + std::to_string(e) + " of tensor '" + gguf + "' differs in type or shape from expert 0");
      }
      s.nbytes += p.nbytes;
      s.parts.push_back(p.data);
    }
    s.data = s.parts.front();
    return s;
  }

  std::string dir_;
  Metadata meta_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<TensorInfo> tensors_;
  std::vector<float> rope_freqs_;
};

}  // namespace

std::unique_ptr<ModelSource> open_hf_folder(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return std::make_unique<HfSource>(d);
}

}  // namespace edgerun
