// The cpu backend's KV cache and attention.
//
// Attention reads the whole cache once per layer and token, so at depth it is
// bound by that read, and a KV head's keys serve every query head of its
// group (GQA). The work is cut so that each key and value is read from memory
// once per pass and used for every query row and head that needs it:
//   1. scores: items of (block of query rows, KV head, range of keys); a tile
//      of keys is made floats (exactly: f16 and q8_0/q4_0 values are) and every
//      query of the block's group meets it while it is in cache (the cache
//      keeps each head's positions contiguous, so a tile is one stream);
//   2. softmax: items of (row, query head) over that row's scores;
//   3. values: items of (block of rows, KV head, slice of head dimensions),
//      each summing over all positions in order.
// Splitting keys in (1) and dimensions in (3) — never the sum over positions —
// keeps every result in docs/NUMERICS.md's order (rules 3 and 4), so the
// bits do not depend on threads, batching or the cache's type of storage
// beyond the values it holds. With one token and two KV heads there is still
// work for every thread.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "blocks.h"
#include "cpu/cpu_backend.h"

namespace edgerun::cpu {

namespace {

constexpr int kRowBlock = 16;    // query rows sharing a tile of keys or values
constexpr int kKeyRange = 256;   // keys per scores item
constexpr int kTile = 64;        // keys made floats at a time (a tile stays in L1/L2)
constexpr size_t kWeightsBudget = size_t{32} << 20;  // bytes of scores held for one pass

DType kv_dtype(KVType t) {
  switch (t) {
    case KVType::F32: return DType::F32;
    case KVType::F16: return DType::F16;
    case KVType::Q8_0: return DType::Q8_0;
    case KVType::Q4_0: return DType::Q4_0;
  }
  return DType::F32;
}

// Writes n floats into the cache in its type.
void store(KVType t, const float* x, uint8_t* dst, int n) {
  switch (t) {
    case KVType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * 4); break;
    case KVType::F16: {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int j = 0; j < n; ++j) h[j] = float_to_fp16(x[j]);
      break;
    }
    default: quant_ops(kv_dtype(t)).quantize(x, dst, n); break;
  }
}

}  // namespace

std::unique_ptr<KVCache> CpuExecutor::alloc_kv(int n_layer, int n_ctx, int n_head_kv, int head_dim, KVType k, KVType v) {
  auto kv = std::make_unique<CpuKV>();
  kv->n_layer = n_layer;
  kv->n_ctx = n_ctx;
  kv->n_head_kv = n_head_kv;
  kv->head_dim = head_dim;
  kv->kv_dim = n_head_kv * head_dim;
  kv->type_k = k;
  kv->type_v = v;
  for (KVType t : {k, v})
    if (kv_quantized(t) && head_dim % QK != 0)
      fail("KV cache type", std::string(kv_type_name(t)) + " needs a head size that is a multiple of 32; this model's is " +
                                std::to_string(head_dim));
  kv->k_row = kv_row_bytes(k, head_dim);
  kv->v_row = kv_row_bytes(v, head_dim);
  const size_t rows = static_cast<size_t>(n_layer) * n_head_kv * n_ctx;
  kv->k.resize(rows * kv->k_row);
  kv->v.resize(rows * kv->v_row);
  return kv;
}

void CpuExecutor::kv_shift(KVCache& cache, int from, int to, int n, const RopeParams& rope, int n_head_kv, int head_dim) {
  auto& kv = static_cast<CpuKV&>(cache);
  if (n <= 0) return;
  if (to < 0 || to >= from || from + n > kv.n_ctx || n_head_kv != kv.n_head_kv || head_dim != kv.head_dim)
    fail("", "internal: KV shift outside the cache");
  // Every key turns by the angles of the distance moved: RoPE's angles are
  // linear in the position, and rotations compose.
  const int half = rope.n_rot / 2;
  std::vector<float> theta(half), c(half), sn(half);
  rope.angles(to - from, theta.data());
  for (int i = 0; i < half; ++i) c[i] = std::cos(theta[i]), sn[i] = std::sin(theta[i]);
  const QuantOps& k_ops = quant_ops(kv_dtype(kv.type_k));
  pool_.parallel_for(static_cast<int64_t>(kv.n_layer) * kv.n_head_kv, [&](int64_t j0, int64_t j1, int) {
    std::vector<float> x(static_cast<size_t>(head_dim));
    for (int64_t j = j0; j < j1; ++j) {
      const int layer = static_cast<int>(j / kv.n_head_kv), h = static_cast<int>(j % kv.n_head_kv);
      for (int p = 0; p < n; ++p) {  // upwards: a row is read before anything overwrites it (to < from)
        k_ops.dequantize(kv.k_at(layer, h, from + p), x.data(), head_dim);
        for (int i = 0; i < half; ++i) {
          const int a = rope.style == RopeStyle::Interleaved ? 2 * i : i;
          const int b = rope.style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
          const float x0 = x[a], x1 = x[b];
          x[a] = x0 * c[i] - x1 * sn[i];
          x[b] = x0 * sn[i] + x1 * c[i];
        }
        store(kv.type_k, x.data(), kv.k_at(layer, h, to + p), head_dim);
        std::memmove(kv.v_at(layer, h, to + p), kv.v_at(layer, h, from + p), kv.v_row);
      }
    }
  }, threads_);
}

