// edgerun run: generate text from a prompt, streaming it as it comes.
#include <climits>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "chat_output.h"
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
  SamplingOptions sampling;
  bool verbose = false;
  bool chat = false;
  std::string system;
  std::string reasoning = "show";
  bool no_think = false;
  int keep = 0;
  bool no_context_shift = false;
};

void run(const RunOptions& o) {
  std::string prompt = o.prompt;
  if (!o.prompt_file.empty()) {
    prompt = read_file(o.prompt_file);
  }
  auto mem = estimate_memory(o.eval.model, o.eval.ctx, o.eval.kv_k(), o.eval.kv_v());
  if (!mem) throw Error(mem.message());
  std::fprintf(stderr, "edgerun: weights %s (mapped) + KV cache %s (%d tokens, %s)\n",
               human_bytes(static_cast<double>(mem->weight_bytes)).c_str(),
               human_bytes(static_cast<double>(mem->kv_bytes)).c_str(), o.eval.ctx, o.eval.kv_description().c_str());
  auto model = load_model(o.eval.model, o.eval.load());
  if (!model) throw Error(model.message());
  o.eval.check_kv(**model);
  SessionOptions so = o.eval.session();
  // Plain generation goes on past a full context, as llama.cpp's -n -1 does (a chat drops turns instead).
  if (!o.chat && !o.no_context_shift) so.n_keep = o.keep;
  auto session = new_session(**model, so);
  if (!session) throw Error(session.message());
  if (o.verbose) {
    const HParams& hp = (*model)->hparams();
    const int threads = o.eval.threads > 0 ? o.eval.threads : default_thread_count();
    std::fprintf(stderr, "edgerun: %s, %d layers, backend %s, SIMD target %s, %d threads for generation, %d for prompts\n",
                 hp.arch.c_str(), hp.n_layer, (*model)->backend_summary().c_str(), cpu::best_kernels().target, threads,
                 o.eval.threads_batch > 0 ? o.eval.threads_batch : threads);
    std::string types;
    for (const auto& [name, count] : (*model)->type_counts()) types += " " + name + " x" + std::to_string(count);
    std::fprintf(stderr, "edgerun: tensor types%s; cpu kernels: %s\n", types.c_str(), kernel_summary(**model).c_str());
  }
  std::string origin;
  const SamplerParams sampling = o.sampling.resolve(**model, &origin);
  if (o.verbose) std::fprintf(stderr, "edgerun: sampling: %s\n", origin.c_str());
  if (o.chat) {
    ChatOptions co;
    if (o.no_think) co.enable_thinking = false;
    Chat chat(**session, co);
    chat.set_system(o.system);
    chat.add("user", prompt);
    TurnParams tp;
    tp.sampling = sampling;
    tp.max_tokens = o.n_predict;
    PieceWriter writer(parse_reasoning_mode(o.reasoning), false, stdout);
    const TurnStats ts = chat.respond(tp, [&](const Piece& p) {
      writer.write(p);
      return true;
    });
    writer.finish();
    std::fprintf(stderr, "edgerun: %s\n", describe_turn(ts).c_str());
    return;
  }
  // The prompt is echoed once it has been read (with the first piece), so a
  // prompt the model refuses leaves only the error on the screen.
  bool echoed = false;
  auto echo_prompt = [&] {
    if (!echoed) std::fputs(prompt.c_str(), stdout);
    echoed = true;
  };
  // -n -1: until the model ends its text; the context shifts as often as it fills (or stops there).
  const int n_predict = o.n_predict >= 0 ? o.n_predict : so.n_keep >= 0 ? INT_MAX : (*session)->n_ctx();
  auto st = generate(**session, prompt, sampling, n_predict,
                     [&](const std::string& piece) {
                       echo_prompt();
                       std::fwrite(piece.data(), 1, piece.size(), stdout);
                       std::fflush(stdout);
                       return true;
                     });
  if (!st) throw Error(st.message());
  echo_prompt();
  std::fputs("\n", stdout);
  std::fflush(stdout);
  const GenerateStats& s = *st;
  std::fprintf(stderr, "edgerun: prompt %d tokens in %.3f s (%.1f tok/s), generated %d tokens in %.3f s (%.1f tok/s)%s\n",
               s.n_prompt, s.prompt_seconds, s.n_prompt / std::max(s.prompt_seconds, 1e-9), s.n_generated, s.gen_seconds,
               s.n_generated / std::max(s.gen_seconds, 1e-9),
               s.stopped_at_eog ? ", stopped at end of generation" : s.context_full ? ", stopped: the context is full" : "");
  if (s.n_shifts > 0)
    std::fprintf(stderr, "edgerun: the context was shifted %d time%s (%d tokens dropped in all)\n", s.n_shifts,
                 s.n_shifts == 1 ? "" : "s", s.n_dropped);
}
}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "generate text from a prompt");
  o->eval.add_to(*sub);
  sub->add_option("-p,--prompt", o->prompt, "prompt text");
  sub->add_option("-f,--file", o->prompt_file, "read the prompt from a file");
  sub->add_option("-n,--n-predict", o->n_predict,
                  "tokens to generate (-1: until the end of the text, shifting the context as it fills)")
      ->check(CLI::Range(-1, 1 << 24));
  o->sampling.add_to(*sub);
  sub->add_flag("--chat", o->chat, "one turn through the model's chat template (the prompt is the user's message)");
  sub->add_option("--system", o->system, "--chat: system prompt");
  sub->add_option("--reasoning", o->reasoning, "--chat: thinking models' reasoning: show, hide or raw")
      ->check(CLI::IsMember({"show", "hide", "raw"}));
  sub->add_flag("--no-think", o->no_think, "--chat: ask the template not to think (enable_thinking false)");
  sub->add_option("--keep", o->keep, "at a full context keep the first N tokens, drop half of the rest and go on")
      ->check(CLI::Range(0, 1 << 24));
  sub->add_flag("--no-context-shift", o->no_context_shift, "stop when the context is full");
  sub->add_flag("-v,--verbose", o->verbose, "print what was chosen");
  sub->callback([o] { run(*o); });
}

}  // namespace edgerun::cli
