// The cpu backend's attention and KV cache against a scalar reference written
// from docs/NUMERICS.md: every KV type, thread count, batching and several
// sequences in one call give the reference's bits; a context shift rotates
// keys to their new positions.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "blocks.h"
#include "cpu/cpu_backend.h"
#include "exact_math.h"
#include "fp16.h"
#include "quant.h"
#include "helpers.h"

using namespace edgerun;

namespace {

DType dtype_of(KVType t) {
  return t == KVType::F32 ? DType::F32 : t == KVType::F16 ? DType::F16 : t == KVType::Q8_0 ? DType::Q8_0 : DType::Q4_0;
}

// One KV row as the cache holds it, back as floats (exact for every type).
std::vector<float> as_cached(KVType t, const float* x, int n) {
  std::vector<float> out(x, x + n);
  if (t == KVType::F32) return out;
  std::vector<uint8_t> row(kv_row_bytes(t, n));
  if (t == KVType::F16) {
    for (int i = 0; i < n; ++i) out[i] = fp16_to_float(float_to_fp16(x[i]));
    return out;
  }
  quant_ops(dtype_of(t)).quantize(x, row.data(), n);
  quant_ops(dtype_of(t)).dequantize(row.data(), out.data(), n);
  return out;
}

struct Shape {
  int n_head, n_head_kv, hd;
};

// Causal attention of rows at positions pos0.. over keys/values at 0..pos, per
// head, in the defined order: the cache's values as floats (exact for every
// type) meet the query in 16 lanes; softmax with exact_exp; values summed over
// positions in order, one multiply and one add each.
std::vector<float> ref_attention(const Shape& s, KVType tk, KVType tv, const std::vector<float>& q,
                                 const std::vector<float>& k, const std::vector<float>& v, int pos0, int n, float scale) {
  const int kv_dim = s.n_head_kv * s.hd, q_dim = s.n_head * s.hd, group = s.n_head / s.n_head_kv;
  const int n_pos = pos0 + n;
  std::vector<float> kc, vc;  // the cache's values as floats
  for (int p = 0; p < n_pos; ++p) {
    const auto kr = as_cached(tk, &k[static_cast<size_t>(p) * kv_dim], kv_dim);
    const auto vr = as_cached(tv, &v[static_cast<size_t>(p) * kv_dim], kv_dim);
    kc.insert(kc.end(), kr.begin(), kr.end());
    vc.insert(vc.end(), vr.begin(), vr.end());
  }
  std::vector<float> out(static_cast<size_t>(n) * q_dim);
  for (int t = 0; t < n; ++t)
    for (int h = 0; h < s.n_head; ++h) {
      const int kvh = h / group, n_keys = pos0 + t + 1;
      const float* qh = &q[(static_cast<size_t>(t) * s.n_head + h) * s.hd];
      std::vector<float> w(n_keys);
      for (int p = 0; p < n_keys; ++p) w[p] = exact_dot(qh, &kc[static_cast<size_t>(p) * kv_dim + kvh * s.hd], s.hd) * scale;
      const float mx = *std::max_element(w.begin(), w.end());
      for (float& x : w) x = exact_exp(x - mx);
      const float inv = 1.0f / exact_sum(n_keys, [&](int64_t p) { return w[p]; });
      float* o = &out[(static_cast<size_t>(t) * s.n_head + h) * s.hd];
      for (int p = 0; p < n_keys; ++p) {
        const float wp = w[p] * inv;
        for (int d = 0; d < s.hd; ++d) o[d] = o[d] + wp * vc[static_cast<size_t>(p) * kv_dim + kvh * s.hd + d];
      }
    }
  return out;
}

struct Run {
  std::unique_ptr<Executor> ex;
  std::unique_ptr<KVCache> kv;
};

// Feeds rows [0, total) to the executor in chunks of `chunk` rows; returns every row's output.
std::vector<float> run_chunks(Backend& be, int threads, const Shape& s, KVType tk, KVType tv, const std::vector<float>& q,
                              const std::vector<float>& k, const std::vector<float>& v, int total, int chunk, float scale) {
  ExecutorOptions eo;
  eo.n_threads = eo.n_threads_batch = threads;
  auto ex = be.make_executor(eo);
  const int kv_dim = s.n_head_kv * s.hd, q_dim = s.n_head * s.hd;
  auto kv = ex->alloc_kv(1, total, s.n_head_kv, s.hd, tk, tv);
  std::vector<float> out(static_cast<size_t>(total) * q_dim);
  for (int p0 = 0; p0 < total; p0 += chunk) {
    const int n = std::min(chunk, total - p0);
    auto bq = ex->alloc(static_cast<int64_t>(n) * q_dim), bk = ex->alloc(static_cast<int64_t>(n) * kv_dim),
         bv = ex->alloc(static_cast<int64_t>(n) * kv_dim), bo = ex->alloc(static_cast<int64_t>(n) * q_dim);
    ex->write(*bq, &q[static_cast<size_t>(p0) * q_dim], static_cast<int64_t>(n) * q_dim);
    ex->write(*bk, &k[static_cast<size_t>(p0) * kv_dim], static_cast<int64_t>(n) * kv_dim);
    ex->write(*bv, &v[static_cast<size_t>(p0) * kv_dim], static_cast<int64_t>(n) * kv_dim);
    ex->attention(*bq, *bk, *bv, *kv, 0, p0, n, AttentionShape{s.n_head, s.n_head_kv, s.hd, scale}, *bo);
    ex->read(*bo, &out[static_cast<size_t>(p0) * q_dim], static_cast<int64_t>(n) * q_dim);
  }
  return out;
}

size_t differing(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], 4) != 0;
  return n;
}

}  // namespace

