#include "template/chat_template.h"

#include "common/error.h"
#include "template/jinja.h"
#include "tokenizer/tokenizer.h"

namespace edgerun {

ChatTemplate::ChatTemplate(const std::string& source, const std::string& where)
    : engine_(std::make_unique<jinja::Engine>(source, where)) {}

ChatTemplate::~ChatTemplate() = default;

std::string ChatTemplate::render(const ChatTemplateInputs& in, const nlohmann::ordered_json& special) const {
  nlohmann::ordered_json vars = special.is_object() ? special : nlohmann::ordered_json::object();
  vars["messages"] = in.messages;
  vars["add_generation_prompt"] = in.add_generation_prompt;
  for (auto it = in.extra.begin(); it != in.extra.end(); ++it) vars[it.key()] = it.value();
  return engine_->render(jinja::Value::from_json(vars));
}

std::string ChatTemplate::render(const ChatTemplateInputs& in, const Tokenizer* tok) const {
  nlohmann::ordered_json special = nlohmann::ordered_json::object();
  if (tok) {
    if (tok->bos() >= 0) special["bos_token"] = tok->token_text(tok->bos());
    if (tok->eos() >= 0) special["eos_token"] = tok->token_text(tok->eos());
  }
  return render(in, special);
}

}  // namespace edgerun
