#include "chat_output.h"

#include "common/error.h"

namespace edgerun::cli {

namespace {
constexpr const char* kDim = "\033[2m";
constexpr const char* kReset = "\033[0m";
constexpr const char* kClearLine = "\r\033[K";
}  // namespace

ReasoningMode parse_reasoning_mode(const std::string& s) {
  if (s == "show") return ReasoningMode::Show;
  if (s == "hide") return ReasoningMode::Hide;
  if (s == "raw") return ReasoningMode::Raw;
  fail("--reasoning", "must be show, hide or raw, not '" + s + "'");
}

void PieceWriter::put(const std::string& s) {
  if (s.empty()) return;
  std::fwrite(s.data(), 1, s.size(), out_);
  std::fflush(out_);
  at_line_start_ = s.back() == '\n';
  wrote_anything_ = true;
}

void PieceWriter::leave_reasoning() {
  if (!in_reasoning_) return;
  in_reasoning_ = false;
  if (mode_ == ReasoningMode::Show) {
    if (terminal_) std::fputs(kReset, out_);
    put(at_line_start_ ? "\n" : "\n\n");
    if (!terminal_) put("[answer]\n");
  } else if (mode_ == ReasoningMode::Hide && terminal_) {
    std::fputs(kClearLine, out_);
  }
}

void PieceWriter::write(const Piece& p) {
  if (mode_ == ReasoningMode::Raw) return put(p.text);
  if (p.kind == PieceKind::Marker) return;
  if (p.kind == PieceKind::Reasoning) {
    if (!in_reasoning_) {
      in_reasoning_ = true;
      wrote_reasoning_ = true;
      if (mode_ == ReasoningMode::Show) {
        if (!terminal_) put("[thinking]\n");
        if (terminal_) std::fputs(kDim, out_);
      }
    }
    if (mode_ == ReasoningMode::Show) return put(p.text);
    if (terminal_) {
      ++reasoning_pieces_;
      std::fprintf(out_, "%sthinking… %d tokens", kClearLine, reasoning_pieces_);
      std::fflush(out_);
    }
    return;
  }
  leave_reasoning();
  put(p.text);
}

void PieceWriter::abandon() {
  if (wrote_anything_) return finish();
  in_reasoning_ = wrote_reasoning_ = false;
  reasoning_pieces_ = 0;
}

void PieceWriter::finish() {
  leave_reasoning();
  if (!at_line_start_ || !wrote_anything_) put("\n");
  in_reasoning_ = wrote_reasoning_ = wrote_anything_ = false;
  at_line_start_ = true;
  reasoning_pieces_ = 0;
}

std::string describe_turn(const TurnStats& st) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "prompt %d tokens (%d reused, %d evaluated in %.3f s), generated %d tokens (%d reasoning) in %.3f s (%.1f tok/s), %s",
                st.n_prompt, st.n_reused, st.n_evaluated, st.prompt_seconds, st.n_generated, st.n_reasoning, st.gen_seconds,
                st.n_generated / (st.gen_seconds > 1e-9 ? st.gen_seconds : 1e-9),
                st.finish_reason == "stop" ? "stopped at end of turn" : st.finish_reason == "length" ? "stopped at the token limit" : "cancelled");
  return buf;
}

}  // namespace edgerun::cli