KernelSet::ToF32Fn CpuExecutor::to_f32(KVType t) const {
  return t == KVType::F16 ? kernels_.to_f32_f16 : t == KVType::Q8_0 ? kernels_.to_f32_q8_0 : kernels_.to_f32_q4_0;
}

void CpuExecutor::attention(const Buffer& q, const Buffer& k, const Buffer& v, const AttentionSeq* seqs, int n_seqs,
                            int layer, const AttentionShape& s, Buffer& out) {
  const int hd = s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  const int q_dim = s.n_head * hd;
  // Row t of the batch belongs to sequence seq_of[t]; every sequence's keys and values are stored first.
  std::vector<int> seq_of, n_keys;
  int max_keys = 0;
  for (int i = 0; i < n_seqs; ++i) {
    const AttentionSeq& sq = seqs[i];
    auto& kv = static_cast<CpuKV&>(*sq.kv);
    if (sq.pos0 < 0 || sq.pos0 + sq.n > kv.n_ctx) fail("", "KV cache is full");
    if (kv.head_dim != hd || kv.n_head_kv != s.n_head_kv) fail("", "internal: attention shape differs from the KV cache's");
    const int64_t row0 = static_cast<int64_t>(seq_of.size());
    for (int t = 0; t < sq.n; ++t) {
      for (int h = 0; h < s.n_head_kv; ++h) {
        store(kv.type_k, f(k) + (row0 + t) * kv.kv_dim + h * hd, kv.k_at(layer, h, sq.pos0 + t), hd);
        store(kv.type_v, f(v) + (row0 + t) * kv.kv_dim + h * hd, kv.v_at(layer, h, sq.pos0 + t), hd);
      }
      seq_of.push_back(i);
      n_keys.push_back(sq.pos0 + t + 1);
      max_keys = std::max(max_keys, sq.pos0 + t + 1);
    }
  }
  const int n = static_cast<int>(seq_of.size());
  const int threads = threads_for(n);
  ThreadPool& pool = pool_for(n);
  const float* qd = f(q);
  float* od = f(out);
  scratch_.resize(static_cast<size_t>(pool.size()));
  auto cache_of = [&](int row) -> const CpuKV& { return static_cast<const CpuKV&>(*seqs[seq_of[row]].kv); };

  // Rows in passes whose scores fit the budget (whole blocks of rows where they fit).
  const size_t per_row = static_cast<size_t>(s.n_head) * max_keys * sizeof(float);
  int pass_rows = static_cast<int>(std::clamp<size_t>(kWeightsBudget / per_row, 1, 1 << 20));
  if (pass_rows >= kRowBlock) pass_rows -= pass_rows % kRowBlock;
  // Value dimensions per item: whole rows (one stream per head) unless one
  // token's work would leave threads idle; slices keep whole blocks of 32.
  int slice = hd;
  while (s.n_head_kv * (hd / slice) < threads && slice % 64 == 0) slice /= 2;
  const int n_slices = hd / slice;

  for (int r0 = 0; r0 < n; r0 += pass_rows) {
    const int r1 = std::min(n, r0 + pass_rows);
    const int n_blocks = (r1 - r0 + kRowBlock - 1) / kRowBlock;
    int pass_keys = 0;
    for (int r = r0; r < r1; ++r) pass_keys = std::max(pass_keys, n_keys[r]);
    att_weights_.resize(static_cast<size_t>(r1 - r0) * s.n_head * pass_keys);
    float* wts = att_weights_.data();
    auto weights_of = [&](int row, int h) { return wts + (static_cast<size_t>(row - r0) * s.n_head + h) * pass_keys; };

    // 1. scores, (q . k) * scale
    const int n_ranges = (pass_keys + kKeyRange - 1) / kKeyRange;
    pool.parallel_for(static_cast<int64_t>(n_blocks) * s.n_head_kv * n_ranges, [&](int64_t j0, int64_t j1, int tid) {
      std::vector<float>& tile = scratch_[tid];
      tile.resize(static_cast<size_t>(kTile) * hd);
      for (int64_t j = j0; j < j1; ++j) {
        const int range = static_cast<int>(j % n_ranges);
        const int kvh = static_cast<int>(j / n_ranges % s.n_head_kv);
        const int b0 = r0 + static_cast<int>(j / n_ranges / s.n_head_kv) * kRowBlock, b1 = std::min(r1, b0 + kRowBlock);
        const int p_end = std::min(pass_keys, (range + 1) * kKeyRange);
        for (int p0 = range * kKeyRange; p0 < p_end; p0 += kTile) {
          const int p1 = std::min(p_end, p0 + kTile);
          const CpuKV* tile_of = nullptr;  // the cache the tile was made from
          for (int r = b0; r < b1; ++r) {
            const int np = std::min(p1, n_keys[r]) - p0;
            if (np <= 0) continue;
            const CpuKV& kv = cache_of(r);
            const float* keys = reinterpret_cast<const float*>(kv.k_at(layer, kvh, p0));
            if (kv.type_k != KVType::F32) {  // made floats once per tile, not once per query head
              if (tile_of != &kv) {  // the block's rows of one sequence share it (garbage past their keys is never read)
                to_f32(kv.type_k)(kv.k_at(layer, kvh, p0), tile.data(), static_cast<int64_t>(std::min(p1, kv.n_ctx) - p0) * hd);
                tile_of = &kv;
              }
              keys = tile.data();
            }
            for (int i = 0; i < group; ++i) {
              const int h = kvh * group + i;
              kernels_.scores16(qd + static_cast<int64_t>(r) * q_dim + h * hd, keys, hd, np, hd, s.scale,
                                    weights_of(r, h) + p0);
            }
          }
        }
      }
    }, threads);

    // 2. softmax: e_p = exp(s_p - max), weights e_p * (1 / sum e)
    pool.parallel_for(static_cast<int64_t>(r1 - r0) * s.n_head, [&](int64_t j0, int64_t j1, int) {
      for (int64_t j = j0; j < j1; ++j) {
        const int r = r0 + static_cast<int>(j / s.n_head), h = static_cast<int>(j % s.n_head);
        kernels_.softmax(weights_of(r, h), n_keys[r]);
      }
    }, threads);

    // 3. values: out = sum over p of w_p v_p, positions in order
    pool.parallel_for(static_cast<int64_t>(n_blocks) * s.n_head_kv * n_slices, [&](int64_t j0, int64_t j1, int tid) {
      std::vector<float>& tile = scratch_[tid];
      tile.resize(static_cast<size_t>(kTile) * slice);
      for (int64_t j = j0; j < j1; ++j) {
        const int d0 = static_cast<int>(j % n_slices) * slice, nd = std::min(slice, hd - d0);
        const int kvh = static_cast<int>(j / n_slices % s.n_head_kv);
        const int b0 = r0 + static_cast<int>(j / n_slices / s.n_head_kv) * kRowBlock, b1 = std::min(r1, b0 + kRowBlock);
        int block_keys = 0;
        for (int r = b0; r < b1; ++r) {
          block_keys = std::max(block_keys, n_keys[r]);
          for (int i = 0; i < group; ++i)
            std::fill_n(od + static_cast<int64_t>(r) * q_dim + (kvh * group + i) * hd + d0, nd, 0.0f);
        }
        for (int p0 = 0; p0 < block_keys; p0 += kTile) {
          const int p1 = std::min(block_keys, p0 + kTile);
          const CpuKV* tile_of = nullptr;
          for (int r = b0; r < b1; ++r) {
            const int np = std::min(p1, n_keys[r]) - p0;
            if (np <= 0) continue;
            const CpuKV& kv = cache_of(r);
            const size_t off = kv_row_bytes(kv.type_v, d0);
            const float* vals = reinterpret_cast<const float*>(kv.v_at(layer, kvh, p0) + off);
            int64_t stride = hd;
            if (kv.type_v != KVType::F32) {
              if (tile_of != &kv) {
                const KernelSet::ToF32Fn to_f32 = this->to_f32(kv.type_v);
                const int p_last = std::min(p1, kv.n_ctx);
                if (nd == hd) {  // whole rows: one call for the tile
                  to_f32(kv.v_at(layer, kvh, p0), tile.data(), static_cast<int64_t>(p_last - p0) * hd);
                } else {
                  const uint8_t* row = kv.v_at(layer, kvh, p0) + off;
                  for (int p = p0; p < p_last; ++p, row += kv.v_row) to_f32(row, tile.data() + static_cast<size_t>(p - p0) * nd, nd);
                }
                tile_of = &kv;
              }
              vals = tile.data();
              stride = nd;
            }
            for (int i = 0; i < group; ++i) {
              const int h = kvh * group + i;
              kernels_.acc_rows(weights_of(r, h) + p0, vals, stride, np, nd, od + static_cast<int64_t>(r) * q_dim + h * hd + d0);
            }
          }
        }
      }
    }, threads);
  }
}

}  // namespace edgerun::cpu
