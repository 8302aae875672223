// How a model's conversations become prompt tokens: its chat template (or
// one given instead), the rendered text tokenized as the model wants it, the
// reasoning tags, and which part of what a sequence already holds a new prompt
// can reuse. Shared by a one-user Chat and the server's scheduler.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/reasoning.h"

namespace edgerun {

class ChatTemplate;
class Model;
class Tokenizer;

struct ChatMessage {
  std::string role;       // system, user or assistant
  std::string content;    // for the assistant: the answer alone
  std::string reasoning;  // the assistant's reasoning; never rendered back into the prompt
};

// Tokens [begin, end) of a session that the model generated, and the text they
// decode to (invalid UTF-8 replaced as it was shown): the unit in which a later
// prompt can reuse an answer whose tokens are not the text's own encoding.
struct GeneratedText {
  size_t begin = 0, end = 0;
  std::string text;
};

bool known_role(const std::string& role);
// Checks every role and makes the texts valid UTF-8; `where` names the list in errors.
void validate_messages(std::vector<ChatMessage>& messages, const std::string& where);

class ChatFormat {
 public:
  // template_source empty: the model's own. Throws Error when there is none
  // (naming the model file) or the template does not parse.
  ChatFormat(const Model& model, const std::string& template_source, std::optional<bool> enable_thinking);
  ~ChatFormat();

  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // The rendered text's tokens, with the BOS where the model wants one.
  std::vector<int32_t> tokenize(const std::string& text) const;
  const std::optional<ReasoningTags>& reasoning() const { return tags_; }
  const Tokenizer& tokenizer() const { return tok_; }

 private:
  const Model& model_;
  const Tokenizer& tok_;
  std::unique_ptr<ChatTemplate> template_;
  std::optional<ReasoningTags> tags_;
  std::optional<bool> enable_thinking_;
};

struct PromptPlan {
  std::vector<int32_t> tokens;  // the prompt to hold
  int reused = 0;               // leading tokens already held
};

// The prompt for rendered `text` (tokenized as `full`) given what a sequence
// holds and the answers it generated: the longest held prefix is reused.
PromptPlan plan_prompt(const Tokenizer& tok, const std::string& text, std::vector<int32_t> full,
                       const std::vector<int32_t>& held, const std::vector<GeneratedText>& answers);

}  // namespace edgerun
