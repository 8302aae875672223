// A Hugging Face folder whose JSON files come from the input: the first byte
// picks config.json, generation_config.json, model.safetensors.index.json or
// tokenizer_config.json (% 4) and the folder the other files come from (/ 4 % 2:
// tests/fuzz/hf_base/llama, a dense model, or qwen3moe), the rest is its text.
// The base folders are tiny (make_seeds.py), so inputs run fast.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "edgerun.hpp"
#include "fuzz_target.h"

namespace {

const char* kFiles[] = {"config.json", "generation_config.json", "model.safetensors.index.json", "tokenizer_config.json"};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
void put(const std::string& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

struct Folder {
  std::string dir;
  std::string original[4];
  explicit Folder(const char* base) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/edgerun-fuzz-hf-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    const std::string from = std::string(EDGERUN_SOURCE_DIR) + "/tests/fuzz/hf_base/" + base + "/";
    for (const char* f : {"model.safetensors", "tokenizer.json"})
      if (::symlink((from + f).c_str(), (dir + "/" + f).c_str()) != 0) std::abort();
    for (int i = 0; i < 4; ++i) original[i] = slurp(from + kFiles[i]);  // the index file does not exist: ""
  }
  ~Folder() {
    for (const char* f : {"model.safetensors", "tokenizer.json", kFiles[0], kFiles[1], kFiles[2], kFiles[3]})
      ::unlink((dir + "/" + f).c_str());
    ::rmdir(dir.c_str());
  }
};

}  // namespace

FUZZ_HARNESS(hf_folder) {
  static Folder dense("llama"), moe("qwen3moe");
  if (size == 0) return 0;
  const int pick = data[0] % 4;
  const Folder& folder = (data[0] / 4) % 2 ? moe : dense;
  for (int i = 0; i < 4; ++i) {
    const std::string p = folder.dir + "/" + kFiles[i];
    const std::string text = i == pick ? std::string(reinterpret_cast<const char*>(data + 1), size - 1) : folder.original[i];
    if (text.empty()) ::unlink(p.c_str());
    else put(p, text);
  }
  auto model = edgerun::load_model(folder.dir, edgerun::LoadOptions{"cpu"});
  if (!model) fuzz::check_message(model.message());
  return 0;
}
