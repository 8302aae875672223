// Pre-tokenization: splitting text into pieces before BPE, with the regular
// expressions that tokenizer.json (or the GGUF 'tokenizer.ggml.pre' name)
// prescribes. ICU's regex engine provides the Unicode classes (\p{L}, \p{N},
// ...) for the whole of Unicode; patterns are applied in sequence, each one
// splitting the pieces the previous left ("Isolated" behaviour).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edgerun {

class PreTokenizer {
 public:
  // Compiles the patterns (Hugging Face / Oniguruma syntax). Throws Error
  // naming `where` on a pattern ICU cannot compile.
  PreTokenizer(const std::vector<std::string>& patterns, const std::string& where);
  ~PreTokenizer();

  // Regexes for a GGUF 'tokenizer.ggml.pre' name; empty when unknown.
  static std::vector<std::string> patterns_for(const std::string& pre_name);

  bool empty() const { return patterns_.empty(); }
  // Splits UTF-8 text into UTF-8 pieces that concatenate back to it. Throws
  // Error naming the file when a pattern exceeds the regex engine's limits.
  std::vector<std::string> split(std::string_view text) const;

 private:
  struct Impl;
  std::vector<std::string> patterns_;
  std::string where_;  // names the file in errors
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgerun
