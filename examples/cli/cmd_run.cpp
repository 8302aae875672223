// edgerun run: generate text from a prompt, streaming it as it comes.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "common/files.h"
#include "cpu/kernels.h"

namespace edgerun::cli {

namespace {
struct RunOptions {
  EvalOptions eval;
  std::string prompt;
  std::string prompt_file;
  int n_predict = 128;
  SamplerParams sampling;
  bool verbose = false;
};

void run(const RunOptions& o) {
  std::string prompt = o.prompt;
  if (!o.prompt_file.empty()) {
    prompt = read_file(o.prompt_file);
  }
  auto mem = estimate_memory(o.eval.model, o.eval.ctx, o.eval.kv());
  if (!mem) throw Error(mem.message());
  std::fprintf(stderr, "edgerun: weights %s (mapped) + KV cache %s (%d tokens, %s)\n",
               human_bytes(static_cast<double>(mem->weight_bytes)).c_str(),
               human_bytes(static_cast<double>(mem->kv_bytes)).c_str(), o.eval.ctx, o.eval.kv_type.c_str());
  auto model = load_model(o.eval.model, o.eval.load());
  if (!model) throw Error(model.message());
  auto session = new_session(**model, o.eval.session());
  if (!session) throw Error(session.message());
  if (o.verbose) {
    const HParams& hp = (*model)->hparams();
    std::fprintf(stderr, "edgerun: %s, %d layers, backend %s, SIMD target %s, %d threads\n", hp.arch.c_str(), hp.n_layer,
                 (*model)->backend_summary().c_str(), cpu::best_kernels().target,
                 o.eval.threads > 0 ? o.eval.threads : default_thread_count());
    std::string types;
    for (const auto& [name, count] : (*model)->type_counts()) types += " " + name + " x" + std::to_string(count);
    std::fprintf(stderr, "edgerun: tensor types%s; kernels: SIMD for q4_0 q8_0 q4_k q6_k f16 f32, scalar reference for the rest; %s\n",
                 types.c_str(), cpu::best_kernels().group_q4_0x16 ? "q4_0/q8_0/q4_K/q6_K/f16 rows regrouped 16 at a time (cpu)" : "row layout");
  }
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  auto st = generate(**session, prompt, o.sampling, o.n_predict < 0 ? (*session)->n_ctx() : o.n_predict,
                     [](const std::string& piece) {
                       std::fwrite(piece.data(), 1, piece.size(), stdout);
                       std::fflush(stdout);
                       return true;
                     });
  if (!st) throw Error(st.message());
  std::fputs("\n", stdout);
  std::fflush(stdout);
  const GenerateStats& s = *st;
  std::fprintf(stderr, "edgerun: prompt %d tokens in %.3f s (%.1f tok/s), generated %d tokens in %.3f s (%.1f tok/s)%s\n",
               s.n_prompt, s.prompt_seconds, s.n_prompt / std::max(s.prompt_seconds, 1e-9), s.n_generated, s.gen_seconds,
               s.n_generated / std::max(s.gen_seconds, 1e-9), s.stopped_at_eog ? ", stopped at end of generation" : "");
}
}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "generate text from a prompt");
  o->eval.add_to(*sub);
  sub->add_option("-p,--prompt", o->prompt, "prompt text");
  sub->add_option("-f,--file", o->prompt_file, "read the prompt from a file");
  sub->add_option("-n,--n-predict", o->n_predict, "tokens to generate (-1: until the context is full)")
      ->check(CLI::Range(-1, 1 << 24));
  sub->add_option("--temp", o->sampling.temperature, "temperature (0: greedy)")->check(CLI::Range(0.0, 100.0));
  sub->add_option("--top-k", o->sampling.top_k, "top-k (0: off)")->check(CLI::Range(0, 1 << 24));
  sub->add_option("--top-p", o->sampling.top_p, "top-p (1: off)")->check(CLI::Range(0.0, 1.0));
  sub->add_option("--min-p", o->sampling.min_p, "min-p (0: off)")->check(CLI::Range(0.0, 1.0));
  sub->add_option("--repeat-penalty", o->sampling.repeat_penalty, "repetition penalty (1: off)")->check(CLI::Range(0.0, 100.0));
  sub->add_option("--repeat-last-n", o->sampling.repeat_last_n, "tokens the penalty looks back at")->check(CLI::Range(0, 1 << 20));
  sub->add_option("-s,--seed", o->sampling.seed, "random seed (the same seed gives the same text)");
  sub->add_flag("-v,--verbose", o->verbose, "print what was chosen");
  sub->callback([o] { run(*o); });
}

}  // namespace edgerun::cli
