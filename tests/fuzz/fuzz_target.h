// One fuzz harness: bytes in, through the library's public entry point, as a
// user's file or request would arrive. Built two ways (tests/fuzz/CMakeLists.txt):
//  - with EDGERUN_LIBFUZZER, one libFuzzer binary per harness (make fuzz);
//  - otherwise all harnesses in one replay binary that runs saved inputs
//    (the seed corpora and every regression input), in every `make test`.
// A harness returns normally for any input; errors the library reports are
// the expected outcome. A crash, a sanitizer report, a leak or a hang is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fuzz {

using Harness = int (*)(const uint8_t* data, size_t size);
bool register_harness(const char* name, Harness h);

// The input as a file the library can open by path (an anonymous in-memory
// file, /proc/self/fd/N); it lives until the next call.
const std::string& input_file(const uint8_t* data, size_t size);
// ../shared/fixtures, for harnesses that need a real vocabulary or folder.
std::string fixtures();

// Two texts from one input: its first two bytes give the first's length
// (modulo what is there), the rest follows.
struct Parts {
  std::string first, rest;
};
Parts split(const uint8_t* data, size_t size);

// An error message must say what was wrong in the library's words: one that
// is a raw C++ library exception ("[json.exception...", "stoi") is a finding.
void check_message(const std::string& message);

}  // namespace fuzz

#ifdef EDGERUN_LIBFUZZER
#define FUZZ_HARNESS(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#else
#define FUZZ_HARNESS(name)                                                              \
  static int fuzz_##name(const uint8_t* data, size_t size);                              \
  static const bool fuzz_registered_##name = fuzz::register_harness(#name, fuzz_##name); \
  static int fuzz_##name(const uint8_t* data, size_t size)
#endif
