// Test helper: re-writes a GGUF file with changes (a dropped tensor, another
// shape, other metadata), to make the damaged inputs the error tests need.
#pragma once

#include <cstring>
#include <functional>
#include <map>
#include <string_view>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf.h"

namespace test {

struct GGUFEdit {
  struct KV {
    std::string key;
    edgerun::GGUFValue value;
    std::string owned_str;  // when the test sets a new string value
    std::string owned_raw;  // when the test sets a new numeric array
  };
  struct Tensor {
    std::string name;
    edgerun::DType type;
    std::vector<int64_t> shape;
    std::string data;
  };
  std::vector<KV> kv;
  std::vector<Tensor> tensors;
  std::shared_ptr<edgerun::GGUFFile> source;  // the values point into its map

  static GGUFEdit from(std::shared_ptr<edgerun::GGUFFile> src) {
    GGUFEdit e;
    e.source = src;
    const edgerun::GGUFFile& g = *src;
    for (const auto& k : g.keys()) e.kv.push_back({k, *g.find(k), {}, {}});
    for (const auto& t : g.tensors())
      e.tensors.push_back({t.name, t.type, t.shape, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)});
    return e;
  }

  void set_string(const std::string& key, const std::string& value) {
    KV& k = entry(key);
    k.owned_str = value;
    k.value.type = edgerun::GGUFType::STRING;
  }
  // The entry for `key`, added at the end when the file has none.
  KV& entry(const std::string& key) {
    for (auto& k : kv)
      if (k.key == key) return k;
    kv.push_back({key, {}, {}, {}});
    return kv.back();
  }
  void set_uint32(const std::string& key, uint32_t v) {
    KV& k = entry(key);
    k.value.type = edgerun::GGUFType::U32;
    k.value.u = v;
    k.value.i = v;
  }
  void set_f32(const std::string& key, float v) {
    KV& k = entry(key);
    k.value.type = edgerun::GGUFType::F32;
    k.value.f = v;
  }
  void set_int_array(const std::string& key, const std::vector<int32_t>& v) {
    KV& k = entry(key);
    k.owned_raw.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    k.value.type = edgerun::GGUFType::ARRAY;
    k.value.elem_type = edgerun::GGUFType::I32;
    k.value.count = v.size();
    k.value.raw = reinterpret_cast<const uint8_t*>(k.owned_raw.data());
  }
  void drop_tensor(const std::string& name) {
    for (size_t i = 0; i < tensors.size(); ++i)
      if (tensors[i].name == name) tensors.erase(tensors.begin() + static_cast<long>(i));
  }
  Tensor* tensor(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }

  std::string bytes() const {
    std::string out = "GGUF";
    auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
    auto u32 = [&](uint32_t v) { put(&v, 4); };
    auto u64 = [&](uint64_t v) { put(&v, 8); };
    auto str = [&](std::string_view s) { u64(s.size()); put(s.data(), s.size()); };
    u32(3);
    u64(tensors.size());
    u64(kv.size());
    using T = edgerun::GGUFType;
    auto scalar_size = [](T t) -> size_t {
      switch (t) {
        case T::U8: case T::I8: case T::BOOL: return 1;
        case T::U16: case T::I16: return 2;
        case T::U32: case T::I32: case T::F32: return 4;
        default: return 8;
      }
    };
    for (const auto& k : kv) {
      str(k.key);
      const auto& v = k.value;
      u32(static_cast<uint32_t>(v.type));
      if (v.type == T::STRING) {
        str(k.owned_str.empty() ? v.str : std::string_view(k.owned_str));
      } else if (v.type == T::ARRAY) {
        u32(static_cast<uint32_t>(v.elem_type));
        u64(v.count);
        if (v.elem_type == T::STRING) for (auto s : v.strings) str(s);
        else put(v.raw, v.count * scalar_size(v.elem_type));
      } else if (v.type == T::F32) {
        const float f = static_cast<float>(v.f);
        put(&f, 4);
      } else if (v.type == T::F64) {
        put(&v.f, 8);
      } else {
        put(&v.u, scalar_size(v.type));
      }
    }
    // Tensors with the same bytes share them (GGUF allows it), so a file of
    // many cloned layers stays small.
    std::map<std::string_view, uint64_t> stored;
    std::vector<const std::string*> data;
    uint64_t offset = 0;
    for (const auto& t : tensors) {
      str(t.name);
      u32(static_cast<uint32_t>(t.shape.size()));
      for (int64_t d : t.shape) u64(static_cast<uint64_t>(d));
      u32(static_cast<uint32_t>(t.type));
      auto [at, fresh] = stored.emplace(t.data, offset);
      u64(at->second);
      if (fresh) {
        data.push_back(&t.data);
        offset += (t.data.size() + 31) / 32 * 32;
      }
    }
    out.resize((out.size() + 31) / 32 * 32, '\0');
    for (const std::string* d : data) {
      out += *d;
      out.resize((out.size() + 31) / 32 * 32, '\0');
    }
    return out;
  }
};

}  // namespace test
