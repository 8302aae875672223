/* edgerun: run small language models on CPUs (and GPUs), embedded in an app.
 *
 * The C API of libedgerun. C99; compiles as C and as C++.
 *
 *   er_model *m; er_session *s;
 *   er_model_params mp; er_model_params_init(&mp);
 *   if (er_model_load("model.gguf", &mp, &m) != ER_OK) { fprintf(stderr, "%s\n", er_last_error()); return 1; }
 *   er_session_params sp; er_session_params_init(&sp); sp.n_ctx = 8192;
 *   er_session_new(m, &sp, &s);
 *   er_chat_add(s, "user", "Why is the sky blue?");
 *   er_generate_params gp; er_generate_params_init(&gp);
 *   er_generate(s, &gp, on_piece, user_data);
 *   er_session_free(s); er_model_free(m);
 *
 * Contract, for every function:
 *  - No call aborts, throws or exits: every failure is an er_status, with a
 *    message for er_last_error(). NULL pointers and bad arguments are errors.
 *  - A model is immutable once loaded: any number of sessions, on any threads,
 *    may share it. A session is used by one thread at a time; er_cancel() is
 *    the one call that may come from another thread while it works.
 *  - Parameter structs start with struct_size, which the *_init functions set:
 *    fields added in later versions go at the end, so an app built against
 *    this header keeps working with a newer library of the same ABI major.
 *  - Strings in are UTF-8 (invalid bytes are replaced with U+FFFD); strings
 *    out are UTF-8 and never split a character. Strings returned by the
 *    library stay valid as stated at each function; the caller frees nothing
 *    but handles, with the matching *_free.
 *  - The library writes nothing to stdout or stderr: messages go to the log
 *    callback (er_set_log), if any.
 */
#ifndef EDGERUN_H
#define EDGERUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ER_API __attribute__((visibility("default")))
#else
#define ER_API
#endif

/* The ABI major: it changes only when an existing function or struct field changes. */
#define ER_ABI_VERSION 0

typedef enum er_status {
  ER_OK = 0,
  ER_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, a value out of range, an unknown role */
  ER_ERR_IO = 2,               /* a file could not be opened, read or written */
  ER_ERR_MODEL = 3,            /* a model file is corrupt, or of an unknown type or architecture */
  ER_ERR_UNSUPPORTED = 4,      /* e.g. chat with a model that has no chat template */
  ER_ERR_CONTEXT_FULL = 5,     /* the tokens do not fit the session's context */
  ER_ERR_BUFFER_TOO_SMALL = 6, /* the size needed was stored; call again with a larger buffer */
  ER_ERR_OUT_OF_MEMORY = 7,
  ER_ERR_INTERNAL = 8
} er_status;

typedef struct er_model er_model;
typedef struct er_session er_session;

/* "0.1.0". Static storage. */
ER_API const char *er_version(void);
/* ER_ABI_VERSION of the library actually loaded; compare with the header's. */
ER_API int er_abi_version(void);
/* The message of the last failed call on this thread ("" if none). Valid until
 * the next failing call on the same thread. */
ER_API const char *er_last_error(void);

typedef enum er_log_level { ER_LOG_DEBUG = 0, ER_LOG_INFO = 1, ER_LOG_WARN = 2, ER_LOG_ERROR = 3 } er_log_level;
/* Called with one line of text (no newline), from whichever thread logs. */
typedef void (*er_log_fn)(er_log_level level, const char *message, void *user);
/* Process-wide; NULL silences the library (the default). */
ER_API void er_set_log(er_log_fn fn, void *user);

/* ---- models ---------------------------------------------------------------- */

/* Loading progress from 0 to 1; returning non-zero cancels the load. */
typedef int (*er_progress_fn)(float progress, void *user);

