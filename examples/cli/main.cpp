#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "commands.h"
#include "common/printable.h"
#include "env_settings.h"
#include "common/log.h"
#include "model/source.h"

namespace edgerun::cli {

void EvalOptions::add_to(CLI::App& app) {
  app.add_option("-m,--model", model, "model: a .gguf or .erm file, or a Hugging Face folder")->required();
  app.add_option("-t,--threads", threads, "threads for generation (default: physical cores, at most the CPUs allowed)")->check(CLI::NonNegativeNumber);
  app.add_option("--threads-batch", threads_batch, "threads for prompt processing, also -tb (default: as -t)")->check(CLI::NonNegativeNumber);
  app.add_option("-c,--ctx-size", ctx, "context size in tokens")->check(CLI::Range(1, 1 << 20));
  const std::vector<std::string> kv_types = {"f32", "f16", "q8_0", "q4_0"};
  app.add_option("--kv-type", kv_type, "KV cache type: f32, f16, q8_0 or q4_0 (keys and values)")->check(CLI::IsMember(kv_types));
  app.add_option("--cache-type-k", cache_type_k, "KV cache type of the keys (also -ctk; default: --kv-type)")->check(CLI::IsMember(kv_types));
  app.add_option("--cache-type-v", cache_type_v, "KV cache type of the values (also -ctv; default: --kv-type)")->check(CLI::IsMember(kv_types));
  app.add_option("--backend", backend, "backend: auto or a registered name")->envname("EDGERUN_BACKEND");
  app.add_option("--device", device, "GPU backends: device index (edgerun info --backends)")->check(CLI::Range(0, 1000));
  app.add_option("--gpu-layers", gpu_layers, "GPU backends: layers on the GPU, the last ones; the rest on the cpu (also -ngl; default all)")
      ->check(CLI::Range(0, 100000));
}

void SamplingOptions::add_to(CLI::App& app) {
  temp = app.add_option("--temp", params.temperature, "temperature (0: greedy)")->check(CLI::Range(0.0, 100.0));
  top_k = app.add_option("--top-k", params.top_k, "top-k (0: off)")->check(CLI::Range(0, 1 << 24));
  top_p = app.add_option("--top-p", params.top_p, "top-p (1: off)")->check(CLI::Range(0.0, 1.0));
  min_p = app.add_option("--min-p", params.min_p, "min-p (0: off)")->check(CLI::Range(0.0, 1.0));
  app.add_option("--repeat-penalty", params.repeat_penalty, "repetition penalty (1: off)")->check(CLI::Range(0.0, 100.0));
  app.add_option("--repeat-last-n", params.repeat_last_n, "tokens the penalty looks back at")->check(CLI::Range(0, 1 << 20));
  app.add_option("-s,--seed", params.seed, "random seed (the same seed gives the same text)");
}

SamplerParams SamplingOptions::resolve(const Model& model, std::string* origin) const {
  SamplerParams p = params;
  const SamplingDefaults d = sampling_defaults(model.source().metadata());
  std::string line;
  auto pick = [&](const char* name, CLI::Option* flag, const auto& model_value, auto& value) {
    const char* from = "default";
    if (flag && flag->count() > 0) {
      from = "flag";
    } else if (model_value) {
      value = *model_value;
      from = "model";
    }
    std::ostringstream v;
    v << value;
    line += std::string(line.empty() ? "" : ", ") + name + " " + v.str() + " (" + from + ")";
  };
  pick("temperature", temp, d.temperature, p.temperature);
  pick("top-k", top_k, d.top_k, p.top_k);
  pick("top-p", top_p, d.top_p, p.top_p);
  pick("min-p", min_p, d.min_p, p.min_p);
  if (origin) *origin = line;
  return p;
}

SessionOptions EvalOptions::session() const {
  SessionOptions o;
  o.n_ctx = ctx;
  o.n_threads = threads;
  o.n_threads_batch = threads_batch;
  o.kv_type = kv_k();
  o.kv_type_v = kv_v();
  return o;
}

namespace {
KVType kv_named(const std::string& name) {
  KVType t = KVType::F16;
  if (!parse_kv_type(name, &t)) fail("--kv-type", "unknown KV cache type '" + name + "' (f32, f16, q8_0, q4_0)");
  return t;
}
}  // namespace

KVType EvalOptions::kv_k() const { return kv_named(cache_type_k.empty() ? kv_type : cache_type_k); }
KVType EvalOptions::kv_v() const { return kv_named(cache_type_v.empty() ? kv_type : cache_type_v); }

std::string EvalOptions::kv_description() const {
  if (kv_k() == kv_v()) return kv_type_name(kv_k());
  return std::string("K ") + kv_type_name(kv_k()) + ", V " + kv_type_name(kv_v());
}

void EvalOptions::check_kv(const Model& model) const {
  const struct { KVType type; const char* flag; } asked[] = {{kv_k(), cache_type_k.empty() ? "--kv-type" : "-ctk"},
                                                          {kv_v(), cache_type_v.empty() ? "--kv-type" : "-ctv"}};
  for (const auto& a : asked) {
    if (kv_quantized(a.type) && model.hparams().head_dim % 32 != 0)
      fail(a.flag, std::string("KV cache type ") + kv_type_name(a.type) + " needs a head size that is a multiple of 32; this model's is " +
                       std::to_string(model.hparams().head_dim) + " (f32 and f16 fit any)", ErrorKind::Unsupported);
    for (int b = 0; b < model.n_backends(); ++b)
      if (!model.backend(b).supports_kv(a.type))
        fail(a.flag, std::string("KV cache type ") + kv_type_name(a.type) + " is not supported by the " + model.backend(b).name() +
                         " backend, which keeps f32 or f16 (use --backend cpu for " + kv_type_name(a.type) + ")",
             ErrorKind::Unsupported);
  }
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) { b /= 1024; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

}  // namespace edgerun::cli

namespace {
// The library names the setting an error is about; the command line names its flag.
std::string with_flag_names(std::string msg) {
  static const std::pair<const char*, const char*> flags[] = {
      {"context size: ", "-c: "}, {"batch size: ", "-b: "}, {"backend: ", "--backend: "}, {"device: ", "--device: "},
      {"gpu layers: ", "--gpu-layers: "}, {"quantization: ", "--quant: "}, {"simd target: ", "EDGERUN_SIMD: "},
      {"onednn type: ", "EDGERUN_ONEDNN_TYPE: "}, {"KV cache type: ", "--kv-type: "}, {"threads: ", "-t: "},
      {"batch threads: ", "-tb: "}};
  for (const auto& [field, flag] : flags)
    if (msg.rfind(field, 0) == 0) return flag + msg.substr(std::strlen(field));
  const std::string overwrite = "(the converter's overwrite option replaces it)";
  if (const size_t at = msg.find(overwrite); at != std::string::npos) msg.replace(at, overwrite.size(), "(--force overwrites it)");
  return msg;
}
}  // namespace

#ifndef EDGERUN_WITH_SERVER
namespace edgerun::cli {
void add_serve(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("serve", "an OpenAI-compatible HTTP server (not in this build)");
  sub->allow_extras();
  sub->callback([] {
    fail("", "this edgerun was built without the server: cpp-httplib was not found when it was built "
             "(Debian: libcpp-httplib-dev; then build again)", ErrorKind::Unsupported);
  });
}
}  // namespace edgerun::cli
#endif

int main(int argc, char** argv) {
  // The library never prints: its messages come here.
  edgerun::set_log_sink([](edgerun::LogLevel, const char* message, void*) { std::fprintf(stderr, "edgerun: %s\n", message); }, nullptr);
  CLI::App app{"edgerun: run small language models on CPUs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgerun 0.1.0");
  edgerun::cli::add_run(app);
  edgerun::cli::add_chat(app);
  edgerun::cli::add_logits(app);
  edgerun::cli::add_info(app);
  edgerun::cli::add_tokenize(app);
  edgerun::cli::add_template(app);
  edgerun::cli::add_bench(app);
  edgerun::cli::add_convert(app);
  edgerun::cli::add_serve(app);
  // llama.cpp's users type -tb; CLI11 takes one-letter short options only.
  std::vector<std::string> words(argv, argv + argc);
  std::vector<char*> args;
  for (auto& w : words) {
    if (w == "-tb") w = "--threads-batch";
    if (w == "-ngl") w = "--gpu-layers";
    if (w == "-np") w = "--parallel";
    if (w == "-ctk") w = "--cache-type-k";
    if (w == "-ctv") w = "--cache-type-v";
    args.push_back(w.data());
  }
  try {
    edgerun::set_backend_settings(edgerun::cli::settings_from_environment());
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error.
    std::fprintf(stderr, "edgerun: error: %s (see --help)\n", edgerun::printable(e.what()).c_str());
    return e.get_exit_code();
  } catch (const edgerun::Error& e) {
    std::fflush(stdout);
    // Messages quote names and text from files: shown, never obeyed by the terminal.
    std::fprintf(stderr, "edgerun: error: %s\n", edgerun::printable(with_flag_names(e.what())).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "edgerun: error: %s\n", edgerun::printable(e.what()).c_str());
    return 1;
  }
  return 0;
}
