// The edgerun command line, run as a user would: outputs, files and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

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
    CHECK_THAT(r.out, Catch::Contains(c.expect));
  }
}

TEST_CASE("-t and -tb set generation and prompt threads", "[cli]") {
  const json ref = json::parse(test::read_file(test::fixtures() + "/stories260K/reference.json"));
  const auto r = test::run_cli("run -m " + kStories + " -p 'Once upon a time' -n 60 --temp 0 -t 1 -tb 2 2>/dev/null");
  REQUIRE(r.code == 0);
  CHECK(r.out == ref["cases"][0]["text"].get<std::string>() + "\n");
  CHECK(test::run_cli("run -m " + kStories + " -p hi -tb -3").code != 0);
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
  r = test::run_cli("bench -m " + kStories + " -t 1 -p 8 -n 0 -r 1");
  CHECK_THAT(r.out, Catch::Contains("| pp8 |") || Catch::Contains("pp8"));
  r = test::run_cli("bench -m " + kStories + " -t x");
  CHECK(r.code != 0);
  CHECK_THAT(r.out, Catch::Contains("-t"));
}
