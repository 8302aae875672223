// edgerun template: render the model's chat template for a conversation.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "common/json_input.h"
#include "common/files.h"
#include "model/source.h"
#include "template/chat_template.h"

namespace edgerun::cli {

namespace {
struct TemplateOptions {
  std::string model, tokenizer_json, template_file, messages_file;
  bool add_generation_prompt = false;
  bool ids = false;
  std::vector<std::string> vars;
};


nlohmann::ordered_json parse_json_file(const std::string& path) {
  return parse_json_input<nlohmann::ordered_json>(path, read_file(path));
}

void run(const TemplateOptions& o) {
  std::unique_ptr<Tokenizer> tok;
  if (!o.tokenizer_json.empty()) tok = Tokenizer::from_hf_file(o.tokenizer_json);
  else if (!o.model.empty()) tok = open_model_source(o.model)->make_tokenizer();
  std::string source, where;
  if (!o.template_file.empty()) {
    source = read_file(o.template_file);
    where = o.template_file;
  } else if (tok) {
    source = tok->chat_template();
    where = (o.model.empty() ? o.tokenizer_json : o.model) + ": chat template";
    if (source.empty()) fail(o.model.empty() ? o.tokenizer_json : o.model, "the model has no chat template (give one with --template)");
  } else {
    fail("-m", "give a model (-m), a tokenizer.json (--tokenizer) or a template file (--template)");
  }
  ChatTemplateInputs in;
  const auto messages = parse_json_file(o.messages_file);
  in.messages = messages.is_object() && messages.contains("messages") ? messages["messages"] : messages;
  if (!in.messages.is_array()) fail(o.messages_file, "expected a JSON array of messages (or an object with 'messages')");
  for (const auto& m : in.messages)
    if (!m.is_object() || !m.contains("role")) fail(o.messages_file, "every message needs a 'role' and a 'content'");
  in.add_generation_prompt = o.add_generation_prompt;
  for (const auto& kv : o.vars) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) fail("--var", "expected NAME=JSON, got '" + kv + "'");
    try {
      in.extra[kv.substr(0, eq)] = parse_json_input<nlohmann::ordered_json>("--var", kv.substr(eq + 1));
    } catch (const Error&) {
      in.extra[kv.substr(0, eq)] = kv.substr(eq + 1);  // a bare string
    }
  }
  ChatTemplate tmpl(source, where);
  const std::string text = tmpl.render(in, tok.get());
  if (o.ids) {
    if (!tok) fail("--ids", "needs a tokenizer (-m or --tokenizer)");
    const auto ids = tok->encode(text, false);
    std::printf("%s\n", nlohmann::json(ids).dump().c_str());
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
}
}  // namespace

void add_template(CLI::App& app) {
  auto o = std::make_shared<TemplateOptions>();
  CLI::App* sub = app.add_subcommand("template", "render the chat template for a conversation");
  sub->add_option("-m,--model", o->model, "model or vocabulary-only GGUF");
  sub->add_option("--tokenizer", o->tokenizer_json, "a Hugging Face tokenizer.json (its tokenizer_config.json beside it)");
  sub->add_option("--template", o->template_file, "a Jinja template file instead of the model's");
  sub->add_option("--messages", o->messages_file, "JSON file: [{\"role\": ..., \"content\": ...}, ...]")->required();
  sub->add_flag("--add-generation-prompt", o->add_generation_prompt, "end with the assistant's turn opening");
  sub->add_option("--var", o->vars, "extra template variable NAME=JSON (e.g. enable_thinking=false)");
  sub->add_flag("--ids", o->ids, "print the token ids of the rendering instead");
  sub->callback([o] { run(*o); });
}

}  // namespace edgerun::cli
