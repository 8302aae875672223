// The HTTP server in-process on a free loopback port: routes, statuses and
// OpenAI's error shape for bad requests, the API key, streaming, a client that
// goes away, the metrics page. (tests/server/*.mjs drive it with real clients.)
#include <catch2/catch.hpp>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "edgerun.hpp"
#include "helpers.h"
#include "http_server.h"

using namespace edgerun;
using server::json;

namespace {
struct Running {
  std::unique_ptr<Model> model;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<server::HttpServer> http;
  std::thread thread;
  int port = 0;

  Running(server::ServerOptions so, int slots, int n_ctx = 256, int max_queue = 4, bool attach = true) {
    auto m = load_model(test::fixtures() + "/models/tiny-qwen2/model-q8_0.gguf", LoadOptions{"cpu"});
    REQUIRE(m.ok());
    model = std::move(*m);
    SchedulerOptions o;
    o.n_slots = slots;
    o.n_ctx = n_ctx;
    o.n_threads = 2;
    o.max_queue = max_queue;
    scheduler = std::make_unique<Scheduler>(*model, o);
    so.port = 0;
    http = std::make_unique<server::HttpServer>(so);
    std::string err;
    REQUIRE(http->bind(&err));
    port = http->port();
    if (attach) http->attach(*scheduler, SamplerParams{});
    thread = std::thread([this] { http->run(); });
  }
  ~Running() {
    scheduler->cancel_all();
    http->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c;
  }
};

json chat_body(const std::string& text, int max_tokens) {
  return {{"model", "x"}, {"messages", {{{"role", "user"}, {"content", text}}}}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

// Posts a body and checks the status and OpenAI's error shape; returns the message.
std::string expect_error(httplib::Client& c, const std::string& path, const std::string& body, int status,
                         const httplib::Headers& headers = {}) {
  auto r = c.Post(path.c_str(), headers, body, "application/json");
  REQUIRE(r);
  CHECK(r->status == status);
  const json j = json::parse(r->body);
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["message"].is_string());
  CHECK(j["error"]["type"].is_string());
  CHECK(j["error"].contains("code"));
  return j["error"]["message"].get<std::string>();
}

int64_t metric(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + name.size() + 2));
}
}  // namespace

