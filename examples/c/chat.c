/* A small chat program on libedgerun's C API: one turn per line of input.
 * A model without a chat template continues the text instead.
 *
 *   cc chat.c $(pkg-config --cflags --libs edgerun) -o chat
 *   ./chat model.gguf                  # then type; Ctrl-D ends
 *   echo "Once upon a time" | ./chat stories260K.gguf
 */
#include <edgerun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the answer as it streams; the reasoning of a thinking model dimmed by brackets. */
static int print_piece(er_piece_kind kind, const char *text, size_t len, void *user) {
  int *in_reasoning = (int *)user;
  if (kind == ER_PIECE_MARKER) return 0;
  if (kind == ER_PIECE_REASONING && !*in_reasoning) fputs("[thinking] ", stdout);
  if (kind == ER_PIECE_CONTENT && *in_reasoning) fputs("\n[answer] ", stdout);
  *in_reasoning = kind == ER_PIECE_REASONING;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  return 0; /* non-zero would stop the answer */
}

int main(int argc, char **argv) {
  er_model *model = NULL;
  er_session *session = NULL;
  er_model_params mp;
  er_session_params sp;
  er_generate_params gp;
  er_model_info info;
  char line[4096];
  int status = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [MAX_TOKENS]\n", argv[0]);
    return 2;
  }
  if (er_abi_version() != ER_ABI_VERSION) {
    fprintf(stderr, "libedgerun's ABI is %d, this program was built for %d\n", er_abi_version(), ER_ABI_VERSION);
    return 1;
  }
  er_model_params_init(&mp);
  if (er_model_load(argv[1], &mp, &model) != ER_OK) {
    fprintf(stderr, "%s\n", er_last_error());
    return 1;
  }
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  er_model_get_info(model, &info);

  er_session_params_init(&sp);
  sp.n_ctx = 2048;
  if (er_session_new(model, &sp, &session) != ER_OK) {
    fprintf(stderr, "%s\n", er_last_error());
    er_model_free(model);
    return 1;
  }
  er_generate_params_init(&gp, model); /* the model's recommended sampling, where it has one */
  gp.temperature = 0;                  /* greedy: the same answer every time */
  gp.max_tokens = argc > 2 ? atoi(argv[2]) : 256;

  while (fgets(line, sizeof line, stdin)) {
    int in_reasoning = 0;
    er_status st;
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0') continue;
    if (info.has_chat_template) {
      st = er_chat_add(session, "user", line);
      if (st == ER_OK) st = er_generate(session, &gp, print_piece, &in_reasoning, NULL);
    } else {
      fputs(line, stdout);
      st = er_complete(session, line, &gp, print_piece, &in_reasoning, NULL);
    }
    fputs("\n", stdout);
    if (st != ER_OK) {
      fprintf(stderr, "%s\n", er_last_error());
      status = 1;
    }
  }
  er_session_free(session);
  er_model_free(model);
  return status;
}
