// Runs saved inputs through the harnesses without libFuzzer:
//   edgerun_fuzz_replay <harness> <file or folder>...
// Every file (a folder: every file in it) is one input. Exit 0 when all
// return; a crash or a sanitizer report ends the process as a failure.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_target.h"

namespace fuzz {
std::map<std::string, Harness>& harnesses();
}

namespace {

void collect(const std::string& path, std::vector<std::string>& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    out.push_back(path);
    return;
  }
  DIR* d = ::opendir(path.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.push_back(path + "/" + e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) collect(n, out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <harness> <file or folder>...\nharnesses:", argv[0]);
    for (const auto& [name, h] : fuzz::harnesses()) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  auto it = fuzz::harnesses().find(argv[1]);
  if (it == fuzz::harnesses().end()) {
    std::fprintf(stderr, "unknown harness '%s'\n", argv[1]);
    return 2;
  }
  std::vector<std::string> inputs;
  for (int i = 2; i < argc; ++i) collect(argv[i], inputs);
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs found\n");
    return 2;
  }
  for (const auto& path : inputs) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    const std::string bytes = ss.str();
    it->second(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%s: %zu inputs, all handled\n", argv[1], inputs.size());
  return 0;
}
