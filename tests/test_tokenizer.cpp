// Tokenizers against Hugging Face's ids for real vocabularies.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "formats/gguf.h"
#include "helpers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

using namespace edgerun;
using json = nlohmann::json;

namespace {

struct Tally {
  int total = 0, failed = 0;
};

// Runs every case of cases.jsonl; reports the first few mismatches in full.
Tally check_cases(const Tokenizer& tok, const std::string& cases_path) {
  Tally t;
  for (const std::string& line : test::read_lines(cases_path)) {
    const json c = json::parse(line);
    const std::string text = c["text"];
    const bool add = c["add_special_tokens"];
    const auto expect = c["ids"].get<std::vector<int32_t>>();
    const auto got = tok.encode(text, add);
    ++t.total;
    bool ok = got == expect;
    if (ok && !add && c.contains("decoded")) ok = tok.decode(got) == c["decoded"].get<std::string>();
    if (!ok) {
      ++t.failed;
      if (t.failed <= 5) {
        UNSCOPED_INFO(cases_path << " case " << c["id"].get<std::string>() << " add_special=" << add << "\n  text " << json(text).dump()
                                 << "\n  want " << json(expect).dump() << "\n  got  " << json(got).dump()
                                 << "\n  decoded " << json(tok.decode(got)).dump());
        CHECK(false);
      }
    }
  }
  return t;
}

}  // namespace

TEST_CASE("Hugging Face tokenizer.json vocabularies give Hugging Face's ids", "[tokenizer]") {
  for (const std::string name : {"qwen3", "deepseek_v3", "llama3", "mistral"}) {
    const std::string dir = test::fixtures() + "/tokenizers/" + name;
    auto tok = Tokenizer::from_hf_file(dir + "/tokenizer.json");
    const Tally t = check_cases(*tok, dir + "/cases.jsonl");
    INFO(name << ": " << t.failed << " of " << t.total << " cases differ");
    CHECK(t.total > 100);
    CHECK(t.failed == 0);
  }
}

TEST_CASE("the Llama 2 vocabulary from GGUF metadata gives the reference ids", "[tokenizer]") {
  const std::string dir = test::fixtures() + "/tokenizers/llama2";
  auto g = GGUFFile::open(dir + "/ggml-vocab-llama-spm.gguf");
  auto tok = Tokenizer::from_metadata(*g);
  const Tally t = check_cases(*tok, dir + "/cases.jsonl");
  INFO(t.failed << " of " << t.total << " cases differ");
  CHECK(t.total > 100);
  CHECK(t.failed == 0);
}

TEST_CASE("fixture models: GGUF metadata and tokenizer.json give the same ids as llama.cpp", "[tokenizer]") {
  for (const std::string name : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    const std::string dir = test::fixtures() + "/models/" + name;
    auto g = GGUFFile::open(dir + "/model-f32.gguf");
    auto from_gguf = Tokenizer::from_metadata(*g);
    auto from_hf = Tokenizer::from_hf_file(dir + "/hf/tokenizer.json");
    const json ref = json::parse(test::read_file(dir + "/reference/tokenize.json"));
    for (const auto& c : ref["cases"]) {
      if (!c["parse_special"].get<bool>()) continue;  // a llama.cpp-only mode
      const std::string text = c["text"];
      const auto expect = c["ids"].get<std::vector<int32_t>>();
      INFO(name << ": " << json(text).dump());
      CHECK(from_gguf->encode(text, c["add_special"]) == expect);
      // HF's tokenizer.json for Llama 3 adds BOS via its template, checked by llama.cpp's flag.
      auto hf_ids = from_hf->encode(text, false);
      if (from_gguf->add_bos() && c["add_special"].get<bool>()) hf_ids.insert(hf_ids.begin(), from_gguf->bos());
      CHECK(hf_ids == expect);
    }
  }
}

TEST_CASE("invalid UTF-8 is replaced with U+FFFD before tokenizing", "[tokenizer]") {
  CHECK(utf8::sanitize("a\xff" "b") == "a\xEF\xBF\xBD" "b");
  CHECK(utf8::sanitize("\xE6\x97") == "\xEF\xBF\xBD");            // a cut-off 3-byte character: one maximal subpart
  CHECK(utf8::sanitize("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate: three
  CHECK(utf8::sanitize("ok \xF0\x9F\x98\x80") == "ok \xF0\x9F\x98\x80");
  auto tok = Tokenizer::from_hf_file(test::fixtures() + "/tokenizers/qwen3/tokenizer.json");
  CHECK(tok->encode("a\xff" "b", false) == tok->encode("a\xEF\xBF\xBD" "b", false));
}

TEST_CASE("streaming decode never emits half a character", "[tokenizer]") {
  auto tok = Tokenizer::from_hf_file(test::fixtures() + "/tokenizers/qwen3/tokenizer.json");
  const std::string text = "東京 🚀 naïve";
  const auto ids = tok->encode(text, false);
  StreamDecoder dec(*tok);
  std::string out;
  for (int32_t id : ids) {
    const std::string piece = dec.feed(id);
    CHECK(utf8::is_valid(piece));
    out += piece;
  }
  out += dec.flush();
  CHECK(out == text);
}

TEST_CASE("bad tokenizer files give errors that name the file and the problem", "[tokenizer]") {
  const std::string p = test::temp_path("tokenizer.json");
  test::write_file(p, "{\"model\": {\"type\": \"BPE\", ");
  REQUIRE_THROWS_WITH(Tokenizer::from_hf_file(p), Catch::Contains(p) && Catch::Contains("malformed JSON"));
  test::write_file(p, R"({"model": {"type": "Unigram", "vocab": []}})");
  REQUIRE_THROWS_WITH(Tokenizer::from_hf_file(p), Catch::Contains("unsupported tokenizer model type 'Unigram'"));
  test::write_file(p, R"({"normalizer": {"type": "NFKD"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  REQUIRE_THROWS_WITH(Tokenizer::from_hf_file(p), Catch::Contains("unknown normalizer type 'NFKD'"));
  test::write_file(p, R"({"pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  REQUIRE_THROWS_WITH(Tokenizer::from_hf_file(p), Catch::Contains("unknown pre-tokenizer type 'Whitespace'"));
  test::write_file(p, R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
  REQUIRE_THROWS_WITH(Tokenizer::from_hf_file(p), Catch::Contains("merge 'a b'"));
  REQUIRE_THROWS_WITH(Tokenizer::from_hf_file(p + ".missing"), Catch::Contains("cannot open"));
  std::remove(p.c_str());
}
