// GGUF files from strangers: header, metadata, tensor directory, tokenizer
// vocabulary and chat template all come from these bytes.
#include "fuzz_model_file.inc"
#include "fuzz_target.h"

FUZZ_HARNESS(gguf) {
  load_and_run(fuzz::input_file(data, size));
  return 0;
}
