// The C API (core/include/edgerun.h): a thin layer over the C++ runtime. Every
// entry point checks its pointers, runs the C++ code inside guard(), and turns
// any exception into an er_status and a thread-local message.
#include "edgerun.h"

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/json_input.h"
#include "common/log.h"
#include "edgerun.hpp"
#include "model/source.h"
#include "runtime/stop_strings.h"

using namespace edgerun;

struct er_model {
  std::unique_ptr<Model> model;
  std::string arch;
  std::vector<int32_t> eog;
  uint64_t n_params = 0;
  bool thinks = false;
};

struct er_session {
  er_model* owner = nullptr;
  std::unique_ptr<Session> session;
  std::unique_ptr<Chat> chat;  // when the model has a chat template
  std::atomic<bool> cancel{false};
};

namespace {

thread_local std::string t_last_error;

// An error raised by this layer with its status.
struct ApiError {
  er_status status;
  std::string message;
};

[[noreturn]] void api_fail(er_status st, const std::string& msg) { throw ApiError{st, msg}; }

template <typename T>
T* need(T* p, const char* name) {
  if (!p) api_fail(ER_ERR_INVALID_ARGUMENT, std::string(name) + " is NULL");
  return p;
}

// Runs fn; `otherwise` is the status of a library error that names no kind of its own.
template <typename Fn>
er_status guard(er_status otherwise, Fn&& fn) noexcept {
  try {
    fn();
    return ER_OK;
  } catch (const ApiError& e) {
    t_last_error = e.message;
    return e.status;
  } catch (const Error& e) {
    t_last_error = e.what();
    switch (e.kind()) {
      case ErrorKind::IO: return ER_ERR_IO;
      case ErrorKind::Unsupported: return ER_ERR_UNSUPPORTED;
      case ErrorKind::ContextFull: return ER_ERR_CONTEXT_FULL;
      case ErrorKind::Busy: case ErrorKind::Unspecified: break;
    }
    return otherwise;
  } catch (const std::bad_alloc&) {
    t_last_error = "out of memory";
    return ER_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    t_last_error = std::string("internal error: ") + e.what();
    return ER_ERR_INTERNAL;
  } catch (...) {
    t_last_error = "internal error";
    return ER_ERR_INTERNAL;
  }
}

// Reads a field of a caller's struct only if the caller's struct has it.
template <typename S>
bool has_field(const S* s, size_t offset, size_t size) {
  return s->struct_size >= offset + size;
}
#define ER_HAS(s, field) has_field((s), offsetof(std::remove_pointer_t<decltype(s)>, field), sizeof((s)->field))

template <typename S>
void check_size(const S* s, const char* name) {
  const size_t n = s->struct_size;
  if (n < sizeof(size_t) || n > (1u << 16))
    api_fail(ER_ERR_INVALID_ARGUMENT, std::string(name) + "->struct_size is not set (use the _init function)");
}

// The app's log callback; the library's sink calls it through log_bridge.
struct LogTarget {
  er_log_fn fn = nullptr;
  void* user = nullptr;
};
LogTarget g_log;
void log_bridge(LogLevel level, const char* message, void* target) {
  const LogTarget* t = static_cast<const LogTarget*>(target);
  if (t->fn) t->fn(static_cast<er_log_level>(level), message, t->user);
}

TurnParams turn_params(const er_generate_params* p) {
  TurnParams tp;
  if (!p) return tp;
  check_size(p, "params");
  if (ER_HAS(p, temperature)) tp.sampling.temperature = p->temperature;
  if (ER_HAS(p, top_k)) tp.sampling.top_k = p->top_k;
  if (ER_HAS(p, top_p)) tp.sampling.top_p = p->top_p;
  if (ER_HAS(p, min_p)) tp.sampling.min_p = p->min_p;
  if (ER_HAS(p, repeat_penalty)) tp.sampling.repeat_penalty = p->repeat_penalty;
  if (ER_HAS(p, seed)) tp.sampling.seed = p->seed;
  if (ER_HAS(p, max_tokens)) tp.max_tokens = p->max_tokens;
  if (ER_HAS(p, n_stop) && p->n_stop > 0) {
    if (!p->stop) api_fail(ER_ERR_INVALID_ARGUMENT, "params->stop is NULL but params->n_stop is not 0");
    for (size_t i = 0; i < p->n_stop; ++i) {
      if (!p->stop[i]) api_fail(ER_ERR_INVALID_ARGUMENT, "params->stop[" + std::to_string(i) + "] is NULL");
      tp.stop.emplace_back(p->stop[i]);
    }
  }
  if (ER_HAS(p, reasoning_budget)) tp.reasoning_budget = p->reasoning_budget;
  const SamplerParams& s = tp.sampling;
  if (!(s.temperature >= 0 && s.temperature <= 100)) api_fail(ER_ERR_INVALID_ARGUMENT, "params->temperature must be in [0, 100]");
  if (!(s.top_p >= 0 && s.top_p <= 1)) api_fail(ER_ERR_INVALID_ARGUMENT, "params->top_p must be in [0, 1]");
  if (!(s.min_p >= 0 && s.min_p <= 1)) api_fail(ER_ERR_INVALID_ARGUMENT, "params->min_p must be in [0, 1]");
  if (s.top_k < 0) api_fail(ER_ERR_INVALID_ARGUMENT, "params->top_k must not be negative");
  if (!(s.repeat_penalty > 0 && s.repeat_penalty <= 100)) api_fail(ER_ERR_INVALID_ARGUMENT, "params->repeat_penalty must be in (0, 100]");
  if (tp.max_tokens < -1) api_fail(ER_ERR_INVALID_ARGUMENT, "params->max_tokens must be -1 or more");
  if (tp.reasoning_budget < -1) api_fail(ER_ERR_INVALID_ARGUMENT, "params->reasoning_budget must be -1 or more");
  return tp;
}

void fill_result(er_generate_result* r, const TurnStats& st) {
  if (!r) return;
  check_size(r, "result");
  er_generate_result out{};
  out.struct_size = r->struct_size;
  out.finish = st.finish_reason == "stop" ? ER_FINISH_STOP : st.finish_reason == "length" ? ER_FINISH_LENGTH : ER_FINISH_CANCELLED;
  out.n_prompt = st.n_prompt;
  out.n_reused = st.n_reused;
  out.n_generated = st.n_generated;
  out.n_reasoning = st.n_reasoning;
  out.n_dropped = st.n_dropped;
  std::memcpy(r, &out, std::min(r->struct_size, sizeof out));
}

int call_piece(er_piece_fn fn, void* user, er_piece_kind kind, const std::string& text) {
  return fn ? fn(kind, text.c_str(), text.size(), user) : 0;
}

// The state file: what a session holds, and which model it belongs to.
nlohmann::json fingerprint(const Model& m) {
  const HParams& hp = m.hparams();
  return {{"architecture", hp.arch}, {"n_vocab", hp.n_vocab}, {"n_layer", hp.n_layer}, {"n_embd", hp.n_embd}};
}

}  // namespace

