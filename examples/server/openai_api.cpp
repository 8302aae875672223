#include "openai_api.h"

#include <cmath>

namespace edgerun::server {

namespace {
[[noreturn]] void bad(const std::string& message, const std::string& code = "") { throw ApiError(400, message, "invalid_request_error", code); }

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

// Optional fields: absent or null leave the value as it is; the wrong type is a 400.
bool get_number(const json& body, const char* key, double lo, double hi, double* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_number()) bad(std::string("'") + key + "' must be a number, not " + type_name(*it));
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    bad(std::string("'") + key + "' must be between " + json(lo).dump() + " and " + json(hi).dump() + ", got " + it->dump());
  *out = v;
  return true;
}

bool get_int(const json& body, const char* key, int64_t lo, int64_t hi, int64_t* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_number_integer() && !(it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()))
    bad(std::string("'") + key + "' must be an integer, not " + (it->is_number() ? it->dump() : type_name(*it)));
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
      bad(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + it->dump());
    *out = static_cast<int64_t>(d);
    return true;
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    bad(std::string("'") + key + "' is out of range: " + it->dump());
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    bad(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(v));
  *out = v;
  return true;
}

bool get_bool(const json& body, const char* key, bool* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) bad(std::string("'") + key + "' must be a boolean, not " + type_name(*it));
  *out = it->get<bool>();
  return true;
}

// A message's content: a string, or an array of text parts (OpenAI's newer shape).
std::string content_text(const json& c, const std::string& where) {
  if (c.is_null()) return "";
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) bad(where + ".content must be a string or an array of text parts, not " + type_name(c));
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    const json& part = c[i];
    const std::string at = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) bad(at + " must be an object with a 'type'");
    const std::string type = part["type"].get<std::string>();
    if (type != "text") bad(at + ": content of type '" + type + "' is not supported (text only)");
    if (!part.contains("text") || !part["text"].is_string()) bad(at + ".text must be a string");
    out += part["text"].get<std::string>();
  }
  return out;
}

std::vector<ChatMessage> parse_messages(const json& body, const RequestLimits& limits) {
  auto it = body.find("messages");
  if (it == body.end()) bad("'messages' is required");
  if (!it->is_array()) bad(std::string("'messages' must be an array, not ") + type_name(*it));
  if (it->empty()) bad("'messages' must hold at least one message");
  if (static_cast<int>(it->size()) > limits.max_messages)
    bad("'messages' holds " + std::to_string(it->size()) + " messages, more than the " + std::to_string(limits.max_messages) + " allowed");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad(at + " must be an object, not " + type_name(m));
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) bad(at + ".role must be a string");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // OpenAI's newer name for it
    if (r != "system" && r != "user" && r != "assistant")
      bad(at + ".role '" + r + "' is not supported (system, developer, user, assistant)");
    auto content = m.find("content");
    if (content == m.end() && r != "assistant") bad(at + ".content is required");
    ChatMessage msg{r, content == m.end() ? "" : content_text(*content, at), ""};
    // reasoning_content sent back (DeepSeek's API) is not fed to the model: the template drops past reasoning.
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<std::string> parse_stop(const json& body, const RequestLimits& limits) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return {};
  std::vector<std::string> out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    if (static_cast<int>(it->size()) > limits.max_stop)
      bad("'stop' holds " + std::to_string(it->size()) + " strings, more than the " + std::to_string(limits.max_stop) + " allowed");
    for (const json& s : *it) {
      if (!s.is_string()) bad("'stop' must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    bad(std::string("'stop' must be a string or an array of strings, not ") + type_name(*it));
  }
  for (const auto& s : out)
    if (s.empty()) bad("'stop' strings must not be empty");
  return out;
}

json message_fields(const GenerationResult& r) {
  json m = {{"role", "assistant"}, {"content", r.content}};
  if (!r.reasoning.empty()) m["reasoning_content"] = r.reasoning;
  return m;
}
}  // namespace