typedef struct er_model_params {
  size_t struct_size;
  const char *backend;     /* "auto" (default), "cpu", "blas", "onednn", "vulkan" */
  int device;              /* GPU backends: device index; -1 = their default */
  int gpu_layers;          /* GPU backends: layers on the GPU; -1 = as many as fit */
  er_progress_fn progress; /* may be NULL */
  void *progress_user;
} er_model_params;

ER_API void er_model_params_init(er_model_params *params);
/* A .gguf or .erm file, or a Hugging Face folder. *out is set on success only. */
ER_API er_status er_model_load(const char *path, const er_model_params *params, er_model **out);
/* Frees a model; every session of it must be freed first. NULL is fine. */
ER_API void er_model_free(er_model *model);

typedef struct er_model_info {
  size_t struct_size;
  const char *architecture;  /* "llama", "qwen2", ... ; valid while the model lives */
  uint64_t n_params;         /* weights, counted from the tensors' shapes */
  int n_ctx_train;           /* the context length the model was trained for */
  int n_vocab;
  int n_layer;
  int has_chat_template;     /* 1 if er_chat_add / er_generate can be used */
  int thinks;                /* 1 for a model that writes <think>reasoning</think> */
  const int32_t *eog_ids;    /* the end-of-generation tokens; valid while the model lives */
  int n_eog;
} er_model_info;

/* Fills *info (set info->struct_size first, or use a zeroed struct with it set). */
ER_API er_status er_model_get_info(const er_model *model, er_model_info *info);

/* Text to token ids, with the model's special tokens (add_special: BOS where the
 * model adds one). Writes at most capacity ids; *n_tokens gets the number the
 * text has. Size query: tokens NULL and capacity 0 -> ER_OK with *n_tokens set;
 * too small a buffer -> ER_ERR_BUFFER_TOO_SMALL with *n_tokens set. */
ER_API er_status er_tokenize(const er_model *model, const char *text, size_t text_len, int add_special, int32_t *tokens,
                             size_t capacity, size_t *n_tokens);
/* Token ids to text (UTF-8; an incomplete character at the end becomes U+FFFD),
 * NUL-terminated. *n_bytes gets the length without the NUL; the size query and
 * ER_ERR_BUFFER_TOO_SMALL work as for er_tokenize (capacity counts the NUL). */
ER_API er_status er_detokenize(const er_model *model, const int32_t *tokens, size_t n_tokens, char *text, size_t capacity,
                               size_t *n_bytes);

/* ---- sessions --------------------------------------------------------------- */

/* Quantized caches (blocks of 32 values) take about half (q8_0) or a quarter
 * (q4_0) of f16's memory; they need a head size that is a multiple of 32 and
 * the cpu backends. */
typedef enum er_kv_type { ER_KV_F16 = 0, ER_KV_F32 = 1, ER_KV_Q8_0 = 2, ER_KV_Q4_0 = 3 } er_kv_type;

typedef struct er_session_params {
  size_t struct_size;
  int n_ctx;           /* context size in tokens; default 4096 */
  int n_threads;       /* generation threads; 0 = physical cores (at most the CPUs allowed) */
  int n_threads_batch; /* prompt threads; 0 = as n_threads */
  er_kv_type kv_type;  /* default ER_KV_F16 */
  int enable_thinking; /* -1: the template's default (default); 0 / 1: the template's enable_thinking */
  int kv_type_v;       /* the values' er_kv_type; -1 (default): as kv_type, which then sets the keys' only */
  int n_keep;          /* generating at a full context: -1 (default) stops; N >= 0 keeps the first N
                          tokens, drops half of the rest and goes on (a context shift) */
} er_session_params;

ER_API void er_session_params_init(er_session_params *params);
/* A conversation (or a raw token sequence) with its own KV cache on `model`. */
ER_API er_status er_session_new(er_model *model, const er_session_params *params, er_session **out);
ER_API void er_session_free(er_session *session);

/* ---- generation ------------------------------------------------------------- */

