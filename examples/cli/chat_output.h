// How `chat` and `run --chat` print an answer's pieces: the reasoning apart
// from the answer (dim on a colour terminal, under a header line otherwise),
// hidden behind a one-line indicator, or raw, tags and all.
#pragma once

#include <cstdio>
#include <string>

#include "runtime/chat.h"

namespace edgerun::cli {

enum class ReasoningMode { Show, Hide, Raw };
ReasoningMode parse_reasoning_mode(const std::string& s);  // "show", "hide", "raw"

class PieceWriter {
 public:
  // `terminal`: out is a terminal that understands ANSI escapes.
  PieceWriter(ReasoningMode mode, bool terminal, FILE* out) : mode_(mode), terminal_(terminal), out_(out) {}
  void write(const Piece& p);
  void finish();  // ends the answer with a newline and leaves the terminal as it was
  void abandon();  // the same after an error: no newline unless a line was begun

 private:
  void put(const std::string& s);
  void leave_reasoning();

  ReasoningMode mode_;
  bool terminal_;
  FILE* out_;
  bool in_reasoning_ = false;
  bool wrote_reasoning_ = false;
  bool wrote_anything_ = false;
  bool at_line_start_ = true;
  int reasoning_pieces_ = 0;
};

// One line about a turn: tokens reused, evaluated and generated, speed, why it ended.
std::string describe_turn(const TurnStats& st);

}  // namespace edgerun::cli
