#include "runtime/chat.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_input.h"
#include "runtime/turn_stream.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace edgerun {

namespace {
using ojson = nlohmann::ordered_json;
}  // namespace

Chat::Chat(Session& session, ChatOptions opts)
    : session_(session), opts_(opts), format_(session.model(), opts_.chat_template, opts_.enable_thinking) {}

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
  validate_messages(messages, "message ");
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

std::string Chat::render(bool add_generation_prompt) const { return format_.render(messages_, add_generation_prompt); }

namespace {
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
    text = format_.render(msgs, true);
    full = format_.tokenize(text);
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
  const std::optional<ReasoningTags>& tags = format_.reasoning();
  TurnStream turn(tok, tags, tags && prompt_opens_reasoning(text, *tags), params.stop, on_piece);
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
      turn.feed(id);
      if (cancel_.load() || turn.caller_stopped() || turn.stop_string_seen()) return false;
      if (params.reasoning_budget >= 0 && turn.in_reasoning() && turn.n_reasoning() >= params.reasoning_budget) {
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
    if (!close_reasoning || cancel_.load() || turn.caller_stopped()) break;
    // The budget is spent: close the reasoning as the template would, and go on with the answer.
    turn.force_close_reasoning("\n" + tags->close + "\n\n");
    prompt = tok.encode("\n" + tags->close + "\n\n", false);
    if (session_.tokens().size() + prompt.size() >= static_cast<size_t>(n_ctx)) {
      gs.context_full = true;
      break;
    }
  }
  turn.finish();
  st.n_reasoning = turn.n_reasoning();
  // The end-of-turn token is the template's, not part of the answer's text.
  generated.text = turn.text();
  generated.end = session_.tokens().size() - (gs.stopped_at_eog ? 1 : 0);
  if (generated.end > generated.begin) generated_.push_back(std::move(generated));
  st.gen_seconds = seconds_since(t0) - st.prompt_seconds;

  if (cancel_.load() || turn.caller_stopped()) {
    st.finish_reason = "cancelled";
  } else if (turn.stop_string_seen() || gs.stopped_at_eog) {
    st.finish_reason = "stop";
  } else {
    st.finish_reason = "length";
  }
  messages_.push_back(ChatMessage{"assistant", turn.content(), turn.reasoning()});
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
  const ojson j = parse_json_input<ojson>(where, text);
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
