#include "types.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "quant.h"

namespace edgerun {
namespace {

struct Entry { uint32_t id; DTypeTraits traits; };

// Block sizes and byte sizes as GGUF defines them.
const Entry kTypes[] = {
    {0, {"f32", 1, 4, true}},       {1, {"f16", 1, 2, true}},
    {2, {"q4_0", 32, 18, true}},    {3, {"q4_1", 32, 20, true}},
    {6, {"q5_0", 32, 22, true}},    {7, {"q5_1", 32, 24, true}},
    {8, {"q8_0", 32, 34, true}},    {9, {"q8_1", 32, 36, true}},
    {10, {"q2_k", 256, 84, true}},  {11, {"q3_k", 256, 110, true}},
    {12, {"q4_k", 256, 144, true}}, {13, {"q5_k", 256, 176, true}},
    {14, {"q6_k", 256, 210, true}}, {15, {"q8_k", 256, 292, true}},
    {20, {"iq4_nl", 32, 18, true}}, {23, {"iq4_xs", 256, 136, true}},
    {24, {"i8", 1, 1, true}},       {25, {"i16", 1, 2, true}},
    {26, {"i32", 1, 4, true}},      {27, {"i64", 1, 8, true}},
    {28, {"f64", 1, 8, true}},      {30, {"bf16", 1, 2, true}},
};

const DTypeTraits kUnknown = {"unknown", 1, 0, false};

// GGUF's types this build does not run (ids of types GGUF has since removed are left out).
const struct { uint32_t id; const char* name; } kOtherGGUFTypes[] = {
    {16, "iq2_xxs"}, {17, "iq2_xs"}, {18, "iq3_xxs"}, {19, "iq1_s"}, {21, "iq3_s"},
    {22, "iq2_s"},   {29, "iq1_m"},  {34, "tq1_0"},   {35, "tq2_0"}, {39, "mxfp4"},
};

}  // namespace

std::string unsupported_type_reason(uint32_t raw_id) {
  for (const auto& o : kOtherGGUFTypes) {
    if (o.id != raw_id) continue;
    std::string runs;
    for (const auto& e : kTypes)
      if (quant_ops(static_cast<DType>(e.id)).vec_dot) runs += std::string(runs.empty() ? "" : ", ") + e.traits.name;
    return std::string("has type ") + o.name + " (GGUF type " + std::to_string(raw_id) +
           "), which edgerun does not run (it runs " + runs + ")";
  }
  return "has unknown tensor type id " + std::to_string(raw_id);
}

const DTypeTraits& dtype_traits(uint32_t raw_id) {
  for (const auto& e : kTypes)
    if (e.id == raw_id) return e.traits;
  return kUnknown;
}

const DTypeTraits& dtype_traits(DType t) { return dtype_traits(static_cast<uint32_t>(t)); }

size_t dtype_row_bytes(DType t, int64_t n) {
  const auto& tr = dtype_traits(t);
  return static_cast<size_t>(n / tr.block_size) * tr.block_bytes;
}

bool dtype_from_name(const std::string& name, DType* out) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& e : kTypes) {
    if (lower == e.traits.name) {
      *out = static_cast<DType>(e.id);
      return true;
    }
  }
  return false;
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const QuantOps& ops = quant_ops(t);
  if (!ops.dequantize) fail("", std::string("no dequantizer for type ") + dtype_name(t) + " in this build");
  ops.dequantize(src, dst, n);
}

}  // namespace edgerun