extern "C" {

const char* er_version(void) { return "0.1.0"; }
int er_abi_version(void) { return ER_ABI_VERSION; }
const char* er_last_error(void) { return t_last_error.c_str(); }

void er_set_log(er_log_fn fn, void* user) {
  set_log_sink(nullptr, nullptr);  // no message sees the target half-changed
  g_log.fn = fn;
  g_log.user = user;
  if (fn) set_log_sink(log_bridge, &g_log);
}

void er_model_params_init(er_model_params* p) {
  if (!p) return;
  *p = er_model_params{};
  p->struct_size = sizeof *p;
  p->backend = "auto";
  p->device = -1;
  p->gpu_layers = -1;
}

er_status er_model_load(const char* path, const er_model_params* params, er_model** out) {
  return guard(ER_ERR_MODEL, [&] {
    need(out, "out");
    *out = nullptr;
    need(path, "path");
    LoadOptions lo;
    er_progress_fn progress = nullptr;
    void* progress_user = nullptr;
    if (params) {
      check_size(params, "params");
      if (ER_HAS(params, backend) && params->backend) lo.backend = params->backend;
      if (ER_HAS(params, device)) lo.device = params->device;
      if (ER_HAS(params, gpu_layers)) lo.gpu_layers = params->gpu_layers;
      if (ER_HAS(params, progress)) progress = params->progress;
      if (ER_HAS(params, progress_user)) progress_user = params->progress_user;
    }
    if (progress && progress(0.0f, progress_user) != 0) api_fail(ER_ERR_INVALID_ARGUMENT, std::string(path) + ": loading cancelled");
    auto m = std::make_unique<er_model>();
    m->model = Model::load(path, lo);
    const Model& model = *m->model;
    m->arch = model.hparams().arch;
    m->eog = model.tokenizer().eog_ids();
    for (const auto& t : model.source().tensors()) m->n_params += static_cast<uint64_t>(t.n_elements());
    m->thinks = detect_reasoning(model.tokenizer().chat_template(), &model.tokenizer()).has_value();
    if (progress && progress(1.0f, progress_user) != 0) api_fail(ER_ERR_INVALID_ARGUMENT, std::string(path) + ": loading cancelled");
    *out = m.release();
  });
}

void er_model_free(er_model* model) { delete model; }

er_status er_model_get_info(const er_model* model, er_model_info* info) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(model, "model");
    need(info, "info");
    check_size(info, "info");
    const HParams& hp = model->model->hparams();
    er_model_info o{};
    o.struct_size = info->struct_size;
    o.architecture = model->arch.c_str();
    o.n_params = model->n_params;
    o.n_ctx_train = hp.n_ctx_train;
    o.n_vocab = hp.n_vocab;
    o.n_layer = hp.n_layer;
    o.has_chat_template = model->model->tokenizer().chat_template().empty() ? 0 : 1;
    o.thinks = model->thinks ? 1 : 0;
    o.eog_ids = model->eog.data();
    o.n_eog = static_cast<int>(model->eog.size());
    std::memcpy(info, &o, std::min(info->struct_size, sizeof o));
  });
}

