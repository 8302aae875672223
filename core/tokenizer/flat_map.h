// Open-addressing hash tables for the tokenizer's two big lookups (token text
// -> id, token pair -> merge). A vocabulary has ~150k entries; node-based maps
// spend most of the load time allocating, these allocate once.
#pragma once

#define XXH_INLINE_ALL  // header-only use of xxhash: no library to link
#include <xxhash.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgerun {

// Maps strings to ids; the strings themselves live in a caller-owned table
// (`keys[id]`), so each slot holds only an id.
class TokenIndex {
 public:
  void build(const std::vector<std::string>& keys, const std::vector<bool>& include) {
    keys_ = &keys;
    size_t cap = 16;
    while (cap < keys.size() * 2) cap <<= 1;
    slots_.assign(cap, -1);
    mask_ = cap - 1;
    for (size_t id = 0; id < keys.size(); ++id) {
      if (!include[id]) continue;
      size_t h = hash(keys[id]) & mask_;
      bool dup = false;
      while (slots_[h] >= 0) {
        if (keys[static_cast<size_t>(slots_[h])] == keys[id]) { dup = true; break; }  // first id wins
        h = (h + 1) & mask_;
      }
      if (!dup) slots_[h] = static_cast<int32_t>(id);
    }
  }
  int32_t find(std::string_view k) const {
    if (slots_.empty()) return -1;
    for (size_t h = hash(k) & mask_;; h = (h + 1) & mask_) {
      const int32_t id = slots_[h];
      if (id < 0) return -1;
      if ((*keys_)[static_cast<size_t>(id)] == k) return id;
    }
  }

 private:
  static size_t hash(std::string_view s) { return static_cast<size_t>(XXH3_64bits(s.data(), s.size())); }
  const std::vector<std::string>* keys_ = nullptr;
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
};

// Maps a token pair (a, b) to its merge: rank and resulting token.
class MergeTable {
 public:
  struct Merge { int32_t rank, result; };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, {0, 0});
    mask_ = cap - 1;
    size_ = 0;
  }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Keeps the first (best-ranked) merge of a pair.
  void insert(int32_t a, int32_t b, Merge m) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    const uint64_t k = key(a, b);
    size_t h = mix(k) & mask_;
    while (keys_[h] != kEmpty) {
      if (keys_[h] == k) return;
      h = (h + 1) & mask_;
    }
    keys_[h] = k;
    vals_[h] = m;
    ++size_;
  }
  const Merge* find(int32_t a, int32_t b) const {
    if (size_ == 0) return nullptr;
    const uint64_t k = key(a, b);
    for (size_t h = mix(k) & mask_;; h = (h + 1) & mask_) {
      if (keys_[h] == k) return &vals_[h];
      if (keys_[h] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
  static size_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return static_cast<size_t>(x);
  }
  void grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Merge> old_vals = std::move(vals_);
    reserve(old_keys.empty() ? 16 : old_keys.size());
    for (size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != kEmpty) insert(static_cast<int32_t>(old_keys[i] >> 32), static_cast<int32_t>(old_keys[i] & 0xffffffffu), old_vals[i]);
  }
  std::vector<uint64_t> keys_;
  std::vector<Merge> vals_;
  size_t mask_ = 0, size_ = 0;
};

}  // namespace edgerun
