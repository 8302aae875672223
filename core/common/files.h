// Whole-file reads for the small text files models come with (configs,
// tokenizers, prompts, templates); weights are mapped, never read this way.
#pragma once

#include <string>

namespace edgerun {

// Throws Error("<path>: cannot open: <reason>").
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace edgerun
