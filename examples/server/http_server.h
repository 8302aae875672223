// edgerun's OpenAI-compatible HTTP server: routes, API key, limits, server-
// sent events, the metrics page and the embedded chat page, on cpp-httplib.
// Generation itself is the library's Scheduler; this only translates.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "openai_api.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace edgerun::server {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8080;                  // 0: any free port (tests)
  std::string api_key;              // empty: no key asked for
  std::string model_name = "edgerun";
  size_t max_body_bytes = 4u << 20;
  int http_threads = 0;             // connections served at once; 0: 128 (more wait to be accepted)
  int read_timeout_seconds = 30;    // a client that sends its request this slowly is dropped
  RequestLimits limits;
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions opts);
  ~HttpServer();

  // Binds the address; false (with `error` set) when it cannot.
  bool bind(std::string* error);
  int port() const { return port_; }
  // The model is ready: /v1 routes are served from now on (503 before).
  void attach(Scheduler& scheduler, const SamplerParams& defaults);
  // Loading failed: /health says so with 500; /v1 routes answer 503.
  void set_load_error(const std::string& message);
  // Serves until stop() (from any thread).
  void run();
  void stop();

 private:
  void routes();
  bool authorized(const httplib::Request& req) const;
  void completion(const std::string& body, httplib::Response& res, Endpoint endpoint);
  void send_error(httplib::Response& res, const ApiError& e);
  std::string metrics_text() const;
  void count_status(int status);

  ServerOptions opts_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  int listen_fd_ = -1;  // the listening socket, as cpp-httplib made it
  std::atomic<Scheduler*> scheduler_{nullptr};
  SamplerParams defaults_;
  mutable std::mutex mu_;
  std::string load_error_;
  std::map<int, uint64_t> statuses_;  // responses sent, by HTTP status
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace edgerun::server
