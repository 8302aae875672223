/* The C API, from C: bad arguments, threads, cancel, whole UTF-8 pieces, saved
 * states. Compiled as C99 (-pedantic) against libedgerun.so; run under ASan and
 * UBSan by `make test-asan`. Usage: test_c_api FIXTURES_DIR STORIES_GGUF TMP_DIR */
#define _POSIX_C_SOURCE 200809L
#include <edgerun.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_passed, g_failed;
#define CHECK(cond)                                                        \
  do {                                                                     \
    if (cond) {                                                            \
      ++g_passed;                                                          \
    } else {                                                               \
      ++g_failed;                                                          \
      fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, #cond, er_last_error()); \
    }                                                                      \
  } while (0)
/* A failing call: an error status with a message. */
#define CHECK_FAILS(call) CHECK((call) != ER_OK && er_last_error()[0] != '\0')

static char g_path[3][1024];
static const char *g_fixtures, *g_stories, *g_tmp;

static const char *fixture(int slot, const char *rel) {
  snprintf(g_path[slot], sizeof g_path[slot], "%s/%s", g_fixtures, rel);
  return g_path[slot];
}

/* ---- collecting generated text ---- */
typedef struct {
  char text[65536];
  size_t len;
  int pieces;
  int invalid_utf8;
} collected;

static int utf8_valid(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const unsigned char c = (unsigned char)s[i];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    size_t j;
    if (k == 0 || i + k > n) return 0;
    for (j = 1; j < k; ++j)
      if (((unsigned char)s[i + j] >> 6) != 2) return 0;
    i += k;
  }
  return 1;
}

static int collect(er_piece_kind kind, const char *text, size_t len, void *user) {
  collected *c = (collected *)user;
  (void)kind;
  if (!utf8_valid(text, len) || text[len] != '\0') c->invalid_utf8++;
  if (c->len + len < sizeof c->text) {
    memcpy(c->text + c->len, text, len);
    c->len += len;
    c->text[c->len] = '\0';
  }
  c->pieces++;
  return 0;
}

static er_model *load(const char *path) {
  er_model *m = NULL;
  er_model_params mp;
  er_model_params_init(&mp);
  mp.backend = "cpu";
  CHECK(er_model_load(path, &mp, &m) == ER_OK);
  return m;
}

static er_session *session(er_model *m, int n_ctx) {
  er_session *s = NULL;
  er_session_params sp;
  er_session_params_init(&sp);
  sp.n_ctx = n_ctx;
  sp.n_threads = 1;
  CHECK(er_session_new(m, &sp, &s) == ER_OK);
  return s;
}

static er_generate_params greedy(const er_model *m, int max_tokens) {
  er_generate_params gp;
  er_generate_params_init(&gp, m);
  gp.temperature = 0;
  gp.max_tokens = max_tokens;
  return gp;
}

