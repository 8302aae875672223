#include "runtime/scheduler.h"

#include <algorithm>
#include <climits>

#include "common/error.h"
#include "runtime/turn_stream.h"
#include "tokenizer/tokenizer.h"

namespace edgerun {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }
}  // namespace

bool RequestHandle::next(RequestEvent& event, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void RequestHandle::push(RequestEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

// A request from submit() until a slot takes it.
struct Scheduler::Pending {
  std::shared_ptr<RequestHandle> handle;
  GenerationRequest request;
  std::string text;             // the rendered prompt
  std::vector<int32_t> tokens;  // its tokens
  Clock::time_point submitted;
};

// A sequence of the batch: its session (KV cache) outlives requests, so the
// next request of the same conversation finds its prefix here.
struct Scheduler::Slot {
  int index = 0;
  std::unique_ptr<Session> session;
  std::vector<GeneratedText> generated;  // the answers the session holds
  // The request being served, if any.
  std::shared_ptr<RequestHandle> handle;
  GenerationRequest request;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<TurnStream> turn;
  GenerationResult result;
  GeneratedText answer;
  Clock::time_point submitted, started;
  bool first_token_seen = false;
  uint64_t last_used = 0;  // when it last took a request (a counter); 0: never
  bool active() const { return handle != nullptr; }
  bool prefilling() const { return active() && session->n_waiting() > 1; }
};

Scheduler::Scheduler(const Model& model, const SchedulerOptions& opts) : model_(model), opts_(opts) {
  if (opts_.n_slots < 1 || opts_.n_slots > 256) fail("parallel slots", "must be between 1 and 256, got " + std::to_string(opts_.n_slots));
  if (opts_.max_queue < 0) fail("queue size", "must not be negative");
  if (opts_.n_batch < 1) fail("batch size", "must be positive, got " + std::to_string(opts_.n_batch));
  if (!model.tokenizer().chat_template().empty() || !opts_.chat_template.empty())
    format_ = std::make_unique<ChatFormat>(model, opts_.chat_template, opts_.enable_thinking);
  compute_ = std::make_shared<Compute>(model, opts_.n_threads, opts_.n_threads_batch);
  SessionOptions so;
  so.n_ctx = opts_.n_ctx;
  so.n_batch = opts_.n_batch;
  so.kv_type = opts_.kv_type;
  so.kv_type_v = opts_.kv_type_v;
  for (int i = 0; i < opts_.n_slots; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    slot->session = std::make_unique<Session>(compute_, so);
    slots_.push_back(std::move(slot));
  }
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<RequestHandle> Scheduler::submit(GenerationRequest request) {
  auto p = std::make_unique<Pending>();
  const Tokenizer& tok = model_.tokenizer();
  if (request.chat) {
    if (!format_) fail(model_.path(), "the model has no chat template, so it cannot hold a conversation", ErrorKind::Unsupported);
    validate_messages(request.messages, "message ");
    if (request.messages.empty()) fail("messages", "there is no message to answer");
    p->text = format_->render(request.messages, true);
    p->tokens = format_->tokenize(p->text);
  } else {
    p->text = request.prompt;
    p->tokens = tok.encode(request.prompt, true);
  }
  if (p->tokens.empty()) fail("prompt", "has no tokens");
  const int n = static_cast<int>(p->tokens.size());
  if (n >= opts_.n_ctx)
    fail("prompt", "the prompt has " + std::to_string(n) + " tokens; the context holds " + std::to_string(opts_.n_ctx) +
                       " per request, with room for at least one generated token",
         ErrorKind::ContextFull);
  auto handle = std::make_shared<RequestHandle>();
  handle->n_prompt_ = n;
  p->handle = handle;
  p->request = std::move(request);
  p->submitted = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) fail("", "the scheduler is shutting down", ErrorKind::Busy);
    const int idle = static_cast<int>(slots_.size()) - busy_.load();
    if (static_cast<int>(queue_.size()) >= opts_.max_queue + std::max(0, idle))
      fail("queue", "all " + std::to_string(slots_.size()) + " slots are busy and " + std::to_string(queue_.size()) +
                        " requests are waiting (the most allowed)",
           ErrorKind::Busy);
    handle->id_ = next_id_++;
    queue_.push_back(std::move(p));
  }
  cv_.notify_all();
  return handle;
}

void Scheduler::cancel_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : queue_) p->handle->cancel();
  for (auto& h : running_) h->cancel();
  cv_.notify_all();
}

