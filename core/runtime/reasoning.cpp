#include "runtime/reasoning.h"

#include "tokenizer/tokenizer.h"

namespace edgerun {

std::optional<ReasoningTags> detect_reasoning(const std::string& chat_template, const Tokenizer* tok) {
  ReasoningTags tags;
  const bool in_template = chat_template.find(tags.open) != std::string::npos && chat_template.find(tags.close) != std::string::npos;
  const bool in_vocab = tok && tok->find(tags.open) >= 0 && tok->find(tags.close) >= 0;
  if (in_template || in_vocab) return tags;
  return std::nullopt;
}

bool prompt_opens_reasoning(std::string_view prompt, const ReasoningTags& tags) {
  const size_t open = prompt.rfind(tags.open);
  if (open == std::string_view::npos) return false;
  return prompt.find(tags.close, open) == std::string_view::npos;
}

namespace {
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_tag_at_end(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}
}  // namespace

ReasoningSplitter::ReasoningSplitter(std::optional<ReasoningTags> tags, bool starts_in_reasoning)
    : tags_(tags.value_or(ReasoningTags{})),
      state_(!tags ? State::Content : starts_in_reasoning ? State::Reasoning : State::Start),
      after_open_(tags && starts_in_reasoning) {}

void ReasoningSplitter::emit(std::vector<Piece>& out, PieceKind kind, std::string_view text) {
  if (text.empty()) return;
  if (!out.empty() && out.back().kind == kind) {
    out.back().text.append(text);
  } else {
    out.push_back({kind, std::string(text)});
  }
}

std::vector<Piece> ReasoningSplitter::feed(std::string_view text) {
  std::vector<Piece> out;
  held_.append(text);
  std::string_view s = held_;
  while (!s.empty()) {
    if (state_ == State::Content) {
      emit(out, PieceKind::Content, s);
      s = {};
      break;
    }
    if (state_ == State::AfterTag || (state_ == State::Reasoning && after_open_)) {
      // Blank lines right after a tag belong to it (templates strip them too).
      size_t n = 0;
      while (n < s.size() && (s[n] == '\n' || s[n] == '\r')) ++n;
      emit(out, PieceKind::Marker, s.substr(0, n));
      s.remove_prefix(n);
      if (s.empty()) break;
      after_open_ = false;
      if (state_ == State::AfterTag) state_ = State::Content;
      continue;
    }
    if (state_ == State::Start) {
      size_t n = 0;
      while (n < s.size() && is_space(s[n])) ++n;
      std::string_view rest = s.substr(n);
      if (rest.size() >= tags_.open.size()) {
        if (rest.substr(0, tags_.open.size()) == tags_.open) {
          emit(out, PieceKind::Marker, s.substr(0, n + tags_.open.size()));
          s.remove_prefix(n + tags_.open.size());
          state_ = State::Reasoning;
          after_open_ = true;
        } else {
          state_ = State::Content;
        }
        continue;
      }
      if (std::string_view(tags_.open).substr(0, rest.size()) == rest) break;  // maybe the tag: wait
      state_ = State::Content;
      continue;
    }
    // Reasoning: up to the close tag, holding back what may be its beginning.
    const size_t close = s.find(tags_.close);
    if (close != std::string_view::npos) {
      emit(out, PieceKind::Reasoning, s.substr(0, close));
      emit(out, PieceKind::Marker, s.substr(close, tags_.close.size()));
      s.remove_prefix(close + tags_.close.size());
      state_ = State::AfterTag;
      continue;
    }
    const size_t keep = partial_tag_at_end(s, tags_.close);
    emit(out, PieceKind::Reasoning, s.substr(0, s.size() - keep));
    s.remove_prefix(s.size() - keep);
    break;
  }
  held_ = std::string(s);
  return out;
}

std::vector<Piece> ReasoningSplitter::flush() {
  std::vector<Piece> out;
  const PieceKind kind = state_ == State::Reasoning ? PieceKind::Reasoning : PieceKind::Content;
  emit(out, kind, held_);
  held_.clear();
  return out;
}

std::vector<Piece> ReasoningSplitter::force_close(std::string_view text) {
  std::vector<Piece> out = flush();
  if (state_ != State::Reasoning) return out;
  emit(out, PieceKind::Marker, text);
  state_ = State::AfterTag;
  after_open_ = false;
  return out;
}

}  // namespace edgerun
