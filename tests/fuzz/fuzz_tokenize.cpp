// Arbitrary bytes (invalid UTF-8 included) through real vocabularies: the
// first byte picks byte-level BPE (Qwen3), SentencePiece (Mistral) or
// DeepSeek-V3's three-regex pre-tokenizer; then encode, decode, and a
// streaming decode of the ids.
#include <memory>

#include "common/error.h"
#include "fuzz_target.h"
#include "tokenizer/tokenizer.h"

namespace {
const edgerun::Tokenizer& vocabulary(int which) {
  static std::unique_ptr<edgerun::Tokenizer> t[3];
  static const char* names[] = {"qwen3", "mistral", "deepseek_v3"};
  if (!t[which]) t[which] = edgerun::Tokenizer::from_hf_file(fuzz::fixtures() + "/tokenizers/" + names[which] + "/tokenizer.json");
  return *t[which];
}
}  // namespace

FUZZ_HARNESS(tokenize) {
  if (size == 0) return 0;
  const edgerun::Tokenizer& tok = vocabulary(data[0] % 3);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const auto ids = tok.encode(text, (data[0] & 4) != 0);
    (void)tok.decode(ids);
    edgerun::StreamDecoder dec(tok);
    for (int32_t id : ids) (void)dec.feed(id);
    (void)dec.flush();
  } catch (const edgerun::Error&) {
  }
  return 0;
}
