// Whole-file reads for the small text files models come with (configs,
// tokenizers, prompts, templates); weights are mapped, never read this way.
#pragma once

#include <cstddef>
#include <string>

namespace edgerun {

// Throws Error("<path>: cannot open: <reason>").
// Text files read whole (configs, templates, prompts, messages) are at most
// this large: a bigger one is refused before anything is read.
constexpr size_t kMaxTextFileBytes = 64u << 20;
std::string read_file(const std::string& path, size_t max_bytes = kMaxTextFileBytes);
bool file_exists(const std::string& path);
// Writes `bytes` to `path` through a temporary file and a rename, so an
// existing file is never left half-written. Throws Error (ErrorKind::IO).
void write_file_atomically(const std::string& path, const void* bytes, size_t n);

}  // namespace edgerun