er_status er_tokenize(const er_model* model, const char* text, size_t text_len, int add_special, int32_t* tokens,
                      size_t capacity, size_t* n_tokens) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(model, "model");
    need(n_tokens, "n_tokens");
    if (!text && text_len > 0) api_fail(ER_ERR_INVALID_ARGUMENT, "text is NULL");
    if (!tokens && capacity > 0) api_fail(ER_ERR_INVALID_ARGUMENT, "tokens is NULL but capacity is not 0");
    const std::vector<int32_t> ids = model->model->tokenizer().encode(std::string_view(text ? text : "", text_len), add_special != 0);
    *n_tokens = ids.size();
    if (!tokens && capacity == 0) return;
    if (ids.size() > capacity)
      api_fail(ER_ERR_BUFFER_TOO_SMALL, "the text has " + std::to_string(ids.size()) + " tokens, more than the buffer's " +
                                            std::to_string(capacity));
    std::copy(ids.begin(), ids.end(), tokens);
  });
}

er_status er_detokenize(const er_model* model, const int32_t* tokens, size_t n, char* text, size_t capacity, size_t* n_bytes) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(model, "model");
    need(n_bytes, "n_bytes");
    if (!tokens && n > 0) api_fail(ER_ERR_INVALID_ARGUMENT, "tokens is NULL");
    if (!text && capacity > 0) api_fail(ER_ERR_INVALID_ARGUMENT, "text is NULL but capacity is not 0");
    const Tokenizer& tok = model->model->tokenizer();
    std::vector<int32_t> ids(tokens, tokens + n);
    for (size_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= tok.vocab_size())
        api_fail(ER_ERR_INVALID_ARGUMENT, "tokens[" + std::to_string(i) + "] = " + std::to_string(ids[i]) + " is outside the vocabulary");
    const std::string s = tok.decode(ids);  // invalid UTF-8 already replaced
    *n_bytes = s.size();
    if (!text && capacity == 0) return;
    if (s.size() + 1 > capacity)
      api_fail(ER_ERR_BUFFER_TOO_SMALL, "the text takes " + std::to_string(s.size() + 1) + " bytes with its NUL, more than the buffer's " +
                                            std::to_string(capacity));
    std::memcpy(text, s.c_str(), s.size() + 1);
  });
}