/* Quantized KV caches, keys and values apart; generation past a full context with n_keep. */
static void test_kv_types_and_shift(void) {
  er_model *m = load(fixture(0, "models/tiny-qwen2/model-q8_0.gguf"));
  er_model *stories = load(g_stories);
  er_session *s = NULL;
  er_session_params sp;
  er_generate_params gp;
  er_generate_result res;
  er_session_params_init(&sp);
  CHECK(sp.kv_type_v == -1 && sp.n_keep == -1);
  sp.n_ctx = 64;
  sp.kv_type = ER_KV_Q8_0;
  sp.kv_type_v = ER_KV_Q4_0;
  CHECK(er_session_new(m, &sp, &s) == ER_OK);
  gp = greedy(m, 8);
  memset(&res, 0, sizeof res);
  res.struct_size = sizeof res;
  CHECK(er_complete(s, "Hello", &gp, NULL, NULL, &res) == ER_OK);
  CHECK(res.n_generated == 8);
  er_session_free(s);
  s = NULL;
  sp.kv_type_v = 9;
  CHECK(er_session_new(m, &sp, &s) == ER_ERR_INVALID_ARGUMENT);
  CHECK(strstr(er_last_error(), "kv_type_v") != NULL);
  /* stories260K's heads are 8 wide: no room for blocks of 32. */
  sp.kv_type_v = -1;
  CHECK(er_session_new(stories, &sp, &s) != ER_OK);
  CHECK(strstr(er_last_error(), "multiple of 32") != NULL);
  CHECK(s == NULL);

  sp.kv_type = ER_KV_F32;
  sp.n_keep = 0;
  CHECK(er_session_new(stories, &sp, &s) == ER_OK);
  gp = greedy(stories, 150);
  gp.temperature = 1;
  gp.seed = 5;
  memset(&res, 0, sizeof res);
  res.struct_size = sizeof res;
  CHECK(er_complete(s, "Once upon a time", &gp, NULL, NULL, &res) == ER_OK);
  CHECK(res.n_generated > 64); /* more than the context holds */
  er_session_free(s);
  er_model_free(m);
  er_model_free(stories);
}