TEST_CASE("bad requests get the right status and a message naming what is wrong", "[server]") {
  server::ServerOptions so;
  so.max_body_bytes = 1 << 20;
  Running s(so, 1);
  auto c = s.client();
  const std::string path = "/v1/chat/completions";
  CHECK_THAT(expect_error(c, path, "{\"messages\": [", 400), Catch::Contains("not valid JSON"));
  CHECK_THAT(expect_error(c, path, "[1, 2]", 400), Catch::Contains("JSON object"));
  CHECK_THAT(expect_error(c, path, "", 400), Catch::Contains("no body"));
  CHECK_THAT(expect_error(c, path, R"({"messages": "hi"})", 400), Catch::Contains("'messages' must be an array"));
  CHECK_THAT(expect_error(c, path, R"({"messages": []})", 400), Catch::Contains("at least one message"));
  CHECK_THAT(expect_error(c, path, R"({})", 400), Catch::Contains("'messages' is required"));
  CHECK_THAT(expect_error(c, path, R"({"messages": [{"role": "wizard", "content": "hi"}]})", 400),
             Catch::Contains("messages[0].role 'wizard'"));
  CHECK_THAT(expect_error(c, path, R"({"messages": [{"role": "user", "content": 5}]})", 400),
             Catch::Contains("messages[0].content"));
  // One field set wrong in an otherwise good body.
  const std::pair<const char*, json> wrong[] = {
      {"max_tokens", -3}, {"temperature", "hot"}, {"temperature", 7}, {"stream", "yes"}, {"n", 2}, {"stop", {1, 2}}};
  const char* says[] = {"'max_tokens'", "'temperature' must be a number, not a string", "between 0",
                        "'stream' must be a boolean", "'n' must be 1", "'stop'"};
  for (size_t i = 0; i < std::size(wrong); ++i) {
    json b = chat_body("hi", 4);
    b[wrong[i].first] = wrong[i].second;
    CHECK_THAT(expect_error(c, path, b.dump(), 400), Catch::Contains(says[i]));
  }
  // A prompt longer than the context is named as such, with OpenAI's code.
  auto r = c.Post(path.c_str(), chat_body(std::string(4000, 'x') + " y z", 4).dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(json::parse(r->body)["error"]["code"] == "context_length_exceeded");
  CHECK_THAT(r->body, Catch::Contains("context"));
  // JSON nested 100,000 deep fails fast at the depth limit.
  CHECK_THAT(expect_error(c, path, std::string(100000, '[') + std::string(100000, ']'), 400), Catch::Contains("nested deeper"));
  // A 10 MB body: 413.
  auto big = c.Post(path.c_str(), std::string(10 << 20, ' '), "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);
  // Unknown fields are ignored; the request still works.
  json b = chat_body("hi", 3);
  b["some_future_field"] = {{"x", 1}};
  r = c.Post(path.c_str(), b.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["usage"]["completion_tokens"] == 3);
  // Routes and methods.
  auto nf = c.Get("/v1/nothing");
  REQUIRE(nf);
  CHECK(nf->status == 404);
  CHECK(json::parse(nf->body).contains("error"));
  auto na = c.Get(path.c_str());
  REQUIRE(na);
  CHECK(na->status == 405);
  auto del = c.Delete("/v1/models");
  REQUIRE(del);
  CHECK(del->status == 405);
  // Completions: a prompt is required.
  CHECK_THAT(expect_error(c, "/v1/completions", R"({"prompt": 5})", 400), Catch::Contains("'prompt' must be a string"));
}

TEST_CASE("the API key is checked on every /v1 route; the page, health and metrics stay open", "[server]") {
  server::ServerOptions so;
  so.api_key = "s3cret-key";
  Running s(so, 1);
  auto c = s.client();
  CHECK_THAT(expect_error(c, "/v1/chat/completions", chat_body("hi", 2).dump(), 401), Catch::Contains("API key"));
  CHECK(expect_error(c, "/v1/chat/completions", chat_body("hi", 2).dump(), 401, {{"Authorization", "Bearer s3cret-kez"}}).size() > 0);
  CHECK(expect_error(c, "/v1/chat/completions", chat_body("hi", 2).dump(), 401, {{"Authorization", "Bearer s3cret-key2"}}).size() > 0);
  auto models = c.Get("/v1/models");
  REQUIRE(models);
  CHECK(models->status == 401);
  auto ok = c.Post("/v1/chat/completions", {{"Authorization", "Bearer s3cret-key"}}, chat_body("hi", 2).dump(), "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  for (const char* open : {"/", "/health", "/metrics"}) {
    auto r = c.Get(open);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  auto page = c.Get("/");
  CHECK_THAT(page->body, Catch::Contains("/v1/chat/completions"));
  CHECK(page->get_header_value("Content-Type").find("text/html") == 0);
}

TEST_CASE("while the model loads, health and the API answer 503", "[server]") {
  server::ServerOptions so;
  Running s(so, 1, 256, 4, /*attach=*/false);
  auto c = s.client();
  auto h = c.Get("/health");
  REQUIRE(h);
  CHECK(h->status == 503);
  CHECK(json::parse(h->body)["status"] == "loading");
  CHECK_THAT(expect_error(c, "/v1/chat/completions", chat_body("hi", 2).dump(), 503), Catch::Contains("loading"));
  s.http->attach(*s.scheduler, SamplerParams{});
  h = c.Get("/health");
  CHECK(h->status == 200);
}

TEST_CASE("streams end with [DONE]; a full queue is 503; a client that leaves frees its slot", "[server]") {
  server::ServerOptions so;
  Running s(so, 1, 4096, /*max_queue=*/0);
  auto c = s.client();
  // A stream: role first, pieces, the finish reason, usage, [DONE].
  json b = chat_body("Tell me a story", 6);
  b["stream"] = true;
  b["stream_options"] = {{"include_usage", true}};
  auto r = c.Post("/v1/chat/completions", b.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type").find("text/event-stream") == 0);
  std::vector<json> chunks;
  size_t at = 0;
  bool done = false;
  while ((at = r->body.find("data: ", at)) != std::string::npos) {
    const size_t end = r->body.find("\n\n", at);
    const std::string data = r->body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") done = true;
    else chunks.push_back(json::parse(data));
  }
  CHECK(done);
  REQUIRE(chunks.size() >= 3);
  CHECK(chunks.front()["choices"][0]["delta"]["role"] == "assistant");
  CHECK(chunks[chunks.size() - 2]["choices"][0]["finish_reason"] == "length");
  CHECK(chunks.back()["choices"].empty());
  CHECK(chunks.back()["usage"]["completion_tokens"] == 6);

  // A long request holds the only slot, and the queue has no places: 503.
  GenerationRequest hold;
  hold.messages = {{"user", "Tell me a long story", ""}};
  hold.max_tokens = 3000;
  auto holder = s.scheduler->submit(hold);
  for (int i = 0; i < 2000 && s.scheduler->metrics().busy_slots == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK_THAT(expect_error(c, "/v1/chat/completions", chat_body("hi", 2).dump(), 503), Catch::Contains("busy"));
  holder->cancel();
  RequestEvent ev;
  while (!(holder->next(ev, std::chrono::seconds(10)) && ev.done)) {
  }
  CHECK(ev.result.finish_reason == "cancelled");
  const uint64_t before = s.scheduler->metrics().generated_tokens;

  // A stream whose client goes away after a few chunks.
  std::atomic<int> got{0};
  std::thread leaver([&] {
    httplib::Client c2("127.0.0.1", s.port);
    json lb = chat_body("Tell me a long story", 3000);
    lb["stream"] = true;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = lb.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++got < 4; };  // false: hang up
    c2.send(req);
  });
  leaver.join();
  CHECK(got.load() == 4);
  // Its slot is free again within a step or two, long before 3000 tokens.
  int busy_slots = -1;
  for (int i = 0; i < 500; ++i) {
    auto m = c.Get("/metrics");
    REQUIRE(m);
    busy_slots = static_cast<int>(metric(m->body, "edgerun_slots_busy"));
    if (busy_slots == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(busy_slots == 0);
  CHECK(s.scheduler->metrics().generated_tokens - before < 3000);
  auto again = c.Post("/v1/chat/completions", chat_body("hi", 2).dump(), "application/json");
  REQUIRE(again);
  CHECK(again->status == 200);
  auto text = c.Get("/metrics");
  CHECK_THAT(text->body, Catch::Contains("# TYPE edgerun_generated_tokens_total counter"));
  CHECK_THAT(text->body, Catch::Contains("edgerun_http_responses_total{status=\"200\"}"));
  CHECK(metric(text->body, "edgerun_queue_depth") == 0);
}

TEST_CASE("edgerun serve: a model that cannot load, a port in use, a bad flag: one line, non-zero exit", "[server]") {
  const test::CliResult missing = test::run_cli("serve -m /nonexistent/model.gguf --port 0");
  CHECK(missing.code == 1);
  CHECK_THAT(missing.out, Catch::Contains("/nonexistent/model.gguf"));
  CHECK_THAT(missing.out, Catch::Contains("listening on http://127.0.0.1:"));  // it listened, then said why it stops
  // A port that is taken.
  httplib::Server holder;
  const int port = holder.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  const test::CliResult taken = test::run_cli("serve -m " + test::fixtures() + "/models/tiny-qwen2/model-q8_0.gguf --port " +
                                              std::to_string(port));
  CHECK(taken.code == 1);
  CHECK_THAT(taken.out, Catch::Contains("--host/--port") && Catch::Contains(std::to_string(port)));
  const test::CliResult bad = test::run_cli("serve -m x.gguf --port 70000");
  CHECK(bad.code != 0);
  CHECK_THAT(bad.out, Catch::Contains("--port"));
  const test::CliResult np = test::run_cli("serve -m x.gguf -np -1");
  CHECK(np.code != 0);
  CHECK_THAT(np.out, Catch::Contains("--parallel"));
}
