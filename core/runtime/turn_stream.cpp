#include "runtime/turn_stream.h"

namespace edgerun {

TurnStream::TurnStream(const Tokenizer& tok, const std::optional<ReasoningTags>& tags, bool starts_in_reasoning,
                       std::vector<std::string> stops, std::function<bool(const Piece&)> on_piece)
    : decoder_(tok), splitter_(tags, starts_in_reasoning), stops_(std::move(stops)), on_piece_(std::move(on_piece)) {}

void TurnStream::pass_on(const std::vector<Piece>& pieces) {
  for (const Piece& p0 : pieces) {
    Piece p = p0;
    if (p.kind == PieceKind::Content) {
      if (stops_.stopped()) return;
      p.text = stops_.feed(p.text);
    }
    if (p.text.empty()) continue;
    if (p.kind == PieceKind::Content) content_ += p.text;
    if (p.kind == PieceKind::Reasoning) reasoning_ += p.text;
    if (!caller_stopped_ && !on_piece_(p)) caller_stopped_ = true;
  }
}

void TurnStream::feed(int32_t id) {
  if (splitter_.in_reasoning()) ++n_reasoning_;
  const std::string piece = decoder_.feed(id);
  text_ += piece;
  pass_on(splitter_.feed(piece));
}

void TurnStream::force_close_reasoning(const std::string& text) {
  const std::string close = decoder_.flush() + text;
  text_ += close;
  pass_on(splitter_.force_close(close));
}

void TurnStream::finish() {
  if (finished_) return;
  finished_ = true;
  const std::string last = decoder_.flush();
  text_ += last;
  pass_on(splitter_.feed(last));
  pass_on(splitter_.flush());
  if (!stops_.stopped()) {
    const std::string tail = stops_.flush();
    if (!tail.empty()) {
      content_ += tail;
      if (!caller_stopped_ && !on_piece_({PieceKind::Content, tail})) caller_stopped_ = true;
    }
  }
}

std::string TurnStream::reasoning() const {
  const size_t a = reasoning_.find_first_not_of("\r\n");
  if (a == std::string::npos) return {};
  const size_t b = reasoning_.find_last_not_of("\r\n");
  return reasoning_.substr(a, b - a + 1);
}

}  // namespace edgerun