static void test_bad_arguments(void) {
  er_model *m = NULL;
  er_session *s = NULL;
  er_model_params mp;
  er_session_params sp;
  er_generate_params gp;
  er_model_info info;
  int32_t ids[4] = {1, 2, 3, 4};
  size_t n = 0;
  char buf[8];
  float logits[1];

  CHECK(strcmp(er_version(), "0.1.0") == 0);
  CHECK(er_abi_version() == ER_ABI_VERSION);
  er_model_params_init(&mp);
  CHECK_FAILS(er_model_load(NULL, &mp, &m));
  CHECK_FAILS(er_model_load(g_stories, &mp, NULL));
  CHECK(er_model_load("/nonexistent/model.gguf", &mp, &m) == ER_ERR_IO);
  CHECK(m == NULL);
  CHECK(strstr(er_last_error(), "/nonexistent/model.gguf") != NULL);
  CHECK(er_model_load(fixture(0, "README.md"), &mp, &m) == ER_ERR_MODEL);
  mp.backend = "warp";
  CHECK_FAILS(er_model_load(g_stories, &mp, &m));
  CHECK(strstr(er_last_error(), "warp") != NULL);
  mp.struct_size = 0;
  CHECK(er_model_load(g_stories, &mp, &m) == ER_ERR_INVALID_ARGUMENT);
  er_model_params_init(NULL);
  er_session_params_init(NULL);
  er_generate_params_init(NULL, NULL);
  er_model_free(NULL);
  er_session_free(NULL);
  er_cancel(NULL);

  m = load(g_stories);
  CHECK_FAILS(er_model_get_info(NULL, &info));
  CHECK_FAILS(er_model_get_info(m, NULL));
  memset(&info, 0, sizeof info);
  CHECK_FAILS(er_model_get_info(m, &info)); /* struct_size not set */
  info.struct_size = sizeof info;
  CHECK(er_model_get_info(m, &info) == ER_OK);
  CHECK(strcmp(info.architecture, "llama") == 0);
  CHECK(info.n_vocab == 512);
  CHECK(info.has_chat_template == 0);
  CHECK(info.n_eog >= 1);
  CHECK(info.n_params > 200000 && info.n_params < 400000);

  CHECK_FAILS(er_tokenize(NULL, "hi", 2, 1, ids, 4, &n));
  CHECK_FAILS(er_tokenize(m, NULL, 2, 1, ids, 4, &n));
  CHECK_FAILS(er_tokenize(m, "hi", 2, 1, NULL, 4, &n));
  CHECK_FAILS(er_tokenize(m, "hi", 2, 1, ids, 4, NULL));
  CHECK(er_tokenize(m, "Once upon a time", 16, 1, NULL, 0, &n) == ER_OK && n == 5);
  CHECK(er_tokenize(m, "Once upon a time", 16, 1, ids, 2, &n) == ER_ERR_BUFFER_TOO_SMALL && n == 5);
  CHECK(er_tokenize(m, "\xff\xfe", 2, 0, NULL, 0, &n) == ER_OK); /* invalid UTF-8 is replaced */
  ids[0] = 403;
  ids[1] = 407;
  CHECK(er_detokenize(m, ids, 2, NULL, 0, &n) == ER_OK && n > 0);
  CHECK(er_detokenize(m, ids, 2, buf, 2, &n) == ER_ERR_BUFFER_TOO_SMALL);
  ids[0] = -1;
  CHECK_FAILS(er_detokenize(m, ids, 1, buf, sizeof buf, &n));
  ids[0] = 100000;
  CHECK_FAILS(er_detokenize(m, ids, 1, buf, sizeof buf, &n));
  CHECK_FAILS(er_detokenize(m, NULL, 1, buf, sizeof buf, &n));

  CHECK_FAILS(er_session_new(NULL, NULL, &s));
  CHECK_FAILS(er_session_new(m, NULL, NULL));
  er_session_params_init(&sp);
  sp.n_ctx = 0;
  CHECK_FAILS(er_session_new(m, &sp, &s));
  CHECK(s == NULL);
  sp.n_ctx = 64;
  sp.n_threads = -3;
  CHECK_FAILS(er_session_new(m, &sp, &s));
  sp.n_threads = 1;
  sp.kv_type = (er_kv_type)7;
  CHECK_FAILS(er_session_new(m, &sp, &s));
  s = session(m, 64);
  CHECK(er_chat_add(s, "user", "hi") == ER_ERR_UNSUPPORTED);
  CHECK(strstr(er_last_error(), "chat template") != NULL);
  CHECK_FAILS(er_chat_add(NULL, "user", "hi"));
  CHECK_FAILS(er_chat_add(s, NULL, "hi"));
  CHECK(er_generate(s, NULL, NULL, NULL, NULL) == ER_ERR_UNSUPPORTED);
  CHECK_FAILS(er_complete(NULL, "x", NULL, NULL, NULL, NULL));
  CHECK_FAILS(er_complete(s, NULL, NULL, NULL, NULL, NULL));
  gp = greedy(m, 4);
  gp.top_p = 2;
  CHECK_FAILS(er_complete(s, "Once", &gp, NULL, NULL, NULL));
  gp = greedy(m, 4);
  gp.n_stop = 2;
  gp.stop = NULL;
  CHECK_FAILS(er_complete(s, "Once", &gp, NULL, NULL, NULL));
  gp = greedy(m, -5);
  CHECK_FAILS(er_complete(s, "Once", &gp, NULL, NULL, NULL));
  CHECK_FAILS(er_eval(s, NULL, 1, logits));
  CHECK_FAILS(er_eval(s, ids, 0, NULL));
  ids[0] = 9999;
  CHECK_FAILS(er_eval(s, ids, 1, NULL));
  CHECK(strstr(er_last_error(), "outside the vocabulary") != NULL);
  {
    int32_t many[80];
    int i;
    for (i = 0; i < 80; ++i) many[i] = 300;
    CHECK(er_eval(s, many, 80, NULL) == ER_ERR_CONTEXT_FULL);
  }
  CHECK_FAILS(er_session_save(NULL, "x"));
  CHECK_FAILS(er_session_save(s, NULL));
  CHECK(er_session_save(s, "/nonexistent/dir/state.json") == ER_ERR_IO);
  CHECK_FAILS(er_session_load(s, "/nonexistent/state.json"));
  CHECK_FAILS(er_session_load(s, fixture(0, "README.md")));
  CHECK_FAILS(er_chat_reset(NULL));
  CHECK(er_chat_reset(s) == ER_OK);
  er_session_free(s);
  er_model_free(m);
}

/* ---- two threads, one model ---- */
typedef struct {
  er_model *model;
  collected out;
  er_status status;
} job;

