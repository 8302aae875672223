// One assistant turn as it is generated: tokens -> whole UTF-8 text ->
// reasoning split -> stop strings -> pieces for the user. The chat, the C API
// and the server's scheduler all turn tokens into text through this, so they
// agree on what an answer is.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/reasoning.h"
#include "runtime/stop_strings.h"
#include "tokenizer/tokenizer.h"

namespace edgerun {

class TurnStream {
 public:
  // on_piece gets every piece to show (whole UTF-8, never empty); once it
  // returns false it is not called again and caller_stopped() is true.
  TurnStream(const Tokenizer& tok, const std::optional<ReasoningTags>& tags, bool starts_in_reasoning,
             std::vector<std::string> stops, std::function<bool(const Piece&)> on_piece);

  // A generated token that is not an end of generation.
  void feed(int32_t id);
  // Closes open reasoning with text the runtime inserts (a reasoning budget).
  void force_close_reasoning(const std::string& text);
  // The end of the turn: passes on what was held back.
  void finish();

  bool in_reasoning() const { return splitter_.in_reasoning(); }
  bool stop_string_seen() const { return stops_.stopped(); }
  bool caller_stopped() const { return caller_stopped_; }
  int n_reasoning() const { return n_reasoning_; }  // tokens fed while in reasoning
  // Everything generated, as decoded (the stop string and what follows included).
  const std::string& text() const { return text_; }
  // The answer shown (up to a stop string) and the reasoning, its blank lines trimmed.
  const std::string& content() const { return content_; }
  std::string reasoning() const;

 private:
  void pass_on(const std::vector<Piece>& pieces);

  StreamDecoder decoder_;
  ReasoningSplitter splitter_;
  StopMatcher stops_;
  std::function<bool(const Piece&)> on_piece_;
  std::string text_, content_, reasoning_;
  int n_reasoning_ = 0;
  bool caller_stopped_ = false;
  bool finished_ = false;
};

}  // namespace edgerun
