#include "tokenizer/pretokenizer.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>

#include "common/error.h"

namespace edgerun {

namespace {

// The GPT-2 / Llama 3 / Qwen2 families' splitting rules, as their
// tokenizer.json files state them.
const char* kLlama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kQwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char* kDeepseekV3Cjk = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
const char* kDeepseekV3Words =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Oniguruma (Hugging Face) treats \s as Unicode White_Space; ICU's \s is
// narrower (no U+000B, U+0085), so spell the property out.
std::string to_icu_syntax(const std::string& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size()) {
      const char c = p[i + 1];
      if (c == 's') { out += "\\p{White_Space}"; ++i; continue; }
      if (c == 'S') { out += "\\P{White_Space}"; ++i; continue; }
      out += p[i];
      out += c;
      ++i;
      continue;
    }
    out += p[i];
  }
  return out;
}

// ICU's time limit counts steps of its match engine (roughly milliseconds'
// worth each); the patterns real tokenizers use never come near either.
constexpr int32_t kMatchTimeLimit = 10000;
constexpr int32_t kMatchStackBytes = 8 << 20;

}  // namespace

struct PreTokenizer::Impl {
  std::vector<std::unique_ptr<icu::RegexPattern>> compiled;
};

std::vector<std::string> PreTokenizer::patterns_for(const std::string& pre) {
  if (pre == "llama3" || pre == "llama-bpe" || pre == "llama-v3" || pre == "smaug-bpe" || pre == "falcon3" ||
      pre == "pixtral" || pre == "dbrx" || pre == "smollm" || pre == "gpt-4o")
    return {kLlama3};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "qwen35") return {kQwen2};
  if (pre == "gpt2" || pre == "default" || pre == "gpt-2" || pre == "olmo" || pre == "phi-2") return {kGpt2};
  if (pre == "deepseek-v3") return {"\\p{N}{1,3}", kDeepseekV3Cjk, kDeepseekV3Words};
  return {};
}

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns, const std::string& where)
    : patterns_(patterns), where_(where), impl_(std::make_unique<Impl>()) {
  for (const auto& p : patterns) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError perr;
    const std::string icu = to_icu_syntax(p);
    std::unique_ptr<icu::RegexPattern> re(
        icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(icu), 0, perr, status));
    if (U_FAILURE(status) || !re)
      fail(where, "cannot compile pre-tokenizer regex '" + p + "' (" + u_errorName(status) + ")");
    impl_->compiled.push_back(std::move(re));
  }
}

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  // Pieces as [begin, end) UTF-16 offsets, refined by each pattern in turn.
  std::vector<std::pair<int32_t, int32_t>> pieces{{0, u.length()}}, next;
  for (const auto& re : impl_->compiled) {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(re->matcher(u, status));
    if (U_FAILURE(status)) fail(where_, std::string("pre-tokenizer: ") + u_errorName(status));
    // A pattern from a file can backtrack without end ("(a+)+b"): each match
    // gets a bounded number of engine steps and a bounded backtracking stack.
    m->setTimeLimit(kMatchTimeLimit, status);
    m->setStackLimit(kMatchStackBytes, status);
    next.clear();
    for (const auto& [b, e] : pieces) {
      if (b == e) continue;
      m->region(b, e, status);
      int32_t last = b;
      while (m->find(status) && U_SUCCESS(status)) {
        const int32_t s = m->start(status), t = m->end(status);
        if (t == s) continue;  // empty matches split nothing
        if (s > last) next.emplace_back(last, s);
        next.emplace_back(s, t);
        last = t;
      }
      if (status == U_REGEX_TIME_OUT || status == U_REGEX_STACK_OVERFLOW)
        fail(where_, std::string("the pre-tokenizer's regex exceeded its ") + (status == U_REGEX_TIME_OUT ? "time limit" : "stack limit") +
                         " on this text (a pattern that backtracks without end?)");
      if (U_FAILURE(status)) fail(where_, std::string("pre-tokenizer: ") + u_errorName(status));
      if (last < e) next.emplace_back(last, e);
    }
    pieces.swap(next);
  }
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (const auto& [b, e] : pieces) {
    std::string s;
    u.tempSubStringBetween(b, e).toUTF8String(s);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace edgerun