typedef struct er_generate_params {
  size_t struct_size;
  float temperature;       /* 0 = greedy. Defaults: the model's recommendation, else 0.8 */
  int top_k;               /* 0 = off; default 40 (or the model's) */
  float top_p;             /* 1 = off; default 0.95 (or the model's) */
  float min_p;             /* 0 = off; default 0.05 (or the model's) */
  float repeat_penalty;    /* 1 = off (default) */
  uint64_t seed;           /* the same seed gives the same text */
  int max_tokens;          /* -1 = until the end of the turn or a full context (default) */
  const char *const *stop; /* stop strings, n_stop of them; may be NULL */
  size_t n_stop;
  int reasoning_budget;    /* thinking models: close the reasoning after N tokens; -1 = no limit */
} er_generate_params;

/* Sets the defaults, taking the sampling the model recommends where it says so
 * (generation_config.json, GGUF general.sampling.*). model may be NULL. */
ER_API void er_generate_params_init(er_generate_params *params, const er_model *model);

typedef enum er_piece_kind {
  ER_PIECE_CONTENT = 0,   /* the answer */
  ER_PIECE_REASONING = 1, /* a thinking model's reasoning, tags removed */
  ER_PIECE_MARKER = 2     /* the tags and their blank lines: what the model wrote besides the rest */
} er_piece_kind;

/* Receives generated text as it comes: whole UTF-8 characters, NUL-terminated
 * (len excludes the NUL), valid only during the call. Return 0 to go on,
 * non-zero to stop. */
typedef int (*er_piece_fn)(er_piece_kind kind, const char *text, size_t len, void *user);

typedef enum er_finish { ER_FINISH_STOP = 0, ER_FINISH_LENGTH = 1, ER_FINISH_CANCELLED = 2 } er_finish;

typedef struct er_generate_result {
  size_t struct_size;
  er_finish finish;  /* end of turn or stop string; token limit or full context; er_cancel or the callback */
  int n_prompt;      /* tokens of the prompt */
  int n_reused;      /* of them, already in the KV cache */
  int n_generated;
  int n_reasoning;
  int n_dropped;     /* chat: oldest messages dropped to fit the context */
} er_generate_result;

/* Adds a message ("system", "user" or "assistant") to the session's
 * conversation. ER_ERR_UNSUPPORTED for a model without a chat template. */
ER_API er_status er_chat_add(er_session *session, const char *role, const char *content);
/* Forgets the conversation and the KV cache. */
ER_API er_status er_chat_reset(er_session *session);
/* Generates the assistant's answer to the conversation, rendered with the
 * model's chat template. Only tokens that changed since the last turn are
 * evaluated. The answer (without reasoning) joins the conversation. When the
 * conversation outgrows the context, its oldest turns are dropped; a last
 * message that cannot fit is removed again and ER_ERR_CONTEXT_FULL returned.
 * on_piece may be NULL; result may be NULL. */
ER_API er_status er_generate(er_session *session, const er_generate_params *params, er_piece_fn on_piece, void *user,
                             er_generate_result *result);
/* Continues plain text: tokenizes prompt (with the model's BOS), evaluates it
 * after what the session holds, and generates. For models without a chat
 * template and for raw completion. */
ER_API er_status er_complete(er_session *session, const char *prompt, const er_generate_params *params,
                             er_piece_fn on_piece, void *user, er_generate_result *result);
/* Stops an er_generate / er_complete in progress on `session` at its next
 * token. Safe from any thread; no effect when nothing runs. */
ER_API void er_cancel(er_session *session);

/* Advanced: evaluates tokens after what the session holds; logits (may be NULL)
 * gets n_vocab floats, the distribution after the last token. */
ER_API er_status er_eval(er_session *session, const int32_t *tokens, size_t n_tokens, float *logits);

/* Saves the session (its tokens and conversation) to a file, replacing it
 * atomically; loading re-evaluates the tokens, so it continues with the same
 * logits. A state file of another model is refused. */
ER_API er_status er_session_save(const er_session *session, const char *path);
ER_API er_status er_session_load(er_session *session, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* EDGERUN_H */
