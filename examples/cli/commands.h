// The edgerun command line: one binary, one file per subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/files.h"
#include "edgerun.hpp"

namespace edgerun::cli {

// Options shared by every command that evaluates a model.
struct EvalOptions {
  std::string model;
  int threads = 0;
  int threads_batch = 0;
  int ctx = 4096;
  std::string kv_type = "f16";
  std::string cache_type_k, cache_type_v;  // -ctk, -ctv: keys or values apart from --kv-type
  std::string backend = "auto";
  int device = -1;
  int gpu_layers = -1;

  void add_to(CLI::App& app);
  LoadOptions load() const { return LoadOptions{backend, device, gpu_layers}; }
  KVType kv_k() const;
  KVType kv_v() const;
  // "q8_0" or "K q8_0, V f16" for messages.
  std::string kv_description() const;
  // A KV type the model's backends do not keep fails here, naming the flag that asked for it.
  void check_kv(const Model& model) const;
  SessionOptions session() const;
};

// Sampling flags shared by run and chat. A flag the user gives wins; then the
// model's recommended value (generation_config.json, GGUF general.sampling.*);
// then edgerun's default.
struct SamplingOptions {
  SamplerParams params;
  CLI::Option* temp = nullptr;
  CLI::Option* top_k = nullptr;
  CLI::Option* top_p = nullptr;
  CLI::Option* min_p = nullptr;

  void add_to(CLI::App& app);
  // The sampling to use with `model`; `origin` (if given) gets one line saying where each value came from.
  SamplerParams resolve(const Model& model, std::string* origin) const;
};

void add_run(CLI::App& app);
void add_chat(CLI::App& app);
void add_logits(CLI::App& app);
void add_info(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_template(CLI::App& app);
void add_bench(CLI::App& app);
void add_convert(CLI::App& app);
void add_serve(CLI::App& app);  // cmd_serve.cpp, or main.cpp's note that this build has none


std::string human_bytes(double bytes);
// How the cpu backend multiplies by each matrix type `m` holds: "q4_0 16-row
// groups, iq4_xs SIMD rows, q5_k scalar reference" (cmd_info.cpp).
std::string kernel_summary(const Model& m);

}  // namespace edgerun::cli
