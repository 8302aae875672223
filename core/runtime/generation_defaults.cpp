#include "runtime/generation_defaults.h"

#include <cmath>

#include "formats/metadata.h"

namespace edgerun {

namespace {
std::optional<double> number(const Metadata& meta, const char* key, double lo, double hi) {
  const GGUFValue* v = meta.find(key);
  if (!v) return std::nullopt;
  double x;
  if (v->is_float()) {
    x = v->f;
  } else if (v->is_integer()) {
    x = v->type == GGUFType::U64 ? static_cast<double>(v->u) : static_cast<double>(v->i);
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(x) || x < lo || x > hi) return std::nullopt;
  return x;
}
}  // namespace

SamplingDefaults sampling_defaults(const Metadata& meta) {
  SamplingDefaults d;
  if (auto v = number(meta, "general.sampling.temp", 0, 100)) d.temperature = static_cast<float>(*v);
  if (auto v = number(meta, "general.sampling.top_p", 0, 1)) d.top_p = static_cast<float>(*v);
  if (auto v = number(meta, "general.sampling.min_p", 0, 1)) d.min_p = static_cast<float>(*v);
  if (auto v = number(meta, "general.sampling.top_k", 0, 1 << 24)) d.top_k = static_cast<int>(*v);
  return d;
}

}  // namespace edgerun
