#include "runtime/chat.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "runtime/stop_strings.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace edgerun {

namespace {
using ojson = nlohmann::ordered_json;

constexpr int kMaxJsonDepth = 64;

bool known_role(const std::string& r) { return r == "system" || r == "user" || r == "assistant"; }

std::string trim_newlines(std::string s) {
  const size_t a = s.find_first_not_of("\r\n");
  if (a == std::string::npos) return {};
  const size_t b = s.find_last_not_of("\r\n");
  return s.substr(a, b - a + 1);
}

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

Chat::Chat(Session& session, ChatOptions opts) : session_(session), opts_(opts) {
  const Tokenizer& tok = session_.model().tokenizer();
  const bool own = opts_.chat_template.empty();
  const std::string& source = own ? tok.chat_template() : opts_.chat_template;
  if (source.empty()) fail(session_.model().path(), "the model has no chat template, so it cannot hold a conversation", ErrorKind::Unsupported);
  template_ = std::make_unique<ChatTemplate>(source, own ? session_.model().path() + ": chat template" : "chat template");
  tags_ = detect_reasoning(source, &tok);
}

Chat::~Chat() = default;

size_t Chat::system_count() const { return !messages_.empty() && messages_[0].role == "system" ? 1 : 0; }

void Chat::set_system(const std::string& text) {
  if (system_count()) messages_.erase(messages_.begin());
  if (!text.empty()) messages_.insert(messages_.begin(), ChatMessage{"system", utf8::sanitize(text), ""});
}

void Chat::add(const std::string& role, const std::string& content) {
  if (!known_role(role)) fail("message role", "'" + role + "' is not one of system, user, assistant");
  messages_.push_back({role, utf8::sanitize(content), ""});
}

void Chat::set_messages(std::vector<ChatMessage> messages) {
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!known_role(messages[i].role))
      fail("message " + std::to_string(i + 1), "role '" + messages[i].role + "' is not one of system, user, assistant");
    messages[i].content = utf8::sanitize(messages[i].content);
    messages[i].reasoning = utf8::sanitize(messages[i].reasoning);
  }
  messages_ = std::move(messages);
}

void Chat::reset() {
  messages_.clear();
  generated_.clear();
  session_.reset();
}

void Chat::restore(std::vector<ChatMessage> messages, std::vector<GeneratedText> generated) {
  set_messages(std::move(messages));
  for (const auto& g : generated)
    if (g.begin >= g.end || g.end > session_.tokens().size()) fail("saved state", "an answer's token range is outside the session");
  generated_ = std::move(generated);
}

void Chat::clear() { messages_.erase(messages_.begin() + static_cast<long>(system_count()), messages_.end()); }

std::string Chat::render_messages(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) const {
  ChatTemplateInputs in;
  for (const auto& m : msgs) in.messages.push_back({{"role", m.role}, {"content", m.content}});
  in.add_generation_prompt = add_generation_prompt;
  if (opts_.enable_thinking) in.extra["enable_thinking"] = *opts_.enable_thinking;
  return template_->render(in, &session_.model().tokenizer());
}

std::string Chat::render(bool add_generation_prompt) const { return render_messages(messages_, add_generation_prompt); }

std::vector<int32_t> Chat::tokenize_prompt(const std::string& text) const {
  const Tokenizer& tok = session_.model().tokenizer();
  std::vector<int32_t> ids = tok.encode(text, false);
  // Templates that do not write the BOS themselves still get it where the model wants one.
  if (tok.add_bos() && (ids.empty() || ids[0] != tok.bos())) ids.insert(ids.begin(), tok.bos());
  return ids;
}