void er_session_params_init(er_session_params* p) {
  if (!p) return;
  *p = er_session_params{};
  p->struct_size = sizeof *p;
  p->n_ctx = 4096;
  p->kv_type = ER_KV_F16;
  p->enable_thinking = -1;
  p->kv_type_v = -1;
  p->n_keep = -1;
}

er_status er_session_new(er_model* model, const er_session_params* params, er_session** out) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(out, "out");
    *out = nullptr;
    need(model, "model");
    SessionOptions so;
    ChatOptions co;
    if (params) {
      check_size(params, "params");
      if (ER_HAS(params, n_ctx)) so.n_ctx = params->n_ctx;
      if (ER_HAS(params, n_threads)) so.n_threads = params->n_threads;
      if (ER_HAS(params, n_threads_batch)) so.n_threads_batch = params->n_threads_batch;
      // Read as ints: a value that is no er_kv_type must be refused, not loaded as one.
      auto kv_of = [](int kv, const char* field) {
        switch (kv) {
          case ER_KV_F16: return KVType::F16;
          case ER_KV_F32: return KVType::F32;
          case ER_KV_Q8_0: return KVType::Q8_0;
          case ER_KV_Q4_0: return KVType::Q4_0;
          default: api_fail(ER_ERR_INVALID_ARGUMENT, std::string("params->") + field + " is not one of ER_KV_F16, ER_KV_F32, ER_KV_Q8_0, ER_KV_Q4_0");
        }
      };
      if (ER_HAS(params, kv_type)) {
        int kv = 0;
        std::memcpy(&kv, &params->kv_type, sizeof kv);
        so.kv_type = kv_of(kv, "kv_type");
      }
      if (ER_HAS(params, kv_type_v) && params->kv_type_v != -1) so.kv_type_v = kv_of(params->kv_type_v, "kv_type_v");
      if (ER_HAS(params, n_keep)) {
        if (params->n_keep < -1) api_fail(ER_ERR_INVALID_ARGUMENT, "params->n_keep must be -1 or a count of tokens");
        so.n_keep = params->n_keep;
      }
      if (ER_HAS(params, enable_thinking) && params->enable_thinking >= 0) co.enable_thinking = params->enable_thinking != 0;
    }
    if (so.n_threads < 0 || so.n_threads > 1024 || so.n_threads_batch < 0 || so.n_threads_batch > 1024)
      api_fail(ER_ERR_INVALID_ARGUMENT, "params->n_threads and n_threads_batch must be between 0 and 1024");
    auto s = std::make_unique<er_session>();
    s->owner = model;
    s->session = std::make_unique<Session>(*model->model, so);
    if (!model->model->tokenizer().chat_template().empty()) s->chat = std::make_unique<Chat>(*s->session, co);
    *out = s.release();
  });
}

void er_session_free(er_session* session) { delete session; }

er_status er_chat_add(er_session* session, const char* role, const char* content) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(session, "session");
    need(role, "role");
    need(content, "content");
    if (!session->chat) api_fail(ER_ERR_UNSUPPORTED, session->owner->model->path() + ": the model has no chat template");
    session->chat->add(role, content);
  });
}

er_status er_chat_reset(er_session* session) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(session, "session");
    if (session->chat) {
      session->chat->reset();
    } else {
      session->session->reset();
    }
  });
}

