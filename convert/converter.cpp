#include "converter.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "cpu/thread_pool.h"
#include "formats/erm.h"
#include "model/source.h"
#include "quant.h"
#include "quant_mix.h"

namespace edgerun {

ConvertSummary convert_model(const std::string& src_path, const std::string& out, const ConvertOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  auto src = open_model_source(src_path);
  const Metadata& in_meta = src->metadata();

  // Metadata: the source's keys, plus the Hugging Face tokenizer files verbatim.
  Metadata meta(out);
  for (const auto& k : in_meta.keys()) {
    if (k == "general.alignment" || k == "general.file_type") continue;
    meta.set(k, *in_meta.find(k));
  }
  if (src->format().rfind("Hugging Face", 0) == 0) {
    const std::string dir = src->path();
    meta.set_string(keys::kTokenizerJson, read_file(dir + "/tokenizer.json"));
    if (file_exists(dir + "/tokenizer_config.json")) meta.set_string(keys::kTokenizerConfig, read_file(dir + "/tokenizer_config.json"));
  }
  src->make_tokenizer();  // fail now, not at first use, if the tokenizer is unusable
  meta.set_string("edgerun.converted_from", src->format());
  meta.set_string("edgerun.quantization", o.quant);

  const std::string arch = in_meta.get_string("general.architecture");
  // Hugging Face Llama checkpoints keep q/k rows in "rotate half" order; the
  // .erm takes GGUF's interleaved order, so a model has one layout whatever
  // it was converted from (and quantizes to the same bits as llama.cpp's).
  const bool hf_llama = src->format().rfind("Hugging Face", 0) == 0 && arch == "llama";
  const int n_head = static_cast<int>(in_meta.get_uint(arch + ".attention.head_count", 1));
  const int n_head_kv = static_cast<int>(in_meta.get_uint(arch + ".attention.head_count_kv", n_head));
  QuantMix mix(o.quant, static_cast<int>(in_meta.get_uint(arch + ".block_count")), src->find_tensor("output.weight") != nullptr,
               static_cast<int>(in_meta.get_uint(arch + ".expert_count", 0)), n_head_kv > 0 ? n_head / n_head_kv : 1);
  auto permute_heads = [&](const std::string& name) {
    if (!hf_llama) return 0;
    auto ends = [&](const char* s) { const size_t n = std::strlen(s); return name.size() >= n && name.compare(name.size() - n, n, s) == 0; };
    return ends("attn_q.weight") ? n_head : ends("attn_k.weight") ? n_head_kv : 0;
  };
  if (hf_llama) meta.set_string(keys::kRopeStyle, "interleaved");
  std::vector<TensorInfo> plan;
  for (const auto& t : src->tensors()) {
    TensorInfo p = t;
    p.type = mix.choose(t);
    // The embedding is looked up by rows; every other matrix the group
    // kernels read is stored as they read it.
    const bool grouped = o.grouped && t.name != "token_embd.weight" && t.shape.size() == 2 &&
                         x16_stored(p.type, t.shape[1], t.shape[0]);
    p.layout = grouped ? kLayoutX16 : kLayoutRows;
    plan.push_back(p);
  }
  ErmWriter writer(out, meta, plan, o.overwrite);
  ThreadPool pool(o.n_threads);
  ConvertSummary sum;
  std::vector<uint8_t> buf, in_rows, grouped, stacked;
  const auto& tensors = src->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    TensorInfo in = tensors[i];
    const DType to = plan[i].type;
    sum.n_params += static_cast<uint64_t>(in.n_elements());
    const int64_t row = in.shape[0], rows = in.n_elements() / row;
    const int heads = permute_heads(in.name);
    // Output row r comes from input row source_row(r).
    auto source_row = [&](int64_t r) -> int64_t {
      if (!heads) return r;
      const int64_t hd = rows / heads, h = r / hd, k = r % hd;
      return h * hd + (k % 2) * (hd / 2) + k / 2;  // GGUF pairs (x_i, x_{i+hd/2}) as adjacent rows
    };
    if (!in.parts.empty()) {  // a Hugging Face MoE layer's experts, stacked here
      stacked.resize(in.nbytes);
      const size_t part = in.nbytes / in.parts.size();
      for (size_t e = 0; e < in.parts.size(); ++e) std::memcpy(stacked.data() + e * part, in.parts[e], part);
      in.data = stacked.data();
      in.parts.clear();
    }
    if (in.layout == kLayoutX16) {  // an .erm source: back to rows first
      in_rows.resize(dtype_row_bytes(in.type, in.n_elements()));
      x16_to_rows(in.type, in.data, rows, row, in_rows.data());
      in.data = in_rows.data();
      in.layout = kLayoutRows;
    }
    // Writes the tensor's rows in the planned layout.
    auto write = [&](const uint8_t* data, size_t nbytes) {
      if (plan[i].layout == kLayoutRows) return writer.write_tensor(i, data, nbytes);
      grouped.resize(tensor_bytes(plan[i]));
      rows_to_x16(to, data, rows, row, grouped.data());
      writer.write_tensor(i, grouped.data(), grouped.size());
    };
    if (in.type == to && !heads) {
      write(in.data, dtype_row_bytes(in.type, in.n_elements()));
    } else {
      const size_t in_row = dtype_row_bytes(in.type, row), out_row = dtype_row_bytes(to, row);
      buf.resize(out_row * rows);
      const QuantOps& dec = quant_ops(in.type);
      const QuantOps& enc = quant_ops(to);
      if (!dec.dequantize) fail(src->path(), "tensor '" + in.name + "' has type " + dtype_name(in.type) + ", which this build cannot read");
      pool.parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
        std::vector<float> f(static_cast<size_t>(row));
        for (int64_t r = r0; r < r1; ++r) {
          const uint8_t* from = in.data + source_row(r) * in_row;
          if (in.type == to) {
            std::memcpy(buf.data() + r * out_row, from, out_row);
          } else {
            dec.dequantize(from, f.data(), row);
            enc.quantize(f.data(), buf.data() + r * out_row, row);
          }
        }
      });
      write(buf.data(), buf.size());
    }
    src->release(tensors[i]);
    if (o.progress) o.progress(i + 1, tensors.size(), 0);
  }
  writer.finish();
  sum.n_tensors = tensors.size();
  sum.bytes = writer.bytes_planned();
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t weight_bytes = 0;
  for (const auto& p : plan) weight_bytes += dtype_row_bytes(p.type, p.n_elements());
  sum.bits_per_weight = sum.n_params ? 8.0 * weight_bytes / sum.n_params : 0;
  return sum;
}

}  // namespace edgerun
