// A safetensors file: the 8-byte header length and the JSON header.
#include "common/error.h"
#include "formats/safetensors.h"
#include "fuzz_target.h"

FUZZ_HARNESS(safetensors) {
  try {
    auto f = edgerun::SafetensorsFile::open(fuzz::input_file(data, size));
  } catch (const edgerun::Error&) {
  }
  return 0;
}
