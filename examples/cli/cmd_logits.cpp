// edgerun logits: the logits after each of a list of token ids, as raw float32.
#include <cstdio>
#include <memory>

#include "commands.h"

namespace edgerun::cli {

namespace {
struct LogitsOptions {
  EvalOptions eval;
  std::string tokens;
  std::string out;
};

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = s.find(',', i);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(i, end - i);
    size_t used = 0;
    long v = -1;
    try {
      v = std::stol(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v < 0 || v > INT32_MAX) fail("--tokens", "'" + item + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
    i = end + 1;
  }
  if (ids.empty()) fail("--tokens", "no token ids given");
  return ids;
}

void run(const LogitsOptions& o) {
  const std::vector<int32_t> ids = parse_ids(o.tokens);
  auto model = load_model(o.eval.model, o.eval.load());
  if (!model) throw Error(model.message());
  o.eval.check_kv(**model);
  auto session = new_session(**model, o.eval.session());
  if (!session) throw Error(session.message());
  if (static_cast<int>(ids.size()) > (*session)->n_ctx())
    fail("--tokens", std::to_string(ids.size()) + " tokens do not fit the context size " + std::to_string((*session)->n_ctx()));
  auto logits = capture([&] { return (*session)->eval(ids, true); });
  if (!logits) throw Error(logits.message());
  write_file_atomically(o.out, logits->data(), logits->size() * sizeof(float));
  std::fprintf(stderr, "edgerun: wrote %zu x %d logits to %s\n", ids.size(), (*model)->hparams().n_vocab, o.out.c_str());
}
}  // namespace

void add_logits(CLI::App& app) {
  auto o = std::make_shared<LogitsOptions>();
  CLI::App* sub = app.add_subcommand("logits", "write the logits after each token (float32, [n_tokens, n_vocab])");
  o->eval.add_to(*sub);
  sub->add_option("--tokens", o->tokens, "comma-separated token ids")->required();
  sub->add_option("-o,--output", o->out, "output file")->required();
  sub->callback([o] { run(*o); });
}

}  // namespace edgerun::cli
