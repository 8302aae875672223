// A conversation with a model on one session: turns rendered with the model's
// own chat template, only the tokens that changed since the last turn
// evaluated, reasoning split from the answer and kept out of the history, and
// a context policy that drops the oldest turns instead of failing. The chat
// command, the C API and the server all talk to models through this.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/chat_format.h"
#include "runtime/reasoning.h"
#include "sampling/sampler.h"
#include "session/session.h"

namespace edgerun {

struct ChatOptions {
  // A chat template to use instead of the model's own (Jinja source).
  std::string chat_template;
  // The template's enable_thinking (Qwen3); unset leaves the template's default.
  std::optional<bool> enable_thinking;
  // Tokens kept free for the answer when the history is fitted into the
  // context; 0: a quarter of the context.
  int answer_reserve = 0;
};

struct TurnParams {
  SamplerParams sampling;
  int max_tokens = -1;               // -1: until the context is full
  std::vector<std::string> stop;     // stop strings, on the answer's text
  int reasoning_budget = -1;         // -1: unlimited; else the reasoning is closed after this many tokens
  bool ignore_eog = false;           // never end the turn at an end-of-generation token
};

struct TurnStats {
  int n_prompt = 0;       // tokens of the rendered conversation
  int n_reused = 0;       // of them, already in the KV cache from earlier turns
  int n_evaluated = 0;    // evaluated for this turn's prompt
  int n_generated = 0;
  int n_reasoning = 0;    // generated tokens that were reasoning
  int n_dropped = 0;      // oldest messages dropped so the turn fits
  std::string finish_reason;  // "stop" (end of turn or a stop string), "length", "cancelled"
  double prompt_seconds = 0;
  double gen_seconds = 0;
};

class Chat {
 public:
  // Throws Error when the model has no chat template (naming the model file).
  Chat(Session& session, ChatOptions opts = {});
  ~Chat();

  const std::vector<ChatMessage>& messages() const { return messages_; }
  // Sets or replaces the system prompt (the first message); empty removes it.
  void set_system(const std::string& text);
  // Adds a message; throws Error for an unknown role or invalid content.
  void add(const std::string& role, const std::string& content);
  // Replaces the whole conversation (validated first: on error nothing changes).
  void set_messages(std::vector<ChatMessage> messages);
  // Forgets every message but the system prompt.
  void clear();
  // Forgets every message, the system prompt too, and what the session holds.
  void reset();
  // Saved states keep, besides the messages, the answers as they were generated,
  // so that a restored conversation reuses its KV prefix as before.
  const std::vector<GeneratedText>& generated() const { return generated_; }
  void restore(std::vector<ChatMessage> messages, std::vector<GeneratedText> generated);

  // Renders the conversation with a generation prompt and generates the
  // assistant's answer, streaming pieces to on_piece (whole UTF-8; returning
  // false stops). The answer is appended to the history. When the conversation
  // does not fit, the oldest messages after the system prompt are dropped; a
  // last message that cannot fit on its own is removed again and Error thrown.
  TurnStats respond(const TurnParams& params, const std::function<bool(const Piece&)>& on_piece);

  // Stops a respond() in progress at the next token; safe from any thread.
  void cancel() { cancel_.store(true); }

  const std::optional<ReasoningTags>& reasoning() const { return format_.reasoning(); }
  // The prompt text respond() would evaluate now (for tools and tests).
  std::string render(bool add_generation_prompt = true) const;

  // The conversation as a JSON array of {"role", "content"[, "reasoning"]}.
  std::string to_json() const;
  // Parses what to_json() writes; `where` names the source in errors.
  static std::vector<ChatMessage> from_json(const std::string& text, const std::string& where);

 private:
  size_t system_count() const;

  Session& session_;
  ChatOptions opts_;
  ChatFormat format_;
  std::vector<ChatMessage> messages_;
  std::vector<GeneratedText> generated_;  // answers held by the session, in order
  std::atomic<bool> cancel_{false};
};

}  // namespace edgerun
