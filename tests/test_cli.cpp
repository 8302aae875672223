// The edgerun command line, run as a user would: outputs, files and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cpu/kernels.h"
#include "helpers.h"
#include "registry.h"
#include "sampling/sampler.h"

using json = nlohmann::json;

namespace {
std::string quote(const std::string& s) { return "'" + s + "'"; }
const std::string kStories = quote(test::stories_gguf());
}  // namespace

TEST_CASE("edgerun run tells the reference story greedily", "[cli]") {
  const json ref = json::parse(test::read_file(test::fixtures() + "/stories260K/reference.json"));
  const auto& c = ref["cases"][0];
  const auto r = test::run_cli("run -m " + kStories + " -p 'Once upon a time' -n 60 --temp 0 2>/dev/null");
  REQUIRE(r.code == 0);
  CHECK(r.out == c["text"].get<std::string>() + "\n");
}

TEST_CASE("edgerun logits writes [n_tokens, n_vocab] floats that match llama.cpp", "[cli]") {
  for (const std::string name : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    const std::string dir = test::fixtures() + "/models/" + name;
    const json ref = json::parse(test::read_file(dir + "/reference/model-f32.json"));
    std::string ids;
    for (int id : ref["input_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    const std::string out = test::temp_path(name + ".f32");
    const auto r = test::run_cli("logits -m " + quote(dir + "/model-f32.gguf") + " --kv-type f32 --tokens " + ids + " -o " + quote(out));
    INFO(r.out);
    REQUIRE(r.code == 0);
    const auto got = test::read_floats(out);
    const auto want = test::read_floats(dir + "/reference/model-f32.logits.f32");
    REQUIRE(got.size() == want.size());
    const int V = ref["n_vocab"];
    for (size_t t = 0; t < got.size() / V; ++t) CHECK(edgerun::argmax(&got[t * V], V) == edgerun::argmax(&want[t * V], V));
    std::remove(out.c_str());
  }
}

TEST_CASE("edgerun info and tokenize", "[cli]") {
  auto r = test::run_cli("info " + kStories);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("architecture:  llama") && Catch::Contains("tensors:       48"));
  // It names the kernels picked for this CPU.
  const edgerun::cpu::KernelSet& ks = edgerun::cpu::best_kernels();
  CHECK_THAT(r.out, Catch::Contains(std::string("SIMD target ") + ks.target + ", group kernels " + (ks.groups ? ks.groups : "none")));
#if defined(__aarch64__)
  CHECK(ks.groups != nullptr);  // every ARMv8 CPU has them
#endif

  r = test::run_cli("tokenize -m " + kStories + " --json -- '-starts with a dash'");
  REQUIRE(r.code == 0);
  CHECK(r.out.rfind("[1,", 0) == 0);
  r = test::run_cli("tokenize -m " + kStories + " --no-special 'Once upon a time'");
  CHECK(r.out == "403 407 261 378\n");
  r = test::run_cli("detokenize -m " + kStories + " 403 407 261 378");
  CHECK(r.out == "Once upon a time\n");
  r = test::run_cli("tokenize --tokenizer " + quote(test::fixtures() + "/tokenizers/qwen3/tokenizer.json") + " 'Hello world'");
  CHECK(r.out == "9707 1879\n");
}

TEST_CASE("bad command lines fail with a one-line error naming the flag or file", "[cli]") {
  struct Case { std::string args, expect; };
  const std::vector<Case> cases = {
      {"run -m " + kStories + " -p hi -n -5", "-n"},
      {"run -m " + kStories + " -p hi -c 0", "-c"},
      {"run -m " + kStories + " -p hi -c 99999999", "-c"},
      {"run -m " + kStories + " -c 4 -p 'Once upon a time there was a girl'", "the prompt has"},
      {"run -m /nonexistent.gguf -p hi", "/nonexistent.gguf: cannot open"},
      {"run -m " + kStories + " -p hi --backend warp", "unknown backend 'warp'"},
      {"run -m " + kStories + " -p hi --kv-type q3", "--kv-type"},
      {"run -m " + kStories + " -p hi --kv-type q3_k", "--kv-type"},
      {"run -m " + kStories + " -p hi --kv-type q8_0", "--kv-type: KV cache type q8_0 needs a head size that is a multiple of 32"},
      {"run -m " + kStories + " -p hi -ctv q4_0", "-ctv: KV cache type q4_0 needs a head size"},
      {"bench -m " + kStories + " -d 1,x", "-d: 'x' is not a count"},
      {"logits -m " + kStories + " --tokens 1,x,3 -o /tmp/x.f32", "'x' is not a token id"},
      {"logits -m " + kStories + " --tokens 1,600 -o /tmp/x.f32", "outside the vocabulary"},
      {"logits -m " + kStories + " --tokens 1,2 -o /nonexistent/dir/x.f32", "/nonexistent/dir/x.f32"},
      {"info " + quote(test::source_dir() + "/CMakeLists.txt"), "wrong magic"},
      {"tokenize --tokenizer /nonexistent.json hi", "/nonexistent.json: cannot open"},
  };
  for (const auto& c : cases) {
    const auto r = test::run_cli(c.args);
    INFO(c.args << "\n-> " << r.out);
    CHECK(r.code != 0);
    CHECK(r.code < 128);  // an exit, not a signal
    // The error is one line of its own, the last one, and it says what was wrong.
    const size_t at = r.out.rfind("edgerun: error: ");
    REQUIRE(at != std::string::npos);
    CHECK((at == 0 || r.out[at - 1] == '\n'));
    const std::string line = r.out.substr(at);
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(r.out.find("error") == at + 9);  // no other error before it
    CHECK_THAT(line, Catch::Contains(c.expect));
  }
}

TEST_CASE("KV cache types: keys and values apart, the memory reported for each", "[cli]") {
  const std::string qwen2 = quote(test::fixtures() + "/models/tiny-qwen2/model-q8_0.gguf");
  std::string kib[3];
  int i = 0;
  for (const std::string flags : {"--kv-type f16", "--kv-type q8_0", "-ctk q8_0 -ctv q4_0"}) {
    const auto r = test::run_cli("run -m " + qwen2 + " --backend cpu -c 512 -p hi -n 8 --temp 0 " + flags);
    INFO(flags << "\n-> " << r.out);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("generated 8 tokens"));
    const size_t at = r.out.find("KV cache ");
    REQUIRE(at != std::string::npos);
    kib[i++] = r.out.substr(at, r.out.find('\n', at) - at);
  }
  CHECK_THAT(kib[0], Catch::Contains("(512 tokens, f16)"));
  CHECK_THAT(kib[1], Catch::Contains("(512 tokens, q8_0)"));
  CHECK_THAT(kib[2], Catch::Contains("(512 tokens, K q8_0, V q4_0)"));
  // q8_0 takes 34 bytes per 32 values against f16's 64; q4_0 18.
  auto kib_of = [](const std::string& s) { return std::stod(s.substr(9)); };
  CHECK(kib_of(kib[1]) == Approx(kib_of(kib[0]) * 34 / 64).epsilon(0.01));
  CHECK(kib_of(kib[2]) == Approx(kib_of(kib[0]) * (34 + 18) / 128).epsilon(0.01));
}