TEST_CASE("cpu attention equals the scalar reference for every KV type, thread count and batching", "[attention]") {
  auto be = make_cpu_backend();
  const KVType types[] = {KVType::F32, KVType::F16, KVType::Q8_0, KVType::Q4_0};
  // A qwen2-1.5b-like grouping (6 query heads per KV head) and a narrower one; lengths past one key range (256).
  for (const Shape s : {Shape{12, 2, 64}, Shape{4, 4, 32}}) {
    const bool wide = s.n_head == 12;  // past one key range; the narrow shape mixes key and value types
    const int total = wide ? 300 : 80;
    const int q_dim = s.n_head * s.hd, kv_dim = s.n_head_kv * s.hd;
    const auto q = test::random_normal(static_cast<size_t>(total) * q_dim, 1), k = test::random_normal(static_cast<size_t>(total) * kv_dim, 2),
               v = test::random_normal(static_cast<size_t>(total) * kv_dim, 3);
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.hd));
    for (KVType tk : types)
      for (KVType tv : wide ? std::vector<KVType>{tk} : std::vector<KVType>{KVType::F16, KVType::Q8_0, tk}) {
        INFO("heads " << s.n_head << "/" << s.n_head_kv << " x " << s.hd << ", K " << kv_type_name(tk) << ", V " << kv_type_name(tv));
        const auto want = ref_attention(s, tk, tv, q, k, v, 0, total, scale);
        CHECK(differing(run_chunks(*be, 2, s, tk, tv, q, k, v, total, total, scale), want) == 0);  // one prompt
        CHECK(differing(run_chunks(*be, 1, s, tk, tv, q, k, v, total, 37, scale), want) == 0);     // chunks, one thread
        // One token at a time (generation): keys split over the threads.
        if (tk == tv) CHECK(differing(run_chunks(*be, 3, s, tk, tv, q, k, v, total, 1, scale), want) == 0);
      }
  }
}

TEST_CASE("sequences attended in one call equal each alone, whatever their KV types", "[attention]") {
  auto be = make_cpu_backend();
  ExecutorOptions eo;
  eo.n_threads = eo.n_threads_batch = 2;
  auto ex = be->make_executor(eo);
  const Shape s{6, 2, 32};
  const int q_dim = s.n_head * s.hd, kv_dim = s.n_head_kv * s.hd;
  const float scale = 0.125f;
  const int len[2] = {40, 9};
  const KVType tk[2] = {KVType::Q8_0, KVType::F16}, tv[2] = {KVType::Q4_0, KVType::F32};
  std::vector<float> q[2], k[2], v[2], want[2];
  std::unique_ptr<KVCache> kv[2];
  for (int i = 0; i < 2; ++i) {
    q[i] = test::random_normal(static_cast<size_t>(len[i]) * q_dim, 10 + i);
    k[i] = test::random_normal(static_cast<size_t>(len[i]) * kv_dim, 20 + i);
    v[i] = test::random_normal(static_cast<size_t>(len[i]) * kv_dim, 30 + i);
    want[i] = ref_attention(s, tk[i], tv[i], q[i], k[i], v[i], 0, len[i], scale);
    kv[i] = ex->alloc_kv(1, 64, s.n_head_kv, s.hd, tk[i], tv[i]);
  }
  // Both prompts in one batch, row after row.
  const int n = len[0] + len[1];
  auto bq = ex->alloc(static_cast<int64_t>(n) * q_dim), bk = ex->alloc(static_cast<int64_t>(n) * kv_dim),
       bv = ex->alloc(static_cast<int64_t>(n) * kv_dim), bo = ex->alloc(static_cast<int64_t>(n) * q_dim);
  std::vector<float> cq = q[0], ck = k[0], cv = v[0];
  cq.insert(cq.end(), q[1].begin(), q[1].end());
  ck.insert(ck.end(), k[1].begin(), k[1].end());
  cv.insert(cv.end(), v[1].begin(), v[1].end());
  ex->write(*bq, cq.data(), static_cast<int64_t>(cq.size()));
  ex->write(*bk, ck.data(), static_cast<int64_t>(ck.size()));
  ex->write(*bv, cv.data(), static_cast<int64_t>(cv.size()));
  const AttentionSeq seqs[2] = {{kv[0].get(), 0, len[0]}, {kv[1].get(), 0, len[1]}};
  ex->attention(*bq, *bk, *bv, seqs, 2, 0, AttentionShape{s.n_head, s.n_head_kv, s.hd, scale}, *bo);
  std::vector<float> got(cq.size());
  ex->read(*bo, got.data(), static_cast<int64_t>(got.size()));
  std::vector<float> got0(got.begin(), got.begin() + static_cast<ptrdiff_t>(want[0].size())),
      got1(got.begin() + static_cast<ptrdiff_t>(want[0].size()), got.end());
  CHECK(differing(got0, want[0]) == 0);
  CHECK(differing(got1, want[1]) == 0);
}