SchedulerMetrics Scheduler::metrics() const {
  SchedulerMetrics m;
  m.slots = static_cast<int>(slots_.size());
  m.busy_slots = busy_.load();
  {
    std::lock_guard<std::mutex> lock(mu_);
    m.queued = static_cast<int>(queue_.size());
  }
  m.requests = requests_.load();
  m.prompt_tokens = prompt_tokens_.load();
  m.cached_tokens = cached_tokens_.load();
  m.generated_tokens = generated_tokens_.load();
  m.forward_passes = passes_.load();
  return m;
}

void Scheduler::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        if (stop_ || !queue_.empty()) return true;
        return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->active(); });
      });
      if (stop_) break;
      admit_locked();
    }
    step();
  }
  // Shutting down: every request still here ends.
  for (auto& s : slots_)
    if (s->active()) finish(*s, "cancelled");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : queue_) {
    RequestEvent ev;
    ev.done = true;
    ev.result.finish_reason = "cancelled";
    p->handle->push(std::move(ev));
  }
  queue_.clear();
}

// Requests that were cancelled while waiting end here; the rest take idle
// slots in order, each the one whose held tokens share its longest prefix.
void Scheduler::admit_locked() {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if ((*it)->handle->cancelled()) {
      RequestEvent ev;
      ev.done = true;
      ev.result.finish_reason = "cancelled";
      ev.result.n_prompt = static_cast<int>((*it)->tokens.size());
      (*it)->handle->push(std::move(ev));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  while (!queue_.empty()) {
    Pending& p = *queue_.front();
    // The slot that holds most of this prompt, when the prompt continues what
    // it holds; else the one used least recently (an empty one first), so
    // that another conversation's cache is overwritten as late as possible.
    Slot* best = nullptr;
    size_t best_len = 0;
    Slot* oldest = nullptr;
    for (auto& s : slots_) {
      if (s->active()) continue;
      const auto& held = s->session->tokens();
      size_t n = 0;
      while (n < held.size() && n < p.tokens.size() && held[n] == p.tokens[n]) ++n;
      if (n > 0 && 2 * n >= held.size() && n > best_len) best = s.get(), best_len = n;
      if (!oldest || s->last_used < oldest->last_used) oldest = s.get();
    }
    if (!best) best = oldest;
    if (!best) break;
    try {
      start(*best, p);
    } catch (const std::exception& e) {  // the request ends; the slot is reset and stays idle
      if (best->handle == p.handle) {
        best->handle.reset();
        running_.erase(std::remove(running_.begin(), running_.end(), p.handle), running_.end());
      }
      best->session->reset();
      best->generated.clear();
      RequestEvent ev;
      ev.done = true;
      ev.result.finish_reason = "error";
      ev.result.error = e.what();
      p.handle->push(std::move(ev));
    }
    queue_.pop_front();
  }
}

void Scheduler::start(Slot& slot, Pending& p) {
  const Tokenizer& tok = model_.tokenizer();
  Session& session = *slot.session;
  PromptPlan plan = p.request.chat ? plan_prompt(tok, p.text, p.tokens, session.tokens(), slot.generated)
                                   : PromptPlan{p.tokens, 0};
  // A reused answer re-encoded may come out longer than the prompt submit() checked.
  if (static_cast<int>(plan.tokens.size()) >= session.n_ctx()) plan = PromptPlan{p.tokens, 0};
  if (plan.reused == 0) {
    const auto& held = session.tokens();
    while (plan.reused < static_cast<int>(held.size()) && plan.reused < static_cast<int>(plan.tokens.size()) &&
           held[plan.reused] == plan.tokens[plan.reused])
      ++plan.reused;
  }
  const int n_prompt = static_cast<int>(plan.tokens.size());
  // The last prompt token is evaluated again for its logits.
  const int keep = std::min(plan.reused, n_prompt - 1);
  session.truncate(keep);
  const int n_past_before = session.n_past();
  while (!slot.generated.empty() && slot.generated.back().end > static_cast<size_t>(keep)) slot.generated.pop_back();

  session.append(std::vector<int32_t>(plan.tokens.begin() + keep, plan.tokens.end()));
  slot.handle = p.handle;
  running_.push_back(p.handle);  // admit_locked holds the lock
  slot.last_used = ++uses_;
  slot.request = std::move(p.request);
  slot.result = GenerationResult{};
  slot.result.slot = slot.index;
  slot.result.n_prompt = n_prompt;
  slot.result.n_cached = std::min(keep, n_past_before);
  slot.submitted = p.submitted;
  slot.started = Clock::now();
  slot.result.queue_seconds = seconds_between(p.submitted, slot.started);
  slot.first_token_seen = false;
  slot.sampler = std::make_unique<Sampler>(slot.request.sampling);
  for (int32_t t : plan.tokens) slot.sampler->accept(t);
  const std::optional<ReasoningTags> tags = slot.request.chat && format_ ? format_->reasoning() : std::nullopt;
  RequestHandle* h = slot.handle.get();
  slot.turn = std::make_unique<TurnStream>(tok, tags, tags && prompt_opens_reasoning(p.text, *tags), slot.request.stop,
                                           [h](const Piece& piece) {
                                             RequestEvent ev;
                                             ev.piece = piece;
                                             h->push(std::move(ev));
                                             return true;
                                           });
  slot.answer = GeneratedText{session.tokens().size(), 0, ""};
  busy_.fetch_add(1);
  requests_.fetch_add(1);
  prompt_tokens_.fetch_add(static_cast<uint64_t>(n_prompt));
  cached_tokens_.fetch_add(static_cast<uint64_t>(slot.result.n_cached));
}

void Scheduler::step() {
  const Clock::time_point now = Clock::now();
  for (auto& s : slots_) {
    if (!s->active()) continue;
    if (s->handle->cancelled()) finish(*s, "cancelled");
    else if (s->request.max_seconds > 0 && seconds_between(s->started, now) > s->request.max_seconds) finish(*s, "length");
  }
  // Every generating slot's next token first, then prompt chunks in the order
  // the requests came, while the batch has room.
  std::vector<Session::Step> steps;
  std::vector<Slot*> owners;
  int budget = opts_.n_batch;
  for (auto& s : slots_)
    if (s->active() && s->session->n_waiting() == 1) {
      steps.push_back({s->session.get(), 1});
      owners.push_back(s.get());
      --budget;
    }
  std::vector<Slot*> prefill;
  for (auto& s : slots_)
    if (s->prefilling()) prefill.push_back(s.get());
  std::sort(prefill.begin(), prefill.end(), [](Slot* a, Slot* b) { return a->submitted < b->submitted; });
  for (Slot* s : prefill) {
    if (budget <= 0) break;
    const int n = std::min(budget, s->session->n_waiting());
    steps.push_back({s->session.get(), n});
    owners.push_back(s);
    budget -= n;
  }
  if (steps.empty()) return;
  std::vector<std::vector<float>> logits;
  try {
    logits = Session::evaluate_together(steps);
  } catch (const std::exception& e) {
    for (Slot* s : owners) finish(*s, "error", e.what());
    return;
  }
  passes_.fetch_add(1);
  for (size_t i = 0; i < owners.size(); ++i)
    if (!logits[i].empty()) sample_next(*owners[i], logits[i]);
}

void Scheduler::sample_next(Slot& slot, const std::vector<float>& logits) {
  const Tokenizer& tok = model_.tokenizer();
  Session& session = *slot.session;
  if (!slot.first_token_seen) {
    slot.first_token_seen = true;
    slot.result.first_token_seconds = seconds_between(slot.submitted, Clock::now());
  }
  const int32_t id = slot.sampler->sample(logits.data(), model_.hparams().n_vocab);
  slot.sampler->accept(id);
  session.append({id});  // evaluated by the next step, or kept for the next request
  if (tok.is_eog(id)) {
    slot.answer.end = session.tokens().size() - 1;  // the end-of-turn token is the template's
    finish(slot, "stop");
    return;
  }
  ++slot.result.n_generated;
  generated_tokens_.fetch_add(1);
  slot.turn->feed(id);
  slot.answer.end = session.tokens().size();
  if (slot.turn->stop_string_seen()) return finish(slot, "stop");
  if (slot.request.max_tokens >= 0 && slot.result.n_generated >= slot.request.max_tokens) return finish(slot, "length");
  if (static_cast<int>(session.tokens().size()) >= session.n_ctx()) return finish(slot, "length");
}

void Scheduler::finish(Slot& slot, const std::string& reason, const std::string& error) {
  slot.turn->finish();
  slot.answer.text = slot.turn->text();
  if (slot.answer.end > slot.answer.begin && reason != "error") slot.generated.push_back(slot.answer);
  if (reason == "error") slot.session->reset();  // what it holds is not known to be whole
  // A token sampled but not yet evaluated stays waiting: the next request reuses the slot from there.
  slot.result.finish_reason = reason;
  slot.result.error = error;
  slot.result.content = slot.turn->content();
  slot.result.reasoning = slot.turn->reasoning();
  slot.result.total_seconds = seconds_between(slot.submitted, Clock::now());
  RequestEvent ev;
  ev.done = true;
  ev.result = slot.result;
  std::shared_ptr<RequestHandle> handle = std::move(slot.handle);
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(std::remove(running_.begin(), running_.end(), handle), running_.end());
  }
  slot.turn.reset();
  slot.sampler.reset();
  busy_.fetch_sub(1);  // before the caller hears of it: it may look at the metrics next
  handle->push(std::move(ev));
}

}  // namespace edgerun
