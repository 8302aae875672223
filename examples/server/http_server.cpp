#include "http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <random>
#include <cstdio>
#include <sstream>

#include "common/log.h"

namespace edgerun::server {

namespace {
// The chat page, embedded at build time (examples/server/chat_page.html).
const char kChatPage[] =
#include "chat_page.inc"
    ;

const char* kJson = "application/json";
// A body over the limit is still read (and dropped) up to this many bytes.
constexpr size_t kDrainBytes = 64u << 20;
constexpr int kListenBacklog = 512;

// Equal keys take as long to compare as unequal ones of the same length.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

std::string error_type_of(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

ApiError error_of_status(int status) {
  switch (status) {
    case 400: return ApiError(400, "bad request");
    case 404: return ApiError(404, "no such route", "not_found_error");
    case 405: return ApiError(405, "method not allowed for this route");
    case 413: return ApiError(413, "the request body is too large", "invalid_request_error", "request_too_large");
    case 414: return ApiError(414, "the request URI is too long");
    default: return ApiError(status, "HTTP error " + std::to_string(status), error_type_of(status));
  }
}

std::string sse(const json& j) { return "data: " + j.dump() + "\n\n"; }

uint64_t random_seed() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return rng();
}

void log_request(const std::string& id, const GenerationResult& r) {
  const double gen = r.total_seconds - r.first_token_seconds;
  char line[512];
  std::snprintf(line, sizeof line, "request %s slot %d: prompt %d tokens (%d cached), generated %d, first token %.3f s, %.1f t/s, %s",
                id.c_str(), r.slot, r.n_prompt, r.n_cached, r.n_generated, r.first_token_seconds,
                gen > 0 && r.n_generated > 1 ? (r.n_generated - 1) / gen : 0.0, r.finish_reason.c_str());
  log_message(LogLevel::Info, r.error.empty() ? line : std::string(line) + ": " + r.error);
}
}  // namespace

HttpServer::HttpServer(ServerOptions opts) : opts_(std::move(opts)), http_(std::make_unique<httplib::Server>()) {
  int threads = opts_.http_threads;
  if (threads <= 0) threads = 128;  // a streaming request holds a thread for its whole length
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(std::max(opts_.max_body_bytes, kDrainBytes));
  http_->set_read_timeout(opts_.read_timeout_seconds, 0);
  http_->set_write_timeout(opts_.read_timeout_seconds, 0);
  http_->set_keep_alive_max_count(100);
  // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, with which a
  // second server on a port in use would share it silently instead of failing.
  // TCP_NODELAY: a streamed token goes out at once, not when the last is acknowledged.
  http_->set_socket_options([this](socket_t sock) {
    listen_fd_ = sock;
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const void*>(&yes), sizeof yes);
  });
  routes();
}

HttpServer::~HttpServer() = default;

bool HttpServer::bind(std::string* error) {
  bool bound = false;
  if (opts_.port == 0) {
    port_ = http_->bind_to_any_port(opts_.host);
    bound = port_ > 0;
  } else if (http_->bind_to_port(opts_.host, opts_.port)) {
    port_ = opts_.port;
    bound = true;
  }
  if (bound) {
    // cpp-httplib 0.11 listens with a backlog of 5: a burst of clients
    // connecting at once overflows it and some get their connection reset.
    // Listening again on the same socket only raises the backlog.
    if (listen_fd_ >= 0) ::listen(listen_fd_, kListenBacklog);
    return true;
  }
  if (error) *error = "cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) + " (in use, or not an address of this machine)";
  return false;
}

void HttpServer::attach(Scheduler& scheduler, const SamplerParams& defaults) {
  defaults_ = defaults;
  scheduler_.store(&scheduler);
}

void HttpServer::set_load_error(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  load_error_ = message;
}

void HttpServer::run() { http_->listen_after_bind(); }
void HttpServer::stop() { http_->stop(); }

void HttpServer::count_status(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++statuses_[status];
}

void HttpServer::send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(error_body(e).dump(), kJson);
}

bool HttpServer::authorized(const httplib::Request& req) const {
  if (opts_.api_key.empty()) return true;
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.compare(0, prefix.size(), prefix) != 0) return false;
  return same_secret(auth.substr(prefix.size()), opts_.api_key);
}

