// OpenAI's HTTP API in and out: request bodies checked field by field into
// GenerationRequests, and results into the response and stream-chunk shapes
// OpenAI's clients read. No HTTP and no model here, so every rule can be
// tested (and fuzzed) on its own.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "edgerun.hpp"

namespace edgerun::server {

using json = nlohmann::ordered_json;

// A request the API refuses: the HTTP status, OpenAI's error type and code,
// and a message that names the field.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string code = "")
      : std::runtime_error(message), status(status), type(std::move(type)), code(std::move(code)) {}
  int status;
  std::string type, code;
};

json error_body(const ApiError& e);

struct RequestLimits {
  int max_messages = 1024;
  int max_stop = 16;            // stop strings in one request
  int max_json_depth = 64;
  int n_ctx = 4096;             // a slot's context: max_tokens is capped by it
  double max_seconds = 600;     // a request's generation time
};

// Parses a body as JSON (depth-limited); ApiError 400 names what is wrong.
json parse_body(const std::string& body, const RequestLimits& limits);

enum class Endpoint { Chat, Completion };

struct ParsedRequest {
  GenerationRequest generation;
  bool stream = false;
  bool include_usage = false;
};

// Checks the fields of a chat or completion body. `defaults` is the sampling
// used where the request says nothing (the model's recommended values).
ParsedRequest parse_request(const json& body, Endpoint endpoint, const SamplerParams& defaults,
                            const RequestLimits& limits, uint64_t random_seed);

// The response of a non-streaming request.
json response_body(Endpoint endpoint, const std::string& id, const std::string& model, int64_t created,
                   const GenerationResult& result);
// One stream chunk: a piece of the answer or reasoning (piece set), or the
// last one with the finish reason (finish_reason set).
json chunk_body(Endpoint endpoint, const std::string& id, const std::string& model, int64_t created,
                const Piece* piece, const std::string* finish_reason, bool first);
// The usage chunk of stream_options.include_usage: no choices, the counts.
json usage_chunk(Endpoint endpoint, const std::string& id, const std::string& model, int64_t created,
                 const GenerationResult& result);
json usage_of(const GenerationResult& result);

}  // namespace edgerun::server
