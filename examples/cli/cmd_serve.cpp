// edgerun serve: the OpenAI-compatible server. It listens at once (/health
// answers 503 while the model loads), then serves every request through the
// library's Scheduler. Ctrl-C or SIGTERM ends the requests and leaves.
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include "commands.h"
#include "common/files.h"
#include "common/system_memory.h"
#include "http_server.h"

namespace edgerun::cli {

namespace {
struct ServeOptions {
  EvalOptions eval;
  SamplingOptions sampling;
  server::ServerOptions http;
  int parallel = 0;
  int max_queue = 64;
  int batch = 512;
  std::string template_file;
  bool no_think = false;
};

int g_stop_pipe[2] = {-1, -1};
extern "C" void on_stop_signal(int) {
  const char byte = 1;
  const ssize_t n = write(g_stop_pipe[1], &byte, 1);
  (void)n;
}

// Up to 4 slots, as many as keep their KV caches within a quarter of the
// memory available: several streams cost little more than one to decode, but
// each holds a full context of KV cache.
int default_parallel(const Model& model, int n_ctx, KVType k, KVType v) {
  const uint64_t per_slot = Session::kv_bytes(model.hparams(), n_ctx, k, v);
  const uint64_t avail = available_memory_bytes();
  if (avail == 0 || per_slot == 0) return 1;
  int n = 4;
  while (n > 1 && per_slot * static_cast<uint64_t>(n) > avail / 4) --n;
  return n;
}

void serve(const ServeOptions& o0) {
  ServeOptions o = o0;
  if (o.http.model_name.empty()) {
    const std::string& m = o.eval.model;
    const size_t slash = m.find_last_of('/', m.size() > 1 ? m.size() - 2 : 0);
    o.http.model_name = slash == std::string::npos ? m : m.substr(slash + 1);
    while (!o.http.model_name.empty() && o.http.model_name.back() == '/') o.http.model_name.pop_back();
  }
  std::string chat_template;
  if (!o.template_file.empty()) chat_template = read_file(o.template_file);

  // Ctrl-C and SIGTERM wake one thread (through a pipe: all a handler may
  // safely do), which ends the requests and stops the server. Libraries may
  // have started threads before this, so blocking the signals would not do.
  if (pipe(g_stop_pipe) != 0) fail("", "cannot make a pipe for the stop signals");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that goes away is a failed write, not the end of the server

  server::HttpServer http(o.http);
  std::string error;
  if (!http.bind(&error)) fail("--host/--port", error);
  std::fprintf(stderr, "edgerun: listening on http://%s:%d (chat page at /, API at /v1)%s\n", o.http.host.c_str(),
               http.port(), o.http.api_key.empty() ? "" : ", API key required");

  std::unique_ptr<Model> model;
  std::unique_ptr<Scheduler> scheduler;
  std::atomic<Scheduler*> serving{nullptr};
  std::string load_error;
  std::thread loader([&] {
    try {
      auto m = load_model(o.eval.model, o.eval.load());
      if (!m) throw Error(m.message());
      model = std::move(*m);
      SchedulerOptions so;
      so.n_ctx = o.eval.ctx;
      so.n_threads = o.eval.threads;
      so.n_threads_batch = o.eval.threads_batch;
      o.eval.check_kv(*model);
      so.kv_type = o.eval.kv_k();
      so.kv_type_v = o.eval.kv_v();
      so.n_batch = o.batch;
      so.max_queue = o.max_queue;
      so.chat_template = chat_template;
      if (o.no_think) so.enable_thinking = false;
      so.n_slots = o.parallel > 0 ? o.parallel : default_parallel(*model, so.n_ctx, so.kv_type, *so.kv_type_v);
      scheduler = std::make_unique<Scheduler>(*model, so);
      std::string origin;
      const SamplerParams defaults = o.sampling.resolve(*model, &origin);
      http.attach(*scheduler, defaults);
      serving.store(scheduler.get());
      // Said once requests are served: scripts wait for this line.
      std::fprintf(stderr, "edgerun: %s ready: %d slot%s of %d tokens (KV cache %s), %s; sampling unless asked: %s\n",
                   o.http.model_name.c_str(), so.n_slots, so.n_slots == 1 ? "" : "s", so.n_ctx,
                   human_bytes(static_cast<double>(Session::kv_bytes(model->hparams(), so.n_ctx, so.kv_type, *so.kv_type_v)) * so.n_slots).c_str(),
                   model->backend_summary().c_str(), origin.c_str());

    } catch (const std::exception& e) {
      load_error = e.what();
      http.set_load_error(e.what());
      on_stop_signal(0);  // nothing to serve
    }
  });
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    char byte;
    while (read(g_stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (Scheduler* s = serving.load()) s->cancel_all();
    // The server may not be listening yet: ask until it has stopped.
    while (!stopped.load()) {
      http.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  http.run();
  stopped.store(true);
  on_stop_signal(0);  // the stopper may still be waiting
  stopper.join();
  loader.join();
  if (!load_error.empty()) throw Error(load_error);
  std::fprintf(stderr, "edgerun: server stopped\n");
}
}  // namespace

void add_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand("serve", "an OpenAI-compatible HTTP server (chat completions, completions, a chat page)");
  o->eval.add_to(*sub);
  o->sampling.add_to(*sub);
  o->http.model_name.clear();
  sub->add_option("--host", o->http.host, "address to listen on (127.0.0.1: this machine only; 0.0.0.0: every network)");
  sub->add_option("--port", o->http.port, "port (0: any free one)")->check(CLI::Range(0, 65535));
  sub->add_option("--parallel", o->parallel, "requests generated at once (also -np), each with its own context of -c tokens "
                                                 "(default: up to 4, as many as fit a quarter of the free memory)")
      ->check(CLI::Range(0, 256));
  sub->add_option("--api-key", o->http.api_key, "key every /v1 request must send (Authorization: Bearer KEY)")
      ->envname("EDGERUN_API_KEY");
  sub->add_option("--max-queue", o->max_queue, "requests waiting for a slot before more are refused with 503")
      ->check(CLI::Range(0, 100000));
  sub->add_option("-b,--batch-size", o->batch, "tokens per forward pass, all requests together")->check(CLI::Range(1, 1 << 16));
  sub->add_option("--alias", o->http.model_name, "model name the API shows (default: the file's name)");
  sub->add_option("--max-body", o->http.max_body_bytes, "largest request body in bytes (larger: 413)")->check(CLI::Range(1024, 1 << 30));
  sub->add_option("--timeout", o->http.limits.max_seconds, "longest generation of one request, in seconds")
      ->check(CLI::Range(1.0, 1e7));
  sub->add_option("--max-messages", o->http.limits.max_messages, "most messages in one request")->check(CLI::Range(1, 1 << 20));
  sub->add_option("--chat-template-file", o->template_file, "a Jinja chat template to use instead of the model's");
  sub->add_flag("--no-think", o->no_think, "ask the template not to think (enable_thinking false, where it has it)");
  sub->callback([o] { serve(*o); });
}

}  // namespace edgerun::cli
