// What the 16-row group kernels (quant/layouts.h) of every instruction set
// share: prefetching ahead of the stream of weights, and the tables that call
// a kernel compiled for a fixed number of tokens.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace edgerun::cpu {

// Generating a token streams every weight once, and one core's hardware
// prefetchers (which stop at 4 KiB pages) leave it waiting on memory well
// below the bandwidth it can draw. The kernels ask for the lines
// kPrefetchAhead bytes past the ones they are about to read (the distance
// measured best: docs/PERFORMANCE.md), into the outer caches (prefetcht1 /
// PLDL2KEEP), not L1: filled into L1 they crowd out the activation row that
// every group reads again, and one core of an AMD Zen 4 then waited on memory
// far below its bandwidth (docs/PERFORMANCE.md, session 16). One thread's range of groups is contiguous, so
// the lines ahead are the ones it reads next; past the end they are harmless.
constexpr size_t kPrefetchAhead = 8192;
constexpr int kPrefetchLocality = 2;  // __builtin_prefetch's locality: 3 into L1, 2 into L2, 1 into L3
// In an unnamed namespace, as SplitRows below: each kernel file keeps its own
// copy, compiled with its instruction set, rather than one the linker picks
// from any of them (which might use instructions another file's CPU lacks).
namespace {
inline void PrefetchAhead(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p) + kPrefetchAhead;
  for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, kPrefetchLocality);
}
}  // namespace

using GroupFn = void (*)(const void*, const void* const*, float*, int64_t);

// The 32-weight block types whose group kernels unpack the quants whole (both
// nibble halves, or through a codebook), one kernel per instruction set.
enum class Nibbles { kQ5_0, kIQ4_NL, kQ4_1, kQ5_1 };

// NT activation rows as split_q8_0 (kernels.h) lays them out, for the q4_0 and
// q8_0 kernels: each token's n quants, then its blocks' scales, then their
// offset shares (-128 x the sum of the block's quants).
namespace {
template <int NT>
struct SplitRows {
  const int8_t* q[NT] = {};
  const float* d[NT] = {};
  const int32_t* s[NT] = {};
  SplitRows(const void* const* act, int64_t n) {  // act null: none (a kernel of q8_1 or q8_K rows)
    for (int t = 0; t < NT && act; ++t) {
      q[t] = static_cast<const int8_t*>(act[t]);
      d[t] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act[t]) + n);
      s[t] = reinterpret_cast<const int32_t*>(d[t] + n / 32);
    }
  }
};
}  // namespace

// K<NT>::Run for NT = 1..N, indexed by NT - 1.
template <template <int> class K, size_t... I>
constexpr std::array<GroupFn, sizeof...(I)> ByCount(std::index_sequence<I...>) {
  return {K<static_cast<int>(I) + 1>::Run...};
}

// Any number of tokens, at most kMax per kernel call.
template <template <int> class K, int kMax>
void ByTokens(const void* group, const void* const* act, int nt, float* out, int64_t n) {
  static constexpr auto kTable = ByCount<K>(std::make_index_sequence<kMax>());
  for (int t0 = 0; t0 < nt; t0 += kMax) kTable[std::min(kMax, nt - t0) - 1](group, act + t0, out + 16 * t0, n);
}

}  // namespace edgerun::cpu