json error_body(const ApiError& e) {
  return {{"error", {{"message", e.what()}, {"type", e.type}, {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

json parse_body(const std::string& body, const RequestLimits& limits) {
  if (body.empty()) bad("the request has no body (a JSON object is expected)");
  json j;
  try {
    j = json::parse(body, [&](int depth, json::parse_event_t, json&) {
      if (depth > limits.max_json_depth)
        throw ApiError(400, "the JSON body is nested deeper than " + std::to_string(limits.max_json_depth) + " levels");
      return true;
    });
  } catch (const json::exception& e) {
    bad(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) bad(std::string("the body must be a JSON object, not ") + type_name(j));
  return j;
}

ParsedRequest parse_request(const json& body, Endpoint endpoint, const SamplerParams& defaults,
                            const RequestLimits& limits, uint64_t random_seed) {
  ParsedRequest p;
  GenerationRequest& g = p.generation;
  g.chat = endpoint == Endpoint::Chat;
  if (auto m = body.find("model"); m != body.end() && !m->is_null() && !m->is_string())
    bad(std::string("'model' must be a string, not ") + type_name(*m));
  if (g.chat) {
    g.messages = parse_messages(body, limits);
  } else {
    auto it = body.find("prompt");
    if (it == body.end()) bad("'prompt' is required");
    if (it->is_string()) {
      g.prompt = it->get<std::string>();
    } else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
      g.prompt = (*it)[0].get<std::string>();
    } else {
      bad("'prompt' must be a string (or an array of one string)");
    }
    if (g.prompt.empty()) bad("'prompt' must not be empty");
  }
  get_bool(body, "stream", &p.stream);
  if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!so->is_object()) bad(std::string("'stream_options' must be an object, not ") + type_name(*so));
    get_bool(*so, "include_usage", &p.include_usage);
  }
  int64_t n = 1;
  if (get_int(body, "n", 1, 128, &n) && n != 1) bad("'n' must be 1: one choice per request is supported");

  // Completions default to 16 tokens, as OpenAI's; chat runs to the end of the answer.
  int64_t max_tokens = g.chat ? -1 : 16;
  const int64_t cap = limits.n_ctx;
  get_int(body, "max_tokens", 0, INT64_MAX, &max_tokens);
  get_int(body, "max_completion_tokens", 0, INT64_MAX, &max_tokens);
  if (max_tokens == 0) bad("'max_tokens' must be at least 1");
  g.max_tokens = static_cast<int>(std::min(max_tokens < 0 ? cap : max_tokens, cap));

  SamplerParams& s = g.sampling;
  s = defaults;
  double d = 0;
  if (get_number(body, "temperature", 0, 2, &d)) s.temperature = static_cast<float>(d);
  if (get_number(body, "top_p", 0, 1, &d)) s.top_p = static_cast<float>(d);
  if (get_number(body, "min_p", 0, 1, &d)) s.min_p = static_cast<float>(d);
  if (get_number(body, "presence_penalty", -2, 2, &d)) s.presence_penalty = static_cast<float>(d);
  if (get_number(body, "frequency_penalty", -2, 2, &d)) s.frequency_penalty = static_cast<float>(d);
  if (get_number(body, "repeat_penalty", 0, 100, &d)) s.repeat_penalty = static_cast<float>(d);
  int64_t i = 0;
  if (get_int(body, "top_k", 0, 1 << 24, &i)) s.top_k = static_cast<int>(i);
  s.seed = random_seed;
  if (get_int(body, "seed", INT64_MIN, INT64_MAX, &i)) s.seed = static_cast<uint64_t>(i);
  g.stop = parse_stop(body, limits);
  g.max_seconds = limits.max_seconds;
  return p;
}

json usage_of(const GenerationResult& r) {
  return {{"prompt_tokens", r.n_prompt},
          {"completion_tokens", r.n_generated},
          {"total_tokens", r.n_prompt + r.n_generated},
          {"prompt_tokens_details", {{"cached_tokens", r.n_cached}}}};
}

json response_body(Endpoint endpoint, const std::string& id, const std::string& model, int64_t created,
                   const GenerationResult& r) {
  json choice = {{"index", 0}};
  if (endpoint == Endpoint::Chat) {
    choice["message"] = message_fields(r);
  } else {
    choice["text"] = r.content;
    choice["logprobs"] = nullptr;
  }
  choice["finish_reason"] = r.finish_reason;
  return {{"id", id},
          {"object", endpoint == Endpoint::Chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})},
          {"usage", usage_of(r)}};
}

json chunk_body(Endpoint endpoint, const std::string& id, const std::string& model, int64_t created,
                const Piece* piece, const std::string* finish_reason, bool first) {
  json choice = {{"index", 0}};
  if (endpoint == Endpoint::Chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (piece) delta[piece->kind == PieceKind::Reasoning ? "reasoning_content" : "content"] = piece->text;
    else if (first) delta["content"] = "";
    choice["delta"] = delta;
  } else {
    choice["text"] = piece ? piece->text : "";
    choice["logprobs"] = nullptr;
  }
  choice["finish_reason"] = finish_reason ? json(*finish_reason) : json(nullptr);
  return {{"id", id},
          {"object", endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})}};
}

json usage_chunk(Endpoint endpoint, const std::string& id, const std::string& model, int64_t created,
                 const GenerationResult& r) {
  return {{"id", id},
          {"object", endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array()},
          {"usage", usage_of(r)}};
}

}  // namespace edgerun::server