void er_generate_params_init(er_generate_params* p, const er_model* model) {
  if (!p) return;
  const SamplerParams d;
  *p = er_generate_params{};
  p->struct_size = sizeof *p;
  p->temperature = d.temperature;
  p->top_k = d.top_k;
  p->top_p = d.top_p;
  p->min_p = d.min_p;
  p->repeat_penalty = d.repeat_penalty;
  p->seed = d.seed;
  p->max_tokens = -1;
  p->reasoning_budget = -1;
  if (!model) return;
  const SamplingDefaults m = sampling_defaults(model->model->source().metadata());
  if (m.temperature) p->temperature = *m.temperature;
  if (m.top_k) p->top_k = *m.top_k;
  if (m.top_p) p->top_p = *m.top_p;
  if (m.min_p) p->min_p = *m.min_p;
}

er_status er_generate(er_session* session, const er_generate_params* params, er_piece_fn on_piece, void* user,
                      er_generate_result* result) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(session, "session");
    if (!session->chat) api_fail(ER_ERR_UNSUPPORTED, session->owner->model->path() + ": the model has no chat template (er_complete continues plain text)");
    const TurnParams tp = turn_params(params);
    if (result) check_size(result, "result");
    session->cancel.store(false);
    const TurnStats st = session->chat->respond(tp, [&](const Piece& p) {
      if (session->cancel.load()) return false;
      return call_piece(on_piece, user, static_cast<er_piece_kind>(p.kind), p.text) == 0;
    });
    fill_result(result, st);
  });
}

er_status er_complete(er_session* session, const char* prompt, const er_generate_params* params, er_piece_fn on_piece,
                      void* user, er_generate_result* result) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(session, "session");
    need(prompt, "prompt");
    const TurnParams tp = turn_params(params);
    if (result) check_size(result, "result");
    Session& s = *session->session;
    const Tokenizer& tok = s.model().tokenizer();
    const std::vector<int32_t> ids = tok.encode(prompt, s.tokens().empty());
    if (ids.empty()) api_fail(ER_ERR_INVALID_ARGUMENT, "the prompt has no tokens");
    session->cancel.store(false);
    Sampler sampler(tp.sampling);
    StreamDecoder decoder(tok);
    StopMatcher stops(tp.stop);
    bool stopped_by_caller = false;
    auto emit = [&](const std::string& text) {
      const std::string out = stops.feed(text);
      if (!out.empty() && !stopped_by_caller && call_piece(on_piece, user, ER_PIECE_CONTENT, out) != 0) stopped_by_caller = true;
    };
    const GenerateStats gs = s.generate(ids, sampler, tp.max_tokens < 0 ? INT_MAX : tp.max_tokens, [&](int32_t id) {
      emit(decoder.feed(id));
      return !(stopped_by_caller || stops.stopped() || session->cancel.load());
    });
    emit(decoder.flush());
    const std::string tail = stops.flush();
    if (!tail.empty() && !stopped_by_caller) call_piece(on_piece, user, ER_PIECE_CONTENT, tail);
    TurnStats st;
    st.n_prompt = gs.n_prompt;
    st.n_generated = gs.n_generated;
    st.finish_reason = (stopped_by_caller || session->cancel.load()) ? "cancelled"
                       : (stops.stopped() || gs.stopped_at_eog) ? "stop"
                                                                  : "length";
    fill_result(result, st);
  });
}

void er_cancel(er_session* session) {
  if (!session) return;
  session->cancel.store(true);
  if (session->chat) session->chat->cancel();
}

er_status er_eval(er_session* session, const int32_t* tokens, size_t n, float* logits) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(session, "session");
    need(tokens, "tokens");
    if (n == 0) api_fail(ER_ERR_INVALID_ARGUMENT, "n_tokens is 0");
    if (n > static_cast<size_t>(INT_MAX)) api_fail(ER_ERR_CONTEXT_FULL, "too many tokens");
    const std::vector<float> out = session->session->eval(std::vector<int32_t>(tokens, tokens + n));
    if (logits) std::memcpy(logits, out.data(), out.size() * sizeof(float));
  });
}

