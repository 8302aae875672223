#include "formats/kv_codec.h"

namespace edgerun {

namespace {

constexpr uint64_t kMaxArrayCount = 1ull << 32;

bool valid_type(uint32_t t) { return t <= 12; }

void read_scalar(Cursor& c, GGUFType t, GGUFValue& v, const std::string& what) {
  switch (t) {
    case GGUFType::U8: v.u = c.read<uint8_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I8: v.i = c.read<int8_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::U16: v.u = c.read<uint16_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I16: v.i = c.read<int16_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::U32: v.u = c.read<uint32_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I32: v.i = c.read<int32_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::U64: v.u = c.read<uint64_t>(what); v.i = static_cast<int64_t>(v.u); break;
    case GGUFType::I64: v.i = c.read<int64_t>(what); v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::F32: v.f = c.read<float>(what); break;
    case GGUFType::F64: v.f = c.read<double>(what); break;
    case GGUFType::BOOL: v.i = c.read<uint8_t>(what) != 0; v.u = static_cast<uint64_t>(v.i); break;
    case GGUFType::STRING: v.str = c.read_string(what); break;
    default: break;
  }
}

}  // namespace

void read_kv_entries(Cursor& c, uint64_t n_kv, Metadata& out) {
  const std::string& p = c.path();
  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string key(c.read_string("metadata key #" + std::to_string(k)));
    const uint32_t raw_type = c.read<uint32_t>("type of metadata '" + key + "'");
    if (!valid_type(raw_type)) fail(p, "metadata '" + key + "' has unknown value type " + std::to_string(raw_type));
    GGUFValue v;
    v.type = static_cast<GGUFType>(raw_type);
    const std::string what = "metadata '" + key + "'";
    if (v.type == GGUFType::ARRAY) {
      const uint32_t et = c.read<uint32_t>(what + " (element type)");
      if (!valid_type(et) || et == static_cast<uint32_t>(GGUFType::ARRAY))
        fail(p, what + " has unsupported array element type " + std::to_string(et));
      v.elem_type = static_cast<GGUFType>(et);
      v.count = c.read<uint64_t>(what + " (element count)");
      if (v.count > kMaxArrayCount) fail(p, what + " has an implausible element count");
      if (v.elem_type == GGUFType::STRING) {
        // Each string takes 8 bytes of length at least: a count the rest of the
        // file cannot hold is damage, found before anything is reserved for it.
        if (v.count > c.left() / 8)
          fail(p, what + " claims " + std::to_string(v.count) + " strings, more than the " + std::to_string(c.left()) +
                      " bytes left can hold (file truncated or corrupt)");
        v.strings.reserve(v.count);
        for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(c.read_string(what));
      } else {
        v.raw = c.take(v.count * gguf_scalar_size(v.elem_type), what);
      }
    } else {
      read_scalar(c, v.type, v, what);
    }
    if (out.has(key)) fail(p, "duplicate metadata key '" + key + "'");
    out.set(key, std::move(v));
  }
}

void write_kv_entries(std::string& out, const Metadata& m) {
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  auto str = [&](std::string_view s) { u64(s.size()); put(s.data(), s.size()); };
  for (const auto& key : m.keys()) {
    const GGUFValue& v = *m.find(key);
    str(key);
    u32(static_cast<uint32_t>(v.type));
    switch (v.type) {
      case GGUFType::STRING: str(v.str); break;
      case GGUFType::ARRAY:
        u32(static_cast<uint32_t>(v.elem_type));
        u64(v.count);
        if (v.elem_type == GGUFType::STRING) for (auto s : v.strings) str(s);
        else put(v.raw, v.count * gguf_scalar_size(v.elem_type));
        break;
      case GGUFType::F32: { const float f = static_cast<float>(v.f); put(&f, 4); break; }
      case GGUFType::F64: put(&v.f, 8); break;
      default: put(&v.u, gguf_scalar_size(v.type)); break;  // little-endian: the low bytes
    }
  }
}

}  // namespace edgerun
