// tokenizer.json (and tokenizer_config.json) text, then the tokenizer it
// makes, on a fixed text with special tokens, digits and non-ASCII letters.
#include "common/error.h"
#include "fuzz_target.h"
#include "tokenizer/tokenizer.h"

FUZZ_HARNESS(tokenizer_json) {
  const fuzz::Parts in = fuzz::split(data, size);
  const std::string& config = in.first;
  const std::string& tokenizer = in.rest;
  try {
    auto tok = edgerun::Tokenizer::from_hf_text("fuzz tokenizer.json", tokenizer, config);
    const auto ids = tok->encode("Hello world 1234 <|im_end|> <s> na\xC3\xAFve \xE6\x9D\xB1\xE4\xBA\xAC", true);
    (void)tok->decode(ids);
  } catch (const edgerun::Error&) {
  }
  return 0;
}
