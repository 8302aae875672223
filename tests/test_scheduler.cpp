// The scheduler: several requests in one forward pass give each the text it
// gets alone; slots, the queue, cancellation and the prompt cache.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "edgerun.hpp"
#include "helpers.h"
#include "runtime/scheduler.h"

using namespace edgerun;

namespace {
std::unique_ptr<Model> load(const std::string& name) {
  auto m = load_model(test::fixtures() + "/models/" + name, LoadOptions{"cpu"});
  INFO(name << ": " << (m ? "" : m.message()));
  REQUIRE(m.ok());
  return std::move(*m);
}

SchedulerOptions slots(int n, int n_ctx = 256) {
  SchedulerOptions o;
  o.n_slots = n;
  o.n_ctx = n_ctx;
  o.n_threads = 2;
  o.n_batch = 64;
  o.max_queue = 8;
  return o;
}

GenerationRequest chat_request(const std::string& user, int max_tokens) {
  GenerationRequest r;
  r.messages = {{"user", user, ""}};
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  return r;
}

struct Collected {
  std::string text;  // every piece, in order
  int pieces = 0;
  GenerationResult result;
};

Collected collect(RequestHandle& h) {
  Collected c;
  RequestEvent ev;
  for (;;) {
    REQUIRE(h.next(ev, std::chrono::seconds(60)));
    if (ev.done) break;
    c.text += ev.piece.text;
    ++c.pieces;
  }
  c.result = ev.result;
  return c;
}

const char* kPrompts[] = {"Tell me a story about a dragon.", "What is two and two?", "List three colours, please.",
                          "Why is the sky blue? Explain it in a few words."};
}  // namespace

TEST_CASE("four requests decoded together give, token for token, the greedy text each gets alone", "[scheduler]") {
  for (const char* name : {"tiny-qwen2/model-q8_0.gguf", "tiny-llama/model-q4_k_m.gguf", "tiny-qwen3/model-q4_0.gguf"}) {
    INFO(name);
    auto model = load(name);
    std::vector<Collected> alone;
    {
      Scheduler one(*model, slots(1));
      for (const char* p : kPrompts) alone.push_back(collect(*one.submit(chat_request(p, 24))));
    }
    // Chat, the one-user path, agrees with a one-slot scheduler.
    {
      SessionOptions so;
      so.n_ctx = 256;
      Session s(*model, so);
      Chat chat(s);
      chat.add("user", kPrompts[0]);
      TurnParams tp;
      tp.sampling.temperature = 0;
      tp.max_tokens = 24;
      std::string text;
      chat.respond(tp, [&](const Piece& p) { return text += p.text, true; });
      CHECK(text == alone[0].text);
    }
    Scheduler four(*model, slots(4));
    std::vector<std::shared_ptr<RequestHandle>> hs;
    for (const char* p : kPrompts) hs.push_back(four.submit(chat_request(p, 24)));
    for (size_t i = 0; i < hs.size(); ++i) {
      const Collected c = collect(*hs[i]);
      INFO("request " << i);
      CHECK(c.text == alone[i].text);
      CHECK(c.result.content == alone[i].result.content);
      CHECK(c.result.n_generated == alone[i].result.n_generated);
      CHECK(c.result.finish_reason == alone[i].result.finish_reason);
      CHECK(c.result.n_prompt == alone[i].result.n_prompt);
    }
    // The four ran side by side: fewer forward passes than one after another.
    const SchedulerMetrics m = four.metrics();
    CHECK(m.requests == 4);
    CHECK(m.busy_slots == 0);
    uint64_t generated = 0;
    for (const auto& a : alone) generated += static_cast<uint64_t>(a.result.n_generated);
    CHECK(m.generated_tokens == generated);
    CHECK(m.forward_passes < generated);
  }
}

TEST_CASE("a request continuing a conversation reuses the slot that holds it", "[scheduler]") {
  auto model = load("tiny-qwen2/model-q8_0.gguf");
  Scheduler s(*model, slots(2));
  const Collected first = collect(*s.submit(chat_request(kPrompts[0], 12)));
  CHECK(first.result.n_cached == 0);
  // Another conversation takes the other slot (the first one's prefix is kept).
  const Collected other = collect(*s.submit(chat_request(kPrompts[2], 12)));
  GenerationRequest next = chat_request("", 12);
  next.messages = {{"user", kPrompts[0], ""}, {"assistant", first.result.content, ""}, {"user", kPrompts[1], ""}};
  const Collected second = collect(*s.submit(next));
  CHECK(second.result.slot == first.result.slot);
  CHECK(second.result.slot != other.result.slot);
  CHECK(second.result.n_cached > first.result.n_prompt);  // the first prompt and the answer
  CHECK(second.result.n_cached < second.result.n_prompt);
}