TEST_CASE("run goes on past a full context, shifting it, unless told not to", "[cli]") {
  auto r = test::run_cli("run -m " + kStories + " -c 256 -n 1000 -p 'Once upon a time' -s 1");
  INFO(r.out);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("context full (256 tokens): kept the first 1, dropped the next 127, going on"));
  CHECK_THAT(r.out, Catch::Contains("generated 1000 tokens"));
  CHECK_THAT(r.out, Catch::Contains("the context was shifted"));
  r = test::run_cli("run -m " + kStories + " -c 256 -n 1000 -p 'Once upon a time' -s 1 --keep 4");
  CHECK_THAT(r.out, Catch::Contains("kept the first 4, dropped the next 125"));
  r = test::run_cli("run -m " + kStories + " -c 256 -n 1000 -p 'Once upon a time' -s 1 --no-context-shift");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("generated 251 tokens"));
  CHECK_THAT(r.out, Catch::Contains("stopped: the context is full"));
  CHECK_THAT(r.out, !Catch::Contains("context full ("));
  r = test::run_cli("run -m " + kStories + " -c 256 -n -1 -p 'Once upon a time' -s 1 --no-context-shift");
  CHECK_THAT(r.out, Catch::Contains("generated 251 tokens"));
}

TEST_CASE("-t and -tb set generation and prompt threads", "[cli]") {
  const json ref = json::parse(test::read_file(test::fixtures() + "/stories260K/reference.json"));
  const auto r = test::run_cli("run -m " + kStories + " -p 'Once upon a time' -n 60 --temp 0 -t 1 -tb 2 2>/dev/null");
  REQUIRE(r.code == 0);
  CHECK(r.out == ref["cases"][0]["text"].get<std::string>() + "\n");
  // What was chosen, both ways round (the same text would come from flags ignored).
  CHECK_THAT(test::run_cli("run -m " + kStories + " -p hi -n 2 -v -t 1 -tb 2").out, Catch::Contains("1 threads for generation, 2 for prompts"));
  CHECK_THAT(test::run_cli("run -m " + kStories + " -p hi -n 2 -v -t 2 -tb 1").out, Catch::Contains("2 threads for generation, 1 for prompts"));
  CHECK_THAT(test::run_cli("run -m " + kStories + " -p hi -n 2 -v -t 2").out, Catch::Contains("2 threads for generation, 2 for prompts"));
  const auto bad = test::run_cli("run -m " + kStories + " -p hi -tb -3");
  CHECK(bad.code != 0);
  CHECK_THAT(bad.out, Catch::Contains("--threads-batch"));
}

