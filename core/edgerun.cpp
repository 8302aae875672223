#include "edgerun.hpp"

#include "model/source.h"

namespace edgerun {

Result<std::unique_ptr<Model>> load_model(const std::string& path, const LoadOptions& opts) {
  return capture([&] { return Model::load(path, opts); });
}

Result<std::unique_ptr<Session>> new_session(const Model& model, const SessionOptions& opts) {
  return capture([&] { return std::make_unique<Session>(model, opts); });
}

Result<GenerateStats> generate(Session& session, const std::string& prompt, const SamplerParams& sampling, int n_predict,
                               const std::function<bool(const std::string&)>& on_text) {
  return capture([&] {
    const Tokenizer& tok = session.model().tokenizer();
    const std::vector<int32_t> ids = tok.encode(prompt, true);
    Sampler sampler(sampling);
    StreamDecoder dec(tok);
    bool go_on = true;
    GenerateStats st = session.generate(ids, sampler, n_predict, [&](int32_t id) {
      const std::string piece = dec.feed(id);
      if (!piece.empty()) go_on = on_text(piece);
      return go_on;
    });
    const std::string rest = dec.flush();
    if (!rest.empty() && go_on) on_text(rest);
    return st;
  });
}

Result<MemoryEstimate> estimate_memory(const std::string& path, int n_ctx, KVType kv_k, KVType kv_v) {
  return capture([&] {
    auto src = open_model_source(path);
    const Metadata* g = &src->metadata();
    MemoryEstimate m;
    for (const auto& t : src->tensors()) m.weight_bytes += t.nbytes;
    const std::string a = g->get_string("general.architecture") + ".";
    HParams hp;
    hp.n_layer = static_cast<int>(g->get_uint(a + "block_count"));
    const int n_head = static_cast<int>(g->get_uint(a + "attention.head_count"));
    hp.n_head_kv = static_cast<int>(g->get_uint(a + "attention.head_count_kv", n_head));
    hp.head_dim = static_cast<int>(g->get_uint(a + "attention.key_length", g->get_uint(a + "embedding_length") / std::max(1, n_head)));
    m.kv_bytes = Session::kv_bytes(hp, n_ctx, kv_k, kv_v);
    return m;
  });
}

}  // namespace edgerun
