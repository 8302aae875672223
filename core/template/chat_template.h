// Rendering a model's own chat template (tokenizer.chat_template in GGUF, or
// chat_template in tokenizer_config.json) for a list of messages.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace edgerun {

namespace jinja { class Engine; }
class Tokenizer;

struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{"role": ..., "content": ...}, ...]
  bool add_generation_prompt = true;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();   // e.g. {"enable_thinking": false, "tools": [...]}
};

class ChatTemplate {
 public:
  // `where` names the source in errors (a file, or "<model>: tokenizer.chat_template").
  ChatTemplate(const std::string& source, const std::string& where);
  ~ChatTemplate();
  // bos_token / eos_token and friends come from the tokenizer when given.
  std::string render(const ChatTemplateInputs& in, const Tokenizer* tok) const;
  // Same, with the special-token strings given directly.
  std::string render(const ChatTemplateInputs& in, const nlohmann::ordered_json& special_tokens) const;

 private:
  std::unique_ptr<jinja::Engine> engine_;
};

}  // namespace edgerun