TEST_CASE("EDGERUN_BACKEND picks the backend", "[cli]") {
  auto r = test::run_cli("run -m " + kStories + " -p hi -n 2 -v");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("backend " + edgerun::auto_cpu_backend_name()));
  r = test::run_cli("run -m " + kStories + " -p hi -n 2 -v", "EDGERUN_BACKEND=cpu");
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("backend cpu,"));
  const auto bad = test::run_cli("run -m " + kStories + " -p hi -n 2", "EDGERUN_BACKEND=nope");
  CHECK(bad.code != 0);
  CHECK_THAT(bad.out, Catch::Contains("unknown backend 'nope'"));
}

TEST_CASE("edgerun bench prints llama-bench's JSON keys and a table", "[cli]") {
  auto r = test::run_cli("bench -m " + kStories + " -t 1 -p 8 -n 4 -r 2 --json 2>/dev/null");
  REQUIRE(r.code == 0);
  const json j = json::parse(r.out);
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 2);
  for (const char* k : {"model_type", "n_prompt", "n_gen", "n_threads", "backends", "avg_ts", "stddev_ts"}) CHECK(j[0].contains(k));
  CHECK(j[0]["n_prompt"] == 8);
  CHECK(j[1]["n_gen"] == 4);
  CHECK(j[1]["avg_ts"].get<double>() > 0);
  // -d: each test after that many tokens of context, with llama-bench's n_depth key.
  r = test::run_cli("bench -m " + kStories + " -t 1 -p 8 -n 4 -r 1 -d 0,100 --json 2>/dev/null");
  REQUIRE(r.code == 0);
  const json d = json::parse(r.out);
  REQUIRE(d.size() == 4);
  CHECK(d[0]["n_depth"] == 0);
  CHECK(d[2]["n_depth"] == 100);
  CHECK(d[3]["n_gen"] == 4);
  CHECK(d[3]["type_k"] == "f16");
  r = test::run_cli("bench -m " + kStories + " -t 1 -p 8 -n 0 -r 1 -d 50");
  CHECK_THAT(r.out, Catch::Contains("pp8 @ d50"));
  r = test::run_cli("bench -m " + kStories + " -t 1 -p 8 -n 0 -r 1");
  CHECK_THAT(r.out, Catch::Contains("|           pp8 |"));
  CHECK_THAT(r.out, !Catch::Contains("tg"));
  r = test::run_cli("bench -m " + kStories + " -t x");
  CHECK(r.code != 0);
  CHECK_THAT(r.out, Catch::Contains("-t"));
}