namespace {
struct PromptPlan {
  std::vector<int32_t> tokens;
  int reused = 0;  // leading tokens already held by the session
};

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

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

TurnStats Chat::respond(const TurnParams& params, const std::function<bool(const Piece&)>& on_piece) {
  cancel_.store(false);
  const Tokenizer& tok = session_.model().tokenizer();
  const int n_ctx = session_.n_ctx();
  TurnStats st;
  if (messages_.size() == system_count()) fail("conversation", "there is no message to answer");

  // Fit the conversation: drop the oldest turns after the system prompt.
  int reserve = opts_.answer_reserve > 0 ? opts_.answer_reserve : std::max(1, n_ctx / 4);
  if (params.max_tokens > 0) reserve = std::min(reserve, params.max_tokens);
  // Turns are dropped from a copy: a message that cannot fit leaves the history as it was.
  std::vector<ChatMessage> msgs = messages_;
  const size_t sys = system_count();
  std::string text;
  std::vector<int32_t> full;
  for (;;) {
    text = render_messages(msgs, true);
    full = tokenize_prompt(text);
    if (static_cast<int>(full.size()) + reserve <= n_ctx) break;
    if (msgs.size() - sys <= 1) {
      if (static_cast<int>(full.size()) < n_ctx) break;  // fits, with less room for the answer
      messages_.pop_back();
      fail("message", "the message takes " + std::to_string(full.size()) +
                          " tokens with the conversation's fixed part, more than the context of " + std::to_string(n_ctx) +
                          " tokens holds",
           ErrorKind::ContextFull);
    }
    // One turn: a message and the answers after it, so the history starts with a user message.
    msgs.erase(msgs.begin() + static_cast<long>(sys));
    ++st.n_dropped;
    while (msgs.size() - sys > 1 && msgs[sys].role == "assistant") {
      msgs.erase(msgs.begin() + static_cast<long>(sys));
      ++st.n_dropped;
    }
  }
  messages_ = std::move(msgs);

  PromptPlan plan = plan_prompt(tok, text, std::move(full), session_.tokens(), generated_);
  st.n_prompt = static_cast<int>(plan.tokens.size());
  int keep = std::min<int>(plan.reused, st.n_prompt - 1);  // the last prompt token is evaluated for its logits
  session_.truncate(keep);
  while (!generated_.empty() && generated_.back().end > static_cast<size_t>(keep)) generated_.pop_back();
  st.n_reused = std::min(keep, session_.n_past());
  st.n_evaluated = st.n_prompt - st.n_reused;
  std::vector<int32_t> prompt(plan.tokens.begin() + keep, plan.tokens.end());

  // Generation: tokens -> whole UTF-8 text -> reasoning split -> stop strings -> pieces.
  StreamDecoder decoder(tok);
  ReasoningSplitter splitter(tags_, tags_ && prompt_opens_reasoning(text, *tags_));
  StopMatcher stops(params.stop);
  ChatMessage answer{"assistant", "", ""};
  bool caller_stopped = false;
  auto pass_on = [&](const std::vector<Piece>& pieces) {
    for (const Piece& p0 : pieces) {
      Piece p = p0;
      if (p.kind == PieceKind::Content) {
        if (stops.stopped()) return;
        p.text = stops.feed(p.text);
      }
      if (p.text.empty()) continue;
      if (p.kind == PieceKind::Content) answer.content += p.text;
      if (p.kind == PieceKind::Reasoning) answer.reasoning += p.text;
      if (!caller_stopped && !on_piece(p)) caller_stopped = true;
    }
  };

  GeneratedText generated{static_cast<size_t>(keep) + prompt.size(), 0, ""};
  Sampler sampler(params.sampling);
  if (params.ignore_eog) sampler.ban(tok.eog_ids());
  int remaining = params.max_tokens < 0 ? INT_MAX : params.max_tokens;
  bool close_reasoning = false;
  const auto t0 = std::chrono::steady_clock::now();
  bool first_call = true;
  GenerateStats gs;
  while (remaining > 0) {
    close_reasoning = false;
    gs = session_.generate(prompt, sampler, remaining, [&](int32_t id) {
      if (splitter.in_reasoning()) ++st.n_reasoning;
      const std::string piece = decoder.feed(id);
      generated.text += piece;
      pass_on(splitter.feed(piece));
      if (cancel_.load() || caller_stopped || stops.stopped()) return false;
      if (params.reasoning_budget >= 0 && splitter.in_reasoning() && st.n_reasoning >= params.reasoning_budget) {
        close_reasoning = true;
        return false;
      }
      return true;
    });
    if (first_call) {
      st.prompt_seconds = gs.prompt_seconds;
      first_call = false;
    }
    st.n_generated += gs.n_generated;
    remaining -= gs.n_generated;
    if (!close_reasoning || cancel_.load() || caller_stopped) break;
    // The budget is spent: close the reasoning as the template would, and go on with the answer.
    const std::string close = decoder.flush() + "\n" + tags_->close + "\n\n";
    generated.text += close;
    pass_on(splitter.force_close(close));
    prompt = tok.encode("\n" + tags_->close + "\n\n", false);
    if (session_.tokens().size() + prompt.size() >= static_cast<size_t>(n_ctx)) {
      gs.context_full = true;
      break;
    }
  }
  const std::string last_piece = decoder.flush();
  generated.text += last_piece;
  pass_on(splitter.feed(last_piece));
  pass_on(splitter.flush());
  // The end-of-turn token is the template's, not part of the answer's text.
  generated.end = session_.tokens().size() - (gs.stopped_at_eog ? 1 : 0);
  if (generated.end > generated.begin) generated_.push_back(std::move(generated));
  if (!stops.stopped()) {
    const std::string tail = stops.flush();
    if (!tail.empty()) {
      answer.content += tail;
      if (!caller_stopped) on_piece({PieceKind::Content, tail});
    }
  }
  st.gen_seconds = seconds_since(t0) - st.prompt_seconds;

  if (cancel_.load() || caller_stopped) {
    st.finish_reason = "cancelled";
  } else if (stops.stopped() || gs.stopped_at_eog) {
    st.finish_reason = "stop";
  } else {
    st.finish_reason = "length";
  }
  answer.reasoning = trim_newlines(answer.reasoning);
  messages_.push_back(std::move(answer));
  return st;
}

std::string Chat::to_json() const {
  ojson a = ojson::array();
  for (const auto& m : messages_) {
    ojson o = {{"role", m.role}, {"content", m.content}};
    if (!m.reasoning.empty()) o["reasoning"] = m.reasoning;
    a.push_back(std::move(o));
  }
  return a.dump(2);
}

std::vector<ChatMessage> Chat::from_json(const std::string& text, const std::string& where) {
  ojson j;
  try {
    j = ojson::parse(text, [](int depth, ojson::parse_event_t, ojson&) {
      if (depth > kMaxJsonDepth) throw Error("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      return true;
    });
  } catch (const ojson::parse_error& e) {
    fail(where, std::string("not valid JSON: ") + e.what());
  } catch (const Error& e) {
    fail(where, e.what());
  }
  if (!j.is_array()) fail(where, "expected a JSON array of messages");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const ojson& m = j[i];
    const std::string at = where + ": message " + std::to_string(i + 1);
    if (!m.is_object()) fail(at, "expected an object with \"role\" and \"content\"");
    if (!m.contains("role") || !m["role"].is_string()) fail(at, "\"role\" must be a string");
    if (!m.contains("content") || !m["content"].is_string()) fail(at, "\"content\" must be a string");
    ChatMessage msg{m["role"].get<std::string>(), m["content"].get<std::string>(), ""};
    if (m.contains("reasoning")) {
      if (!m["reasoning"].is_string()) fail(at, "\"reasoning\" must be a string");
      msg.reasoning = m["reasoning"].get<std::string>();
    }
    if (!known_role(msg.role)) fail(at, "role '" + msg.role + "' is not one of system, user, assistant");
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace edgerun