TEST_CASE("max_tokens, stop strings and completions end requests as asked", "[scheduler]") {
  auto model = load("tiny-qwen3/model-q4_0.gguf");
  Scheduler s(*model, slots(2));
  const Collected a = collect(*s.submit(chat_request(kPrompts[1], 5)));
  CHECK(a.result.n_generated == 5);
  CHECK(a.result.finish_reason == "length");
  // A stop string cuts the text where it starts.
  const Collected full = collect(*s.submit(chat_request(kPrompts[3], 30)));
  REQUIRE(full.result.content.size() > 8);
  GenerationRequest stopped = chat_request(kPrompts[3], 30);
  stopped.stop = {full.result.content.substr(4, 3)};
  const Collected b = collect(*s.submit(stopped));
  CHECK(b.result.finish_reason == "stop");
  CHECK(b.result.content == full.result.content.substr(0, full.result.content.find(stopped.stop[0])));
  CHECK(b.text == b.result.content);
  // A raw prompt, no template.
  GenerationRequest c;
  c.chat = false;
  c.prompt = "Once upon a time";
  c.sampling.temperature = 0;
  c.max_tokens = 6;
  const Collected cc = collect(*s.submit(c));
  CHECK(cc.result.n_generated == 6);
  CHECK(cc.result.n_prompt == static_cast<int>(model->tokenizer().encode(c.prompt, true).size()));
}

TEST_CASE("the queue is bounded, a cancelled request frees its slot, errors are named", "[scheduler]") {
  auto model = load("tiny-qwen2/model-q4_0.gguf");
  SchedulerOptions o = slots(1, 512);
  o.max_queue = 1;
  Scheduler s(*model, o);
  auto running = s.submit(chat_request(kPrompts[0], 400));
  // Wait until it holds the slot, then fill the one queue place.
  for (int i = 0; i < 500 && s.metrics().busy_slots == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE(s.metrics().busy_slots == 1);
  auto waiting = s.submit(chat_request(kPrompts[1], 4));
  try {
    s.submit(chat_request(kPrompts[2], 4));
    FAIL("a third request was accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::Busy);
    CHECK(std::string(e.what()).find("busy") != std::string::npos);
  }
  running->cancel();
  const Collected r = collect(*running);
  CHECK(r.result.finish_reason == "cancelled");
  CHECK(r.result.n_generated < 400);
  const Collected w = collect(*waiting);
  CHECK(w.result.finish_reason == "length");
  CHECK(w.result.n_generated == 4);
  CHECK(s.metrics().busy_slots == 0);
  CHECK(s.metrics().queued == 0);

  // A prompt longer than a slot's context, an unknown role, no messages.
  GenerationRequest big = chat_request(std::string(3000, 'a') + " b c d", 4);
  try {
    s.submit(big);
    FAIL("a prompt longer than the context was accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::ContextFull);
    CHECK(std::string(e.what()).find("context") != std::string::npos);
  }
  GenerationRequest role = chat_request("hi", 4);
  role.messages[0].role = "wizard";
  CHECK_THROWS_WITH(s.submit(role), Catch::Contains("wizard"));
  GenerationRequest none = chat_request("hi", 4);
  none.messages.clear();
  CHECK_THROWS_WITH(s.submit(none), Catch::Contains("messages"));
  CHECK(s.metrics().queued == 0);
}

TEST_CASE("the same seed gives the same sampled text through the scheduler", "[scheduler]") {
  auto model = load("tiny-llama/model-q8_0.gguf");
  Scheduler s(*model, slots(2));
  GenerationRequest r = chat_request(kPrompts[0], 16);
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 42;
  const Collected a = collect(*s.submit(r));
  const Collected b = collect(*s.submit(r));
  r.sampling.seed = 43;
  const Collected c = collect(*s.submit(r));
  CHECK(a.text == b.text);
  CHECK(a.text != c.text);
}
