// edgerun tokenize / detokenize.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "common/files.h"
#include "model/source.h"

namespace edgerun::cli {

namespace {
struct TokOptions {
  std::string model;
  std::string tokenizer_json;
  std::string file;
  std::vector<std::string> text;
  std::vector<int32_t> ids;
  bool json = false;
  bool no_special = false;
};

std::unique_ptr<Tokenizer> open_tokenizer(const TokOptions& o) {
  if (!o.tokenizer_json.empty()) return Tokenizer::from_hf_file(o.tokenizer_json);
  if (o.model.empty()) fail("-m", "give a model (-m) or a tokenizer.json (--tokenizer)");
  // Only the vocabulary is needed: a vocabulary-only GGUF is fine.
  return open_model_source(o.model)->make_tokenizer();
}

void tokenize(const TokOptions& o) {
  auto tok = open_tokenizer(o);
  std::string text;
  if (!o.file.empty()) {
    text = read_file(o.file);
  } else {
    for (size_t i = 0; i < o.text.size(); ++i) text += (i ? " " : "") + o.text[i];
  }
  const auto ids = tok->encode(text, !o.no_special);
  if (o.json) {
    std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
  }
}

void detokenize(const TokOptions& o) {
  auto tok = open_tokenizer(o);
  for (int32_t id : o.ids)
    if (id < 0 || id >= tok->vocab_size()) fail("ids", "token id " + std::to_string(id) + " is outside the vocabulary");
  const std::string s = tok->decode(o.ids);
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::printf("\n");
}
}  // namespace

void add_tokenize(CLI::App& app) {
  auto o = std::make_shared<TokOptions>();
  CLI::App* sub = app.add_subcommand("tokenize", "print the token ids of a text");
  sub->add_option("-m,--model", o->model, "model or vocabulary-only GGUF");
  sub->add_option("--tokenizer", o->tokenizer_json, "a Hugging Face tokenizer.json");
  sub->add_option("--file", o->file, "read the text from a file");
  sub->add_flag("--json", o->json, "print a JSON array");
  sub->add_flag("--no-special", o->no_special, "do not add BOS/EOS");
  sub->add_option("text", o->text, "the text (put it after -- if it starts with a dash)");
  sub->callback([o] { tokenize(*o); });

  auto d = std::make_shared<TokOptions>();
  CLI::App* dsub = app.add_subcommand("detokenize", "print the text of token ids");
  dsub->add_option("-m,--model", d->model, "model or vocabulary-only GGUF");
  dsub->add_option("--tokenizer", d->tokenizer_json, "a Hugging Face tokenizer.json");
  dsub->add_option("ids", d->ids, "token ids")->required();
  dsub->callback([d] { detokenize(*d); });
}

}  // namespace edgerun::cli