TEST_CASE("a context shift moves values and rotates keys to their new positions", "[attention]") {
  auto be = make_cpu_backend();
  ExecutorOptions eo;
  eo.n_threads = 2;
  auto ex = be->make_executor(eo);
  const int n_head_kv = 2, hd = 32, kv_dim = n_head_kv * hd, n_ctx = 40;
  for (RopeStyle style : {RopeStyle::Neox, RopeStyle::Interleaved}) {
    RopeParams rope;
    rope.style = style;
    rope.n_rot = hd;
    rope.theta_scale = std::pow(10000.0f, -2.0f / hd);
    rope.freq_factors.assign(hd / 2, 1.0f);
    const auto raw = test::random_normal(static_cast<size_t>(n_ctx) * kv_dim, 5);
    // Keys rotated for position p, as the graph stores them; the same key rotated for p - 10.
    auto rotated = [&](int at) {
      auto b = ex->alloc(static_cast<int64_t>(n_ctx) * kv_dim);
      ex->write(*b, raw.data(), static_cast<int64_t>(raw.size()));
      std::vector<int32_t> pos(n_ctx);
      for (int p = 0; p < n_ctx; ++p) pos[p] = p + at;
      ex->rope(*b, n_ctx, n_head_kv, hd, rope, pos.data());
      std::vector<float> out(raw.size());
      ex->read(*b, out.data(), static_cast<int64_t>(out.size()));
      return out;
    };
    const auto at_p = rotated(0), at_p_minus_10 = rotated(-10);
    for (KVType t : {KVType::F32, KVType::F16, KVType::Q8_0}) {
      INFO(kv_type_name(t) << (style == RopeStyle::Neox ? " neox" : " interleaved"));
      auto kv = ex->alloc_kv(1, n_ctx, n_head_kv, hd, t, t);
      auto& ckv = static_cast<cpu::CpuKV&>(*kv);
      for (int p = 0; p < n_ctx; ++p)
        for (int h = 0; h < n_head_kv; ++h) {
          const float* x = &at_p[static_cast<size_t>(p) * kv_dim + h * hd];
          if (t == KVType::F32) std::memcpy(ckv.k_at(0, h, p), x, ckv.k_row);
          else if (t == KVType::F16)
            for (int j = 0; j < hd; ++j) reinterpret_cast<uint16_t*>(ckv.k_at(0, h, p))[j] = float_to_fp16(x[j]);
          else quant_ops(DType::Q8_0).quantize(x, ckv.k_at(0, h, p), hd);
          std::memset(ckv.v_at(0, h, p), p, ckv.v_row);  // values: a byte pattern naming the row
        }
      // Keep 4, drop 10: rows 14.. move to 4.. and turn by -10 positions.
      ex->kv_shift(*kv, 14, 4, n_ctx - 14, rope, n_head_kv, hd);
      double worst = 0;
      for (int p = 4; p < n_ctx - 10; ++p)
        for (int h = 0; h < n_head_kv; ++h) {
          std::vector<float> got(hd);
          quant_ops(dtype_of(t)).dequantize(ckv.k_at(0, h, p), got.data(), hd);
          for (int j = 0; j < hd; ++j)
            worst = std::max(worst, std::fabs(double(got[j]) - at_p_minus_10[static_cast<size_t>(p + 10) * kv_dim + h * hd + j]));
          CHECK(ckv.v_at(0, h, p)[0] == p + 10);
        }
      for (int p = 0; p < 4; ++p) CHECK(ckv.v_at(0, 1, p)[0] == p);  // the kept rows stay
      // Against the key rotated directly to its new position: the rounding of the type, plus float error.
      const double tol = t == KVType::F32 ? 1e-5 : t == KVType::F16 ? 4e-3 : 6e-2;
      CHECK(worst < tol);
    }
  }
}