void HttpServer::routes() {
  using httplib::Request;
  using httplib::Response;
  http_->set_logger([this](const Request&, const Response& res) { count_status(res.status); });
  // Errors httplib answers itself (404, 413, a malformed request) get OpenAI's shape too.
  http_->set_error_handler([this](const Request&, Response& res) {
    if (res.body.empty()) send_error(res, error_of_status(res.status));
  });
  http_->set_exception_handler([this](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, what, "server_error"));
  });
  // Every /v1 route asks for the key; the rest (page, health, metrics) tell nothing private.
  http_->set_pre_routing_handler([this](const Request& req, Response& res) {
    if (req.path.rfind("/v1/", 0) == 0 && !authorized(req)) {
      send_error(res, ApiError(401, "a valid API key is required (Authorization: Bearer <key>)", "authentication_error", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  http_->Get("/", [](const Request&, Response& res) { res.set_content(kChatPage, "text/html; charset=utf-8"); });
  http_->Get("/health", [this](const Request&, Response& res) {
    std::string err;
    {
      std::lock_guard<std::mutex> lock(mu_);
      err = load_error_;
    }
    if (!err.empty()) {
      res.status = 500;
      res.set_content(json{{"status", "error"}, {"error", err}}.dump(), kJson);
    } else if (!scheduler_.load()) {
      res.status = 503;
      res.set_content(json{{"status", "loading"}}.dump(), kJson);
    } else {
      res.set_content(json{{"status", "ok"}}.dump(), kJson);
    }
  });
  http_->Get("/metrics", [this](const Request&, Response& res) { res.set_content(metrics_text(), "text/plain; version=0.0.4"); });
  http_->Get("/v1/models", [this](const Request&, Response& res) {
    const json model = {{"id", opts_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "edgerun"}};
    res.set_content(json{{"object", "list"}, {"data", json::array({model})}}.dump(), kJson);
  });
  // Bodies are read here, not by cpp-httplib, so that one over --max-body is
  // still read to its end (up to a cap) before the 413: a server that closes a
  // connection with unread data resets it, and the client never sees the answer.
  auto post = [this](Endpoint endpoint) {
    return [this, endpoint](const Request& req, Response& res, const httplib::ContentReader& reader) {
      std::string body;
      size_t seen = 0;
      reader([&](const char* data, size_t n) {
        seen += n;
        if (seen <= opts_.max_body_bytes) body.append(data, n);
        return seen <= kDrainBytes;
      });
      if (seen > opts_.max_body_bytes)
        return send_error(res, ApiError(413, "the request body has more than the " + std::to_string(opts_.max_body_bytes) +
                                                 " bytes allowed (--max-body)", "invalid_request_error", "request_too_large"));
      completion(body, res, endpoint);
    };
  };
  http_->Post("/v1/chat/completions", post(Endpoint::Chat));
  http_->Post("/v1/completions", post(Endpoint::Completion));

  // A known route asked with another method: 405, not 404.
  auto not_allowed = [this](const Request&, Response& res) { send_error(res, error_of_status(405)); };
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    http_->Get(path, not_allowed);
    http_->Put(path, not_allowed);
    http_->Delete(path, not_allowed);
    http_->Patch(path, not_allowed);
  }
  for (const char* path : {"/", "/health", "/metrics", "/v1/models"}) {
    http_->Post(path, not_allowed);
    http_->Put(path, not_allowed);
    http_->Delete(path, not_allowed);
    http_->Patch(path, not_allowed);
  }
}

void HttpServer::completion(const std::string& body, httplib::Response& res, Endpoint endpoint) {
  Scheduler* sched = scheduler_.load();
  if (!sched) return send_error(res, ApiError(503, "the model is still loading", "unavailable_error", "model_loading"));
  ParsedRequest parsed;
  std::shared_ptr<RequestHandle> handle;
  try {
    RequestLimits limits = opts_.limits;
    limits.n_ctx = sched->options().n_ctx;
    parsed = parse_request(parse_body(body, limits), endpoint, defaults_, limits, random_seed());
    handle = sched->submit(parsed.generation);
  } catch (const ApiError& e) {
    return send_error(res, e);
  } catch (const Error& e) {
    switch (e.kind()) {
      case ErrorKind::ContextFull: return send_error(res, ApiError(400, e.what(), "invalid_request_error", "context_length_exceeded"));
      case ErrorKind::Busy: return send_error(res, ApiError(503, e.what(), "unavailable_error", "server_busy"));
      case ErrorKind::Unsupported: return send_error(res, ApiError(400, e.what(), "invalid_request_error", "unsupported"));
      default: return send_error(res, ApiError(400, e.what()));
    }
  }
  const std::string id = (endpoint == Endpoint::Chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_.fetch_add(1));
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  const std::string model = opts_.model_name;

  if (!parsed.stream) {
    RequestEvent ev;
    while (!(handle->next(ev, std::chrono::seconds(1)) && ev.done)) {
    }
    log_request(id, ev.result);
    if (ev.result.finish_reason == "error") return send_error(res, ApiError(500, ev.result.error, "server_error"));
    if (ev.result.finish_reason == "cancelled") return send_error(res, ApiError(503, "the server is shutting down", "unavailable_error"));
    res.set_content(response_body(endpoint, id, model, created, ev.result).dump(), kJson);
    return;
  }

  const bool include_usage = parsed.include_usage;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [handle, endpoint, id, model, created, include_usage](size_t, httplib::DataSink& sink) {
        auto send = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        bool first = true;
        RequestEvent ev;
        for (;;) {
          if (!handle->next(ev, std::chrono::milliseconds(200))) {
            if (!sink.is_writable()) break;
            continue;
          }
          if (ev.done) break;
          if (ev.piece.kind == PieceKind::Marker) continue;
          if (!send(sse(chunk_body(endpoint, id, model, created, &ev.piece, nullptr, first)))) break;
          first = false;
        }
        if (!ev.done) {  // the client went away: its slot is freed at the next step
          handle->cancel();
          while (!(handle->next(ev, std::chrono::seconds(1)) && ev.done)) {
          }
          log_request(id, ev.result);
          return false;
        }
        log_request(id, ev.result);
        bool ok = true;
        if (ev.result.finish_reason == "error") {
          ok = send(sse(error_body(ApiError(500, ev.result.error, "server_error"))));
        } else {
          ok = send(sse(chunk_body(endpoint, id, model, created, nullptr, &ev.result.finish_reason, first)));
          if (ok && include_usage) ok = send(sse(usage_chunk(endpoint, id, model, created, ev.result)));
        }
        if (ok) ok = send("data: [DONE]\n\n");
        if (ok) sink.done();
        return ok;
      },
      [handle](bool) { handle->cancel(); });
}

std::string HttpServer::metrics_text() const {
  std::ostringstream s;
  auto metric = [&](const char* name, const char* type, const char* help, uint64_t value) {
    s << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
  };
  SchedulerMetrics m;
  if (Scheduler* sched = scheduler_.load()) m = sched->metrics();
  metric("edgerun_requests_total", "counter", "generation requests that took a slot", m.requests);
  metric("edgerun_prompt_tokens_total", "counter", "prompt tokens of those requests", m.prompt_tokens);
  metric("edgerun_prompt_tokens_cached_total", "counter", "prompt tokens reused from a slot's cache", m.cached_tokens);
  metric("edgerun_generated_tokens_total", "counter", "tokens generated", m.generated_tokens);
  metric("edgerun_forward_passes_total", "counter", "forward passes (each carries every busy slot)", m.forward_passes);
  metric("edgerun_slots", "gauge", "parallel slots", static_cast<uint64_t>(m.slots));
  metric("edgerun_slots_busy", "gauge", "slots serving a request", static_cast<uint64_t>(m.busy_slots));
  metric("edgerun_queue_depth", "gauge", "requests waiting for a slot", static_cast<uint64_t>(m.queued));
  s << "# HELP edgerun_http_responses_total HTTP responses by status\n# TYPE edgerun_http_responses_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [status, n] : statuses_) s << "edgerun_http_responses_total{status=\"" << status << "\"} " << n << '\n';
  return s.str();
}

}  // namespace edgerun::server
