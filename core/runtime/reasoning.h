// Reasoning: thinking models (DeepSeek-R1 distills, Qwen3, QwQ) write their
// reasoning between <think> and </think> before the answer. This splits a
// stream of generated text into tagged pieces, as it comes, so a chat can show
// the reasoning apart, an API can return it as reasoning_content, and neither
// feeds it back into the history.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgerun {

class Tokenizer;

struct ReasoningTags {
  std::string open = "<think>";
  std::string close = "</think>";
};

// The model thinks when its chat template or its vocabulary knows the tags;
// a model's name says nothing.
std::optional<ReasoningTags> detect_reasoning(const std::string& chat_template, const Tokenizer* tok);

// Whether a rendered prompt leaves the model inside its reasoning (R1's template
// ends the prompt with "<think>\n", so its output holds only the closing tag).
bool prompt_opens_reasoning(std::string_view rendered_prompt, const ReasoningTags& tags);

enum class PieceKind {
  Content,    // the answer
  Reasoning,  // between the tags
  Marker,     // a tag itself and the blank lines around it: what `raw` shows besides the rest
};

struct Piece {
  PieceKind kind;
  std::string text;
};

// Pieces concatenated give back exactly the text fed in. Only a reasoning block
// at the start of the output counts (after whitespace); a tag later in an answer
// is content. Text that may be the start of a tag is held until it is not.
// Without tags (a model that does not think) everything is content.
class ReasoningSplitter {
 public:
  ReasoningSplitter(std::optional<ReasoningTags> tags, bool starts_in_reasoning);
  std::vector<Piece> feed(std::string_view text);
  std::vector<Piece> flush();  // whatever is held back
  bool in_reasoning() const { return state_ == State::Reasoning; }
  // Closes an open reasoning block as if the model had written `text` (the
  // close tag and the newlines a chat template puts after it).
  std::vector<Piece> force_close(std::string_view text);

 private:
  enum class State { Start, Reasoning, AfterTag, Content };
  void emit(std::vector<Piece>& out, PieceKind kind, std::string_view text);

  ReasoningTags tags_;
  State state_;
  bool after_open_ = false;  // newlines right after a tag belong to the marker
  std::string held_;
};

}  // namespace edgerun