er_status er_session_save(const er_session* session, const char* path) {
  return guard(ER_ERR_IO, [&] {
    need(session, "session");
    need(path, "path");
    nlohmann::json j;
    j["format"] = "edgerun-session";
    j["version"] = 1;
    j["model"] = fingerprint(*session->owner->model);
    j["tokens"] = session->session->tokens();
    if (session->chat) {
      j["messages"] = nlohmann::json::parse(session->chat->to_json());
      nlohmann::json gen = nlohmann::json::array();
      for (const auto& g : session->chat->generated()) gen.push_back({{"begin", g.begin}, {"end", g.end}, {"text", g.text}});
      j["generated"] = gen;
    }
    const std::string text = j.dump();
    write_file_atomically(path, text.data(), text.size());
  });
}

er_status er_session_load(er_session* session, const char* path) {
  return guard(ER_ERR_INVALID_ARGUMENT, [&] {
    need(session, "session");
    need(path, "path");
    const std::string where = path;
    const std::string text = read_file(where);
    nlohmann::json j;
    try {
      j = parse_json_input(where, text);
    } catch (const Error& e) {
      api_fail(ER_ERR_INVALID_ARGUMENT, std::string(e.what()) + " (not a session state)");
    }
    auto bad = [&](const std::string& what) { api_fail(ER_ERR_INVALID_ARGUMENT, where + ": " + what); };
    if (!j.is_object() || j.value("format", "") != "edgerun-session") bad("not an edgerun session state");
    if (!j.contains("version") || json_integer(j["version"], 1, 1) != std::optional<int64_t>(1))
      bad("session state version " + j.value("version", nlohmann::json(0)).dump() + " is not 1");
    if (j["model"] != fingerprint(*session->owner->model)) bad("the state belongs to another model (" + j["model"].dump() + ")");
    if (!j.contains("tokens") || !j["tokens"].is_array()) bad("\"tokens\" must be an array");
    Session& s = *session->session;
    const int n_vocab = s.model().hparams().n_vocab;
    std::vector<int32_t> tokens;
    for (const auto& t : j["tokens"]) {
      const auto id = json_integer(t, 0, n_vocab - 1);
      if (!t.is_number_integer() || !id) bad("a token id is not in the vocabulary");
      tokens.push_back(static_cast<int32_t>(*id));
    }
    if (tokens.size() > static_cast<size_t>(s.n_ctx()))
      api_fail(ER_ERR_CONTEXT_FULL, where + ": the state holds " + std::to_string(tokens.size()) + " tokens, more than the context of " +
                                        std::to_string(s.n_ctx()));
    std::vector<ChatMessage> messages;
    std::vector<GeneratedText> generated;
    if (session->chat && j.contains("messages")) {
      messages = Chat::from_json(j["messages"].dump(), where);
      if (j.contains("generated")) {
        if (!j["generated"].is_array()) bad("\"generated\" must be an array");
        for (const auto& g : j["generated"]) {
          if (!g.is_object() || !g.contains("begin") || !g["begin"].is_number_unsigned() || !g.contains("end") ||
              !g["end"].is_number_unsigned() || !g.contains("text") || !g["text"].is_string())
            bad("an entry of \"generated\" is not {begin, end, text}");
          generated.push_back({g["begin"].get<size_t>(), g["end"].get<size_t>(), g["text"].get<std::string>()});
          if (generated.back().begin >= generated.back().end || generated.back().end > tokens.size())
            bad("an entry of \"generated\" is outside the tokens");
        }
      }
    }
    // Everything checked: only now is the session's own state replaced.
    s.reset();
    if (!tokens.empty()) s.eval(tokens);
    if (session->chat) session->chat->restore(std::move(messages), std::move(generated));
  });
}

}  // extern "C"
