#include "model/graph.h"

#include <cmath>

#include "model/moe_router.h"

namespace edgerun {

namespace {
void ensure_capacity(const HParams& hp, Executor& ex, ForwardScratch& sc, int n) {
  if (sc.capacity >= n) return;  // grown only when a longer batch comes
  const int64_t E = hp.n_embd, Q = hp.q_dim(), KV = hp.kv_dim();
  bool dense = false;
  for (const LayerSpec& l : hp.layers) dense = dense || l.mlp == MlpKind::Dense;
  sc.x = ex.alloc(n * E);  // the residual stream
  sc.h = ex.alloc(n * E);  // normalised input of a sub-block
  sc.q = ex.alloc(n * Q);
  sc.k = ex.alloc(n * KV);
  sc.v = ex.alloc(n * KV);
  sc.att = ex.alloc(n * Q);
  if (dense) {
    sc.gate = ex.alloc(n * hp.n_ff);
    sc.up = ex.alloc(n * hp.n_ff);
  }
  if (hp.has_moe()) sc.moe = ex.alloc(n * E);
  sc.logits.reset();
  sc.capacity = n;
}

// The blocks a layer is made of. Each reads the residual stream x and adds
// its result to it.
struct LayerContext {
  const Model& model;
  const HParams& hp;
  Executor& ex;
  ForwardScratch& sc;
  int layer;
  int n;  // rows in the batch
};

void attention_block(const LayerContext& c, const int32_t* pos, const AttentionSeq* seqs, int n_seqs) {
  const HParams& hp = c.hp;
  const Model& m = c.model;
  Executor& ex = c.ex;
  const int l = c.layer, n = c.n;
  Buffer &x = *c.sc.x, &h = *c.sc.h, &q = *c.sc.q, &k = *c.sc.k, &v = *c.sc.v, &att = *c.sc.att;
  ex.rms_norm(x, *m.weight(W::AttnNorm, l), n, hp.n_embd, hp.rms_eps, h);
  ex.matmul(*m.weight(W::Wq, l), m.weight(W::Bq, l), h, n, q);
  ex.matmul(*m.weight(W::Wk, l), m.weight(W::Bk, l), h, n, k);
  ex.matmul(*m.weight(W::Wv, l), m.weight(W::Bv, l), h, n, v);
  if (const Weight* qn = m.weight(W::QNorm, l)) {
    ex.rms_norm(q, *qn, n * hp.n_head, hp.head_dim, hp.rms_eps, q);
    ex.rms_norm(k, *m.weight(W::KNorm, l), n * hp.n_head_kv, hp.head_dim, hp.rms_eps, k);
  }
  ex.rope(q, n, hp.n_head, hp.head_dim, m.rope(), pos);
  ex.rope(k, n, hp.n_head_kv, hp.head_dim, m.rope(), pos);
  const AttentionShape shape{hp.n_head, hp.n_head_kv, hp.head_dim, 1.0f / std::sqrt(static_cast<float>(hp.head_dim))};
  ex.attention(q, k, v, seqs, n_seqs, m.layer_slot(l), shape, att);
  ex.matmul(*m.weight(W::Wo, l), nullptr, att, n, h);
  ex.add(x, h, static_cast<int64_t>(n) * hp.n_embd);
}

void dense_mlp_block(const LayerContext& c) {
  const HParams& hp = c.hp;
  const Model& m = c.model;
  Executor& ex = c.ex;
  const int l = c.layer, n = c.n;
  Buffer &x = *c.sc.x, &h = *c.sc.h, &gate = *c.sc.gate, &up = *c.sc.up;
  ex.rms_norm(x, *m.weight(W::FfnNorm, l), n, hp.n_embd, hp.rms_eps, h);
  ex.matmul(*m.weight(W::Gate, l), nullptr, h, n, gate);
  ex.matmul(*m.weight(W::Up, l), nullptr, h, n, up);
  ex.swiglu(gate, up, static_cast<int64_t>(n) * hp.n_ff, gate);
  ex.matmul(*m.weight(W::Down, l), nullptr, gate, n, h);
  ex.add(x, h, static_cast<int64_t>(n) * hp.n_embd);
}

// The router runs on the host, in one order for every backend (a float
// product's last bits would differ between them, and could change a choice);
// so does the choice, which decides which experts' weights are read at all.
void moe_mlp_block(const LayerContext& c, std::vector<float>& host) {
  const HParams& hp = c.hp;
  const Model& m = c.model;
  Executor& ex = c.ex;
  const int l = c.layer, n = c.n;
  Buffer &x = *c.sc.x, &h = *c.sc.h, &moe = *c.sc.moe;
  ex.rms_norm(x, *m.weight(W::FfnNorm, l), n, hp.n_embd, hp.rms_eps, h);
  host.resize(static_cast<size_t>(n) * hp.n_embd);
  ex.read(h, host.data(), static_cast<int64_t>(host.size()));
  const std::vector<float> logits = router_logits(host.data(), n, hp.n_embd, m.router(l), hp.n_expert);
  const MoeChoice choice = route_top_k(logits.data(), n, hp.n_expert, hp.n_expert_used, hp.expert_norm);
  const MoeRoute route{n, hp.n_expert_used, choice.expert.data(), choice.weight.data()};
  ex.moe_mlp(h, hp.n_embd, m.experts(l), route, moe);
  ex.add(x, moe, static_cast<int64_t>(n) * hp.n_embd);
}
}  // namespace

std::vector<float> forward(const Model& model, ForwardState& st, const std::vector<SequenceBatch>& batch) {
  const HParams& hp = model.hparams();
  const int64_t E = hp.n_embd;
  // The batch's rows: every sequence's tokens, one after another.
  std::vector<int32_t> tokens, pos, logit_rows;
  for (const SequenceBatch& b : batch) {
    if (b.n < 1 || !b.cache) continue;
    const int row0 = static_cast<int>(tokens.size());
    tokens.insert(tokens.end(), b.tokens, b.tokens + b.n);
    for (int t = 0; t < b.n; ++t) pos.push_back(b.pos0 + t);
    if (b.all_logits)
      for (int t = 0; t < b.n; ++t) logit_rows.push_back(row0 + t);
    else
      logit_rows.push_back(row0 + b.n - 1);
  }
  const int n = static_cast<int>(tokens.size());
  if (n == 0) return {};
  std::vector<AttentionSeq> seqs;
  auto seqs_on = [&](int backend) {
    seqs.clear();
    for (const SequenceBatch& b : batch)
      if (b.n >= 1 && b.cache) seqs.push_back({b.cache->kv[backend].get(), b.pos0, b.n});
    return seqs.data();
  };

  // Layers may be split between backends (LoadOptions::gpu_layers): the residual stream
  // moves when the next layer lives elsewhere.
  int cur = model.layer_backend(0);
  ensure_capacity(hp, *st.ex[cur], st.scratch[cur], n);
  auto move_to = [&](int b) {
    if (b == cur) return;
    ensure_capacity(hp, *st.ex[b], st.scratch[b], n);
    st.handoff.resize(static_cast<size_t>(n) * E);
    st.ex[cur]->read(*st.scratch[cur].x, st.handoff.data(), n * E);
    st.ex[b]->write(*st.scratch[b].x, st.handoff.data(), n * E);
    cur = b;
  };

  st.ex[cur]->get_rows(model.embedding(), tokens.data(), n, *st.scratch[cur].x);
  for (int l = 0; l < hp.n_layer; ++l) {
    move_to(model.layer_backend(l));
    const LayerContext c{model, hp, *st.ex[cur], st.scratch[cur], l, n};
    const AttentionSeq* s = seqs_on(cur);
    attention_block(c, pos.data(), s, static_cast<int>(seqs.size()));
    if (hp.layers[l].mlp == MlpKind::Moe) moe_mlp_block(c, st.handoff);
    else dense_mlp_block(c);
  }
  move_to(model.head_backend());
  Executor& ex = *st.ex[cur];
  ForwardScratch& sc = st.scratch[cur];

  // Only the rows whose logits are wanted go through the (large) output head:
  // they are gathered to the front (each moves down or stays, so in order no
  // row is overwritten before it is read).
  const int rows = static_cast<int>(logit_rows.size());
  for (int i = 0; i < rows; ++i)
    if (logit_rows[i] != i) ex.copy(*sc.x, static_cast<int64_t>(logit_rows[i]) * E, *sc.x, static_cast<int64_t>(i) * E, E);
  ex.rms_norm(*sc.x, *model.weight(W::OutputNorm), rows, E, hp.rms_eps, *sc.h);
  if (!sc.logits || sc.logits->size < static_cast<int64_t>(rows) * hp.n_vocab)
    sc.logits = ex.alloc(static_cast<int64_t>(rows) * hp.n_vocab);
  ex.matmul(model.output_head(), nullptr, *sc.h, rows, *sc.logits);
  std::vector<float> out(static_cast<size_t>(rows) * hp.n_vocab);
  ex.read(*sc.logits, out.data(), static_cast<int64_t>(out.size()));
  return out;
}

}  // namespace edgerun