static void *generate_story(void *arg) {
  job *j = (job *)arg;
  er_session *s = session(j->model, 256);
  er_generate_params gp = greedy(j->model, 60);
  j->status = er_complete(s, "Once upon a time", &gp, collect, &j->out, NULL);
  er_session_free(s);
  return NULL;
}

static void test_threads(void) {
  job alone, a, b;
  pthread_t ta, tb;
  er_model *m = load(g_stories);
  memset(&alone, 0, sizeof alone);
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  alone.model = a.model = b.model = m;
  generate_story(&alone);
  CHECK(alone.status == ER_OK);
  CHECK(alone.out.len > 100);
  pthread_create(&ta, NULL, generate_story, &a);
  pthread_create(&tb, NULL, generate_story, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.status == ER_OK && b.status == ER_OK);
  CHECK(strcmp(a.out.text, alone.out.text) == 0);
  CHECK(strcmp(b.out.text, alone.out.text) == 0);
  er_model_free(m);
}

/* ---- er_cancel from another thread ---- */
typedef struct {
  er_session *s;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int asked, cancelled, pieces;
} cancel_state;

static int count_and_wait(er_piece_kind kind, const char *text, size_t len, void *user) {
  cancel_state *c = (cancel_state *)user;
  (void)kind;
  (void)text;
  (void)len;
  pthread_mutex_lock(&c->mu);
  if (++c->pieces == 5) {
    c->asked = 1;
    pthread_cond_broadcast(&c->cv);
    while (!c->cancelled) pthread_cond_wait(&c->cv, &c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

static void *canceller(void *arg) {
  cancel_state *c = (cancel_state *)arg;
  pthread_mutex_lock(&c->mu);
  while (!c->asked) pthread_cond_wait(&c->cv, &c->mu);
  er_cancel(c->s);
  c->cancelled = 1;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static void test_cancel(void) {
  cancel_state c;
  pthread_t t;
  er_generate_result r;
  er_generate_params gp;
  er_model *m = load(g_stories);
  memset(&c, 0, sizeof c);
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  c.s = session(m, 256);
  gp = greedy(m, 200);
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  pthread_create(&t, NULL, canceller, &c);
  CHECK(er_complete(c.s, "Once upon a time", &gp, count_and_wait, &c, &r) == ER_OK);
  pthread_join(t, NULL);
  CHECK(r.finish == ER_FINISH_CANCELLED);
  CHECK(c.pieces == 5);       /* not one piece after the cancel */
  CHECK(r.n_generated <= 6);  /* within one token */
  pthread_mutex_destroy(&c.mu);
  pthread_cond_destroy(&c.cv);
  er_session_free(c.s);
  er_model_free(m);
}

/* ---- pieces are whole UTF-8 ---- */
static void test_utf8_pieces(void) {
  /* A random byte-level model writes tokens of single bytes that split characters all the
   * time (stories260K's byte-fallback tokens would do, but its weights avoid them). */
  er_model *m = load(fixture(1, "models/tiny-qwen2/model-q8_0.gguf"));
  er_session *s = session(m, 1024);
  er_generate_params gp;
  collected out;
  er_generate_result r;
  er_generate_params_init(&gp, m);
  gp.temperature = 1.0f;
  gp.top_k = 0;
  gp.top_p = 1;
  gp.min_p = 0;
  gp.seed = 7;
  gp.max_tokens = 400;
  memset(&out, 0, sizeof out);
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  CHECK(er_complete(s, "Hello", &gp, collect, &out, &r) == ER_OK);
  CHECK(out.pieces > 50);
  CHECK(out.invalid_utf8 == 0);
  CHECK(r.n_generated > 50);
  {
    size_t i, multibyte = 0;
    for (i = 0; i < out.len; ++i) multibyte += ((unsigned char)out.text[i] & 0xC0) == 0xC0;
    CHECK(multibyte > 10); /* characters assembled from the byte tokens (U+FFFD for broken ones) */
  }
  er_session_free(s);
  er_model_free(m);
}

/* ---- chat turns and saved states ---- */
static void test_chat_and_state(void) {
  er_model *m = load(fixture(1, "models/tiny-qwen2/model-q8_0.gguf"));
  er_session *s = session(m, 1024), *s2;
  er_generate_params gp = greedy(m, 8);
  er_generate_result r;
  collected first, again;
  char state[1200];
  float *la, *lb;
  int32_t next = 42;
  er_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK(er_model_get_info(m, &info) == ER_OK);
  CHECK(info.has_chat_template == 1);
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  memset(&first, 0, sizeof first);
  CHECK(er_chat_add(s, "system", "Be brief.") == ER_OK);
  CHECK(er_chat_add(s, "user", "Hello") == ER_OK);
  CHECK(er_chat_add(s, "wizard", "Hello") == ER_ERR_INVALID_ARGUMENT);
  CHECK(er_generate(s, &gp, collect, &first, &r) == ER_OK);
  CHECK(r.n_generated == 8 || r.finish == ER_FINISH_STOP);
  CHECK(er_chat_add(s, "user", "And then?") == ER_OK);
  CHECK(er_generate(s, &gp, NULL, NULL, &r) == ER_OK);
  CHECK(r.n_reused > 0);

  snprintf(state, sizeof state, "%s/edgerun_c_state_%d.json", g_tmp, (int)getpid());
  CHECK(er_session_save(s, state) == ER_OK);
  la = (float *)malloc(sizeof(float) * (size_t)info.n_vocab);
  lb = (float *)malloc(sizeof(float) * (size_t)info.n_vocab);
  CHECK(er_eval(s, &next, 1, la) == ER_OK);

  s2 = session(m, 1024);
  CHECK(er_session_load(s2, state) == ER_OK);
  CHECK(er_eval(s2, &next, 1, lb) == ER_OK);
  CHECK(memcmp(la, lb, sizeof(float) * (size_t)info.n_vocab) == 0);

  /* A restored conversation goes on as the original would. */
  memset(&first, 0, sizeof first);
  memset(&again, 0, sizeof again);
  CHECK(er_session_load(s, state) == ER_OK);
  CHECK(er_chat_add(s, "user", "More?") == ER_OK);
  CHECK(er_generate(s, &gp, collect, &first, NULL) == ER_OK);
  CHECK(er_session_load(s2, state) == ER_OK);
  CHECK(er_chat_add(s2, "user", "More?") == ER_OK);
  CHECK(er_generate(s2, &gp, collect, &again, &r) == ER_OK);
  CHECK(strcmp(first.text, again.text) == 0);
  CHECK(r.n_reused > 20);

  /* Another model's state is refused, and the session is left as it was. */
  {
    er_model *other = load(g_stories);
    er_session *so = session(other, 1024);
    CHECK(er_session_load(so, state) == ER_ERR_INVALID_ARGUMENT);
    CHECK(strstr(er_last_error(), "another model") != NULL);
    er_session_free(so);
    er_model_free(other);
  }
  remove(state);
  free(la);
  free(lb);
  er_session_free(s);
  er_session_free(s2);
  er_model_free(m);
}

static int g_logged;
static void on_log(er_log_level level, const char *message, void *user) {
  (void)level;
  (void)message;
  *(int *)user += 1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FIXTURES_DIR STORIES_GGUF TMP_DIR\n", argv[0]);
    return 2;
  }
  g_fixtures = argv[1];
  g_stories = argv[2];
  g_tmp = argv[3];
  er_set_log(on_log, &g_logged);
  test_bad_arguments();
  test_kv_types_and_shift();
  test_threads();
  test_cancel();
  test_utf8_pieces();
  test_chat_and_state();
  er_set_log(NULL, NULL);
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
