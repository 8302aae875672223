// Shared helpers for the test suite: fixture paths, file reading, running the CLI.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "settings.h"

namespace test {

// Changes the backend settings for a scope and restores them after it, also
// when a check in between fails, so one test cannot change the next.
class ScopedSettings {
 public:
  template <typename F>
  explicit ScopedSettings(F change) : saved_(edgerun::backend_settings()) {
    edgerun::BackendSettings s = saved_;
    change(s);
    edgerun::set_backend_settings(s);
  }
  ~ScopedSettings() { edgerun::set_backend_settings(saved_); }
  ScopedSettings(const ScopedSettings&) = delete;
  ScopedSettings& operator=(const ScopedSettings&) = delete;

 private:
  edgerun::BackendSettings saved_;
};

inline std::string source_dir() { return EDGERUN_SOURCE_DIR; }
inline std::string fixtures() { return source_dir() + "/../shared/fixtures"; }
inline std::string stories_gguf() { return source_dir() + "/examples/models/stories260K/stories260K.gguf"; }

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<float> read_floats(const std::string& path) {
  const std::string b = read_file(path);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

struct CliResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs the edgerun binary with `args` (already shell-quoted as needed),
// with `env` ("NAME=value ...") in its environment.
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
  CliResult r;
#ifdef EDGERUN_CLI_LAUNCHER
  const std::string cli = std::string(EDGERUN_CLI_LAUNCHER) + " " + EDGERUN_CLI;
#else
  const std::string cli = EDGERUN_CLI;
#endif
  const std::string cmd = "{ " + env + " " + cli + " " + args + " ; } 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return r;
}

// run_cli with at most `max_mib` MiB of address space and `max_seconds` of
// time (then SIGKILL: code 137). Under an emulator or AddressSanitizer only
// the time is bounded: qemu reserves the guest's address space up front, ASan
// its shadow memory.
inline CliResult run_cli_bounded(const std::string& args, int max_mib, int max_seconds) {
#if defined(EDGERUN_CLI_LAUNCHER) || defined(__SANITIZE_ADDRESS__)
  (void)max_mib;
  const std::string limit;
#else
  const std::string limit = "ulimit -v " + std::to_string(max_mib * 1024) + ";";
#endif
  return run_cli(args, limit + " timeout -s KILL " + std::to_string(max_seconds));
}

// n draws of a normal distribution (mean 0), the same for the same seed.
inline std::vector<float> random_normal(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::string temp_path(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp ? tmp : "/tmp") + "/edgerun_test_" + std::to_string(::getpid()) + "_" + name;
}

// The fixtures' quantized files the suite checks: all of them natively; under
// qemu (the aarch64 suite) the three whose kernels ARM has, as the rest run
// the scalar reference there and would take the emulator far too long.
inline std::vector<std::string> fixture_quant_types() {
#if defined(__aarch64__)
  return {"q8_0", "q4_0", "q4_k_m"};
#else
  return {"q8_0", "q4_0", "q4_k_m", "iq4_nl", "iq4_xs", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_m", "q5_k_m", "q6_k"};
#endif
}

}  // namespace test
