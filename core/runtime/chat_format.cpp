#include "runtime/chat_format.h"

#include "common/error.h"
#include "model/model.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace edgerun {

bool known_role(const std::string& r) { return r == "system" || r == "user" || r == "assistant"; }

void validate_messages(std::vector<ChatMessage>& messages, const std::string& where) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!known_role(messages[i].role))
      fail(where + std::to_string(i + 1), "role '" + messages[i].role + "' is not one of system, user, assistant");
    messages[i].content = utf8::sanitize(messages[i].content);
    messages[i].reasoning = utf8::sanitize(messages[i].reasoning);
  }
}

ChatFormat::ChatFormat(const Model& model, const std::string& template_source, std::optional<bool> enable_thinking)
    : model_(model), tok_(model.tokenizer()), enable_thinking_(enable_thinking) {
  const bool own = template_source.empty();
  const std::string& source = own ? tok_.chat_template() : template_source;
  if (source.empty()) fail(model.path(), "the model has no chat template, so it cannot hold a conversation", ErrorKind::Unsupported);
  template_ = std::make_unique<ChatTemplate>(source, own ? model.path() + ": chat template" : "chat template");
  tags_ = detect_reasoning(source, &tok_);
}

ChatFormat::~ChatFormat() = default;

std::string ChatFormat::render(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) const {
  ChatTemplateInputs in;
  for (const auto& m : msgs) in.messages.push_back({{"role", m.role}, {"content", m.content}});
  in.add_generation_prompt = add_generation_prompt;
  if (enable_thinking_) in.extra["enable_thinking"] = *enable_thinking_;
  return template_->render(in, &tok_);
}

std::vector<int32_t> ChatFormat::tokenize(const std::string& text) const {
  std::vector<int32_t> ids = tok_.encode(text, false);
  // Templates that do not write the BOS themselves still get it where the model wants one.
  if (tok_.add_bos() && (ids.empty() || ids[0] != tok_.bos())) ids.insert(ids.begin(), tok_.bos());
  return ids;
}

namespace {
// Where the special tokens of a tokenization lie in its text: [begin, end) byte spans.
std::vector<std::pair<size_t, size_t>> special_spans(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::pair<size_t, size_t>> spans;
  size_t off = 0;
  for (int32_t id : ids) {
    const size_t n = tok.token_to_bytes(id).size();
    const TokenType t = tok.token_type(id);
    if (t == TokenType::Control || t == TokenType::UserDefined) spans.push_back({off, off + n});
    off += n;
  }
  return spans;
}
}  // namespace

// The longest part of what the session holds that the new prompt starts with.
// Tokens are compared first; for byte-level vocabularies also the text, so
// that an answer the model wrote in tokens other than the canonical ones (the
// tokenizer would merge them differently) is still reused: what the model saw
// is a valid encoding of the same text.
PromptPlan plan_prompt(const Tokenizer& tok, const std::string& text, std::vector<int32_t> full,
                       const std::vector<int32_t>& held, const std::vector<GeneratedText>& answers) {
  PromptPlan plan;
  size_t p = 0;
  while (p < full.size() && p < held.size() && full[p] == held[p]) ++p;
  plan.reused = static_cast<int>(p);
  if (tok.kind() == Tokenizer::Kind::ByteLevel && !full.empty()) {
    // A BOS the tokenizer puts before the text is not in the text itself.
    const std::string bos_text = tok.bos() >= 0 ? tok.token_to_bytes(tok.bos()) : std::string();
    const size_t lead = (full[0] == tok.bos() && text.compare(0, bos_text.size(), bos_text) != 0) ? 1 : 0;
    if (lead && (held.empty() || held[0] != full[0])) {
      plan.tokens = std::move(full);
      return plan;
    }
    size_t i = lead, off = 0;
    size_t next_answer = 0;
    while (i < held.size()) {
      while (next_answer < answers.size() && answers[next_answer].begin < i) ++next_answer;
      if (next_answer < answers.size() && answers[next_answer].begin == i && answers[next_answer].end <= held.size()) {
        const GeneratedText& a = answers[next_answer];
        if (!a.text.empty() && text.compare(off, a.text.size(), a.text) == 0) {
          off += a.text.size();
          i = a.end;
          continue;
        }
      }
      const std::string b = tok.token_to_bytes(held[i]);
      if (b.empty() || text.compare(off, b.size(), b) != 0) break;
      off += b.size();
      ++i;
    }
    // The reused tokens must not end inside one of the prompt's special tokens,
    // and must hold the same special tokens as the prompt up to that point
    // (not their text spelt in ordinary tokens).
    const std::vector<int32_t> body(full.begin() + static_cast<long>(lead), full.end());
    bool clean = true;
    int prompt_specials = 0;
    for (const auto& [a, b] : special_spans(tok, body)) {
      if (a < off && off < b) clean = false;
      if (b <= off) ++prompt_specials;
    }
    const std::vector<int32_t> reused(held.begin() + static_cast<long>(lead), held.begin() + static_cast<long>(i));
    if (clean && static_cast<int>(special_spans(tok, reused).size()) == prompt_specials && i > p) {
      std::vector<int32_t> out(held.begin(), held.begin() + static_cast<long>(i));
      const std::vector<int32_t> rest = tok.encode(std::string_view(text).substr(off), false);
      out.insert(out.end(), rest.begin(), rest.end());
      plan.tokens = std::move(out);
      plan.reused = static_cast<int>(i);
      return plan;
    }
  }
  plan.tokens = std::move(full);
  return plan;
}


}  // namespace edgerun
