// Hostile model files and inputs: each class of attack on the parsers ends
// fast, in bounded memory, with an error that names the file and what was
// wrong — never a crash, a hang or gigabytes asked for by a small file.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "edgerun.hpp"
#include "formats/erm.h"
#include "formats/gguf.h"
#include "gguf_writer.h"
#include "helpers.h"
#include "tokenizer/tokenizer.h"

using namespace edgerun;

namespace {

// What a small hostile file may cost the CLI: far below what the attacks
// asked for (gigabytes, minutes), well above what `info` on a small model needs.
constexpr int kMaxMiB = 512;
constexpr int kMaxSeconds = 20;

std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string p = test::temp_path(name);
  test::write_file(p, bytes);
  return p;
}

// `edgerun info` on a hostile file: it must fail by itself, with a message,
// neither killed at the time limit (137) nor out of memory.
std::string info_error(const std::string& path, const std::string& flags = "") {
  const test::CliResult r = test::run_cli_bounded("info " + flags + " '" + path + "'", kMaxMiB, kMaxSeconds);
  INFO(r.out);
  CHECK(r.code == 1);
  CHECK(r.out.find("out of memory") == std::string::npos);
  CHECK(r.out.find(path) != std::string::npos);
  return r.out;
}

test::GGUFEdit stories() { return test::GGUFEdit::from(GGUFFile::open(test::stories_gguf())); }

std::string gguf_header(uint64_t n_tensors, uint64_t n_kv) {
  std::string s = "GGUF";
  const uint32_t version = 3;
  s.append(reinterpret_cast<const char*>(&version), 4);
  s.append(reinterpret_cast<const char*>(&n_tensors), 8);
  s.append(reinterpret_cast<const char*>(&n_kv), 8);
  return s;
}
template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string copy_hf(const std::string& model) {
  const std::string dir = test::temp_path("hostile_hf_" + model);
  const std::string from = test::fixtures() + "/models/" + model + "/hf";
  REQUIRE(std::system(("rm -rf '" + dir + "' && cp -r '" + from + "' '" + dir + "' && chmod -R u+w '" + dir + "'").c_str()) == 0);
  return dir;
}

// A minimal tokenizer.json around the given normalizer/pre-tokenizer sections.
std::string tokenizer_json(const std::string& extra) {
  return R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "!": 2}, "merges": []})" + extra + "}";
}

// The error loading `text` as a tokenizer.json gives ("" when it loads).
std::string tokenizer_error(const std::string& path, const std::string& text) {
  test::write_file(path, text);
  try {
    Tokenizer::from_hf_file(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string nested(const std::string& open, const std::string& inner, const std::string& close, int depth) {
  std::string s;
  s.reserve((open.size() + close.size()) * depth + inner.size());
  for (int i = 0; i < depth; ++i) s += open;
  s += inner;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

// An .erm whose header checksum is right, so its other claims are what is tested.
std::string erm_bytes(const std::string& meta_raw, uint64_t meta_raw_size, const std::string& dir) {
  std::string frame(ZSTD_compressBound(meta_raw.size()), '\0');
  frame.resize(ZSTD_compress(frame.data(), frame.size(), meta_raw.data(), meta_raw.size(), 1));
  ErmHeader h{};
  std::memcpy(h.magic, "EDGERUNM", 8);
  h.version = kErmVersion;
  h.meta_offset = sizeof h;
  h.meta_size = frame.size();
  h.meta_raw_size = meta_raw_size;
  h.dir_offset = h.meta_offset + h.meta_size;
  h.dir_size = dir.size();
  h.data_offset = (h.dir_offset + h.dir_size + kErmAlign - 1) / kErmAlign * kErmAlign;
  h.file_size = h.data_offset + 64;
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, &h, sizeof h);
  XXH3_64bits_update(st, frame.data(), frame.size());
  XXH3_64bits_update(st, dir.data(), dir.size());
  h.header_hash = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out += frame + dir;
  out.resize(h.file_size, '\0');
  return out;
}

}  // namespace

TEST_CASE("GGUF headers that claim more than the file holds fail before allocating", "[hostile]") {
  SECTION("2^63 tensors") {
    const std::string p = write_temp("h_count.gguf", gguf_header(1ull << 63, 0) + std::string(64, '\0'));
    CHECK_THAT(info_error(p), Catch::Contains("header corrupt"));
  }
  SECTION("a string of 2^62 bytes") {
    std::string s = gguf_header(0, 1);
    put<uint64_t>(s, 1ull << 62);
    const std::string p = write_temp("h_string.gguf", s + std::string(64, 'k'));
    CHECK_THAT(info_error(p), Catch::Contains("truncated"));
  }
  SECTION("a string array of 2^31 entries") {
    std::string s = gguf_header(0, 1);
    put<uint64_t>(s, 3);
    s += "arr";
    put<uint32_t>(s, 9);  // array
    put<uint32_t>(s, 8);  // of strings
    put<uint64_t>(s, 1ull << 31);
    s.resize(1024, '\0');
    const std::string p = write_temp("h_array.gguf", s);
    CHECK_THAT(info_error(p), Catch::Contains("metadata 'arr'") && Catch::Contains("2147483648 strings"));
  }
  SECTION("a tensor of 2^40 elements in 1 KiB") {
    std::string s = gguf_header(1, 0);
    put<uint64_t>(s, 1);
    s += "t";
    put<uint32_t>(s, 1);
    put<uint64_t>(s, 1ull << 40);
    put<uint32_t>(s, 0);  // f32
    put<uint64_t>(s, 0);
    s.resize(1024, '\0');
    const std::string p = write_temp("h_tensor.gguf", s);
    CHECK_THAT(info_error(p), Catch::Contains("tensor 't'") && Catch::Contains("past the end"));
  }
  SECTION("2^24 layers in a 1 MB file") {
    auto e = stories();
    e.set_uint32("llama.block_count", 1u << 24);
    const std::string p = write_temp("h_layers.gguf", e.bytes());
    CHECK_THAT(info_error(p), Catch::Contains("llama.block_count") && Catch::Contains("16777216"));
  }
}

TEST_CASE("hyper-parameters that overflow, contradict the tensors or are not finite are refused", "[hostile]") {
  SECTION("head_count x key_length past 32 bits (it wraps to the tensors' 64)") {
    auto e = stories();
    e.set_uint32("llama.attention.head_count", 320);
    e.set_uint32("llama.attention.head_count_kv", 320);
    e.set_uint32("llama.attention.key_length", 13421773);  // 320 x 13421773 = 2^32 + 64
    e.set_uint32("llama.rope.dimension_count", 64);
    const std::string p = write_temp("h_heads.gguf", e.bytes());
    CHECK_THAT(info_error(p), Catch::Contains("attention.head_count") && Catch::Contains("attention.key_length"));
  }
  SECTION("an infinite RoPE base") {
    auto e = stories();
    e.set_f32("llama.rope.freq_base", std::numeric_limits<float>::infinity());
    const std::string p = write_temp("h_theta.gguf", e.bytes());
    CHECK_THAT(info_error(p), Catch::Contains("llama.rope.freq_base") && Catch::Contains("finite"));
  }
  SECTION("a NaN epsilon") {
    auto e = stories();
    e.set_f32("llama.attention.layer_norm_rms_epsilon", std::nanf(""));
    const std::string p = write_temp("h_eps.gguf", e.bytes());
    CHECK_THAT(info_error(p), Catch::Contains("llama.attention.layer_norm_rms_epsilon"));
  }
  SECTION("a context length of zero") {
    auto e = stories();
    e.set_uint32("llama.context_length", 0);
    const std::string p = write_temp("h_ctx.gguf", e.bytes());
    CHECK_THAT(info_error(p), Catch::Contains("llama.context_length"));
  }
}

TEST_CASE("a GGUF of 10,000 layers is read in linear time", "[hostile]") {
  // The cloned layers share their bytes, so the file is mostly names; the
  // last layer lacks a tensor, so every lookup runs before the error.
  auto e = stories();
  const size_t n_base = e.tensors.size();
  for (int l = 5; l < 10000; ++l)
    for (size_t t = 0; t < n_base; ++t) {
      const std::string& name = e.tensors[t].name;
      if (name.rfind("blk.0.", 0) != 0) continue;
      test::GGUFEdit::Tensor c = e.tensors[t];
      c.name = "blk." + std::to_string(l) + name.substr(5);
      if (l == 9999 && c.name.find("ffn_down") != std::string::npos) continue;
      e.tensors.push_back(std::move(c));
    }
  e.set_uint32("llama.block_count", 10000);
  const std::string p = write_temp("h_10k.gguf", e.bytes());
  CHECK_THAT(info_error(p), Catch::Contains("missing tensor 'blk.9999.ffn_down.weight'"));
}

TEST_CASE("token ids are checked against the table they index", "[hostile]") {
  const std::string p = test::temp_path("h_tokenizer.json");
  auto error_of = [&](const std::string& text) { return tokenizer_error(p, text); };
  SECTION("an added token with id -1") {
    const std::string e = error_of(tokenizer_json(R"(, "added_tokens": [{"id": -1, "content": "<x>", "special": true}])"));
    CHECK_THAT(e, Catch::Contains(p) && Catch::Contains("added_tokens") && Catch::Contains("-1"));
  }
  SECTION("an added token with id 2^26 in a tiny file") {
    const std::string e = error_of(tokenizer_json(R"(, "added_tokens": [{"id": 67108864, "content": "<x>", "special": true}])"));
    CHECK_THAT(e, Catch::Contains("added_tokens") && Catch::Contains("67108864"));
  }
  SECTION("a vocabulary id far beyond the vocabulary's size") {
    const std::string e = error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 16000000}, "merges": []}})");
    CHECK_THAT(e, Catch::Contains("model.vocab") && Catch::Contains("16000000"));
  }
  SECTION("an added token that is not an object with an integer id") {
    CHECK_THAT(error_of(tokenizer_json(R"(, "added_tokens": [{"id": "x", "content": "<x>"}])")), Catch::Contains("added_tokens"));
    CHECK_THAT(error_of(tokenizer_json(R"(, "added_tokens": [7])")), Catch::Contains("added_tokens"));
  }
  SECTION("the same from a GGUF: a token type outside GGUF's, a byte token that is not <0xNN>") {
    auto e = stories();
    std::vector<int32_t> types(512, 1);
    types[300] = 99;
    e.set_int_array("tokenizer.ggml.token_type", types);
    std::string g = write_temp("h_types.gguf", e.bytes());
    CHECK_THAT(info_error(g), Catch::Contains("tokenizer.ggml.token_type") && Catch::Contains("99"));
    types[300] = 6;  // byte, but its text is a word piece
    e.set_int_array("tokenizer.ggml.token_type", types);
    g = write_temp("h_bytes.gguf", e.bytes());
    CHECK_THAT(info_error(g), Catch::Contains("token 300") && Catch::Contains("<0xNN>"));
  }
  std::remove(p.c_str());
}

TEST_CASE("JSON nested without end and tokenizer sections nested 100,000 deep end with an error", "[hostile]") {
  const std::string p = test::temp_path("h_deep.json");
  auto error_of = [&](const std::string& text) { return tokenizer_error(p, text); };
  const std::string seq = nested(R"({"type": "Sequence", "normalizers": [)", R"({"type": "NFC"})", "]}", 100000);
  CHECK_THAT(error_of(tokenizer_json(", \"normalizer\": " + seq)), Catch::Contains(p) && Catch::Contains("nested deeper"));
  const std::string post = nested(R"({"type": "Sequence", "processors": [)", R"({"type": "ByteLevel"})", "]}", 100000);
  CHECK_THAT(error_of(tokenizer_json(", \"post_processor\": " + post)), Catch::Contains("nested deeper"));
  CHECK_THAT(error_of(tokenizer_json(", \"x\": " + nested("[", "1", "]", 100000))), Catch::Contains("nested deeper"));
  // Within JSON's bound, the sections' own.
  CHECK_THAT(error_of(tokenizer_json(", \"normalizer\": " + nested(R"({"type": "Sequence", "normalizers": [)", R"({"type": "NFC"})", "]}", 40))),
             Catch::Contains("'normalizer' sequences nested deeper than 32"));
  // Shallow nesting of the same kind still works.
  CHECK(error_of(tokenizer_json(", \"normalizer\": " + nested(R"({"type": "Sequence", "normalizers": [)", R"({"type": "NFC"})", "]}", 3))) == "");
  std::remove(p.c_str());
}

TEST_CASE("a pre-tokenizer regex that backtracks without end is stopped", "[hostile]") {
  const std::string p = test::temp_path("h_regex.json");
  test::write_file(p, tokenizer_json(R"(, "decoder": {"type": "ByteLevel"}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a+)+b"}, "behavior": "Isolated"})"));
  auto tok = Tokenizer::from_hf_file(p);
  CHECK(tok->encode("aab", false).size() == 3);
  CHECK_THROWS_WITH(tok->encode(std::string(40, 'a') + "!", false), Catch::Contains(p) && Catch::Contains("time limit"));
  std::remove(p.c_str());
}

TEST_CASE("text larger than the tokenizer takes in one call is refused before any work", "[hostile]") {
  auto tok = Tokenizer::from_hf_file(test::fixtures() + "/tokenizers/qwen3/tokenizer.json");
  const std::string huge((64u << 20) + 1, 'a');
  CHECK_THROWS_WITH(tok->encode(huge, false), Catch::Contains("64 MiB"));
}

TEST_CASE("Hugging Face folders: wrong JSON types, huge sizes and paths outside the folder", "[hostile]") {
  const std::string dir = copy_hf("tiny-llama");
  const std::string cfg_path = dir + "/config.json";
  const nlohmann::json cfg = nlohmann::json::parse(test::read_file(cfg_path));
  nlohmann::json changed = cfg;  // each section's changes add up
  auto with = [&](const char* key, const nlohmann::json& v) {
    changed[key] = v;
    test::write_file(cfg_path, changed.dump());
  };
  SECTION("a string where a number belongs") {
    with("max_position_embeddings", "long");
    CHECK_THAT(info_error(dir), Catch::Contains("config.json") && Catch::Contains("'max_position_embeddings'"));
    with("max_position_embeddings", cfg["max_position_embeddings"]);
    with("rms_norm_eps", nlohmann::json::array());
    CHECK_THAT(info_error(dir), Catch::Contains("'rms_norm_eps'"));
  }
  SECTION("a number too large for a double (found by fuzz_hf_folder)") {
    std::string text = changed.dump();
    text.insert(text.size() - 1, ", \"rms_norm_eps\": 1e999");
    test::write_file(cfg_path, text);
    CHECK_THAT(info_error(dir), Catch::Contains("config.json: malformed JSON") && Catch::Contains("number overflow"));
  }
  SECTION("integers out of range or not whole (found by fuzz_hf_folder: top_k 1e81 converted out of range)") {
    const std::string gen_path = dir + "/generation_config.json";
    for (const char* top_k : {"1e81", "2.5", "18446744073709551615"}) {
      INFO(top_k);
      test::write_file(gen_path, std::string("{\"eos_token_id\": [2], \"top_k\": ") + top_k + "}");
      CHECK_THAT(info_error(dir), Catch::Contains("generation_config.json") && Catch::Contains("'top_k' must be a whole number"));
    }
    for (const char* eos : {"4294967298", "-1", "1.5", "\"2\""}) {
      INFO(eos);
      test::write_file(gen_path, std::string("{\"eos_token_id\": [2, ") + eos + "]}");
      CHECK_THAT(info_error(dir), Catch::Contains("generation_config.json") && Catch::Contains("'eos_token_id' holds"));
    }
    test::write_file(gen_path, "{\"eos_token_id\": 2, \"top_k\": 40.0}");  // whole numbers written as floats are fine
    const test::CliResult ok = test::run_cli_bounded("info '" + dir + "'", kMaxMiB, kMaxSeconds);
    INFO(ok.out);
    CHECK(ok.code == 0);
  }
  SECTION("a million layers") {
    with("num_hidden_layers", 1000000);
    CHECK_THAT(info_error(dir), Catch::Contains("block_count' says 1000000 layers"));
  }
  SECTION("a head size of two billion, with RoPE scaling") {
    with("head_dim", 2000000000);
    with("rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}});
    CHECK_THAT(info_error(dir), Catch::Contains("head_dim"));
  }
  SECTION("JSON nested 100,000 deep") {
    test::write_file(cfg_path, "{\"x\": " + nested("[", "1", "]", 100000) + "}");
    CHECK_THAT(info_error(dir), Catch::Contains("config.json") && Catch::Contains("nested deeper"));
  }
  SECTION("a shard named outside the folder") {
    nlohmann::json idx = {{"weight_map", {{"model.embed_tokens.weight", "../../../../etc/passwd"}}}};
    test::write_file(dir + "/model.safetensors.index.json", idx.dump());
    CHECK_THAT(info_error(dir), Catch::Contains("../../../../etc/passwd") && Catch::Contains("outside the model folder"));
    idx = {{"weight_map", {{"model.embed_tokens.weight", 7}}}};
    test::write_file(dir + "/model.safetensors.index.json", idx.dump());
    CHECK_THAT(info_error(dir), Catch::Contains("weight_map"));
  }
}

TEST_CASE(".erm headers that claim more than the file holds fail before allocating", "[hostile]") {
  std::string meta;
  put<uint64_t>(meta, 0);  // no metadata entries
  std::string dir;
  put<uint64_t>(dir, 0);   // no tensors
  SECTION("1 GiB of metadata declared in a small file") {
    const std::string p = write_temp("h_meta.erm", erm_bytes(meta, 1ull << 30, dir));
    CHECK_THAT(info_error(p), Catch::Contains("metadata"));
  }
  SECTION("tensor dimensions whose product overflows") {
    std::string d;
    put<uint64_t>(d, 1);
    put<uint64_t>(d, 1);
    d += "t";
    put<uint32_t>(d, 0);  // f32
    put<uint32_t>(d, 0);  // rows layout
    put<uint32_t>(d, 4);
    for (int i = 0; i < 4; ++i) put<uint64_t>(d, 1ull << 40);
    put<uint64_t>(d, 0);  // offset
    put<uint64_t>(d, 0);  // bytes: what the overflowed product would give
    put<uint64_t>(d, 0);  // checksum
    const std::string p = write_temp("h_dims.erm", erm_bytes(meta, meta.size(), d));
    CHECK_THAT(info_error(p), Catch::Contains("tensor 't'") && Catch::Contains("elements"));
  }
}

TEST_CASE("files that are not regular files, and text from files that is not printable", "[hostile]") {
  SECTION("a FIFO is refused at once, not read") {
    const std::string p = test::temp_path("h_fifo.gguf");
    std::remove(p.c_str());
    REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
    CHECK_THAT(info_error(p), Catch::Contains("not a regular file"));
    std::remove(p.c_str());
  }
  SECTION("terminal escapes in metadata are shown escaped") {
    auto e = stories();
    e.set_string("general.name", "evil\x1b[2J\x1b]0;owned\x07name");
    e.set_string("general.\x1b[31mkey", "x");
    const std::string p = write_temp("h_escape.gguf", e.bytes());
    const test::CliResult r = test::run_cli_bounded("info --metadata '" + p + "'", kMaxMiB, kMaxSeconds);
    CHECK(r.code == 0);
    CHECK(r.out.find('\x1b') == std::string::npos);
    CHECK(r.out.find('\x07') == std::string::npos);
    CHECK_THAT(r.out, Catch::Contains("evil\\x1b[2J"));
  }
}

TEST_CASE("non-finite logits stop generation with an error, not garbage", "[hostile]") {
  auto e = stories();
  auto* norm = e.tensor("output_norm.weight");
  REQUIRE(norm);
  const float nan = std::nanf("");
  for (size_t i = 0; i < norm->data.size(); i += 4) std::memcpy(&norm->data[i], &nan, 4);
  const std::string p = write_temp("h_nan.gguf", e.bytes());
  const test::CliResult r = test::run_cli("run -m '" + p + "' -p 'Once upon' -n 8 --temp 0 -t 1");
  INFO(r.out);
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("not finite"));
}

TEST_CASE("a thread count the machine cannot run is refused", "[hostile]") {
  const test::CliResult r = test::run_cli_bounded("run -m '" + test::stories_gguf() + "' -p hi -n 4 -t 1024", kMaxMiB, kMaxSeconds);
  INFO(r.out);
  CHECK(r.code != 0);
  CHECK(r.code != 137);
  CHECK_THAT(r.out, Catch::Contains("-t") && Catch::Contains("1024"));
}

TEST_CASE("a prompt file of 1 GiB is refused before it is read", "[hostile]") {
  const std::string p = test::temp_path("h_prompt.txt");
  test::write_file(p, "");
  REQUIRE(::truncate(p.c_str(), 1ll << 30) == 0);  // sparse: no disk used
  const test::CliResult r =
      test::run_cli_bounded("run -m '" + test::stories_gguf() + "' -f '" + p + "' -n 1", kMaxMiB, kMaxSeconds);
  INFO(r.out);
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains(p) && Catch::Contains("64 MiB"));
  std::remove(p.c_str());
}

TEST_CASE("a hostile chat template in a model file ends with an error from the CLI", "[hostile]") {
  const std::string messages = write_temp("h_messages.json", R"([{"role": "user", "content": "hi"}])");
  // (The step limit's case, 10^5 x 10^5 loops, takes seconds natively and minutes under
  // qemu: test_template.cpp checks it in-process.)
  for (const std::string tmpl : {"{% for i in range(10**12) %}x{% endfor %}", "{{ 'a' * 10**10 }}",
                                 "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"}) {
    auto e = stories();
    e.set_string("tokenizer.chat_template", tmpl);
    const std::string p = write_temp("h_template.gguf", e.bytes());
    const test::CliResult r = test::run_cli_bounded("template -m '" + p + "' --messages '" + messages + "'", kMaxMiB, kMaxSeconds);
    INFO(tmpl << "\n-> " << r.out);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Catch::Contains("chat template"));
  }
}

TEST_CASE("verify passes an .erm only when its checksums hold and the model loads", "[hostile]") {
  // Bytes written as they were meant (every checksum right) can still be no
  // model: here a layer count the tensors do not have.
  auto g = GGUFFile::open(test::stories_gguf());
  g->set_uint("llama.block_count", 1u << 20);
  const std::string p = test::temp_path("h_verify.erm");
  std::remove(p.c_str());
  {
    ErmWriter w(p, *g, g->tensors(), true);
    for (size_t i = 0; i < g->tensors().size(); ++i) w.write_tensor(i, g->tensors()[i].data, g->tensors()[i].nbytes);
    w.finish();
  }
  const test::CliResult r = test::run_cli("verify '" + p + "'");
  INFO(r.out);
  CHECK(r.code == 1);
  CHECK_THAT(r.out, Catch::Contains("checksums hold, but the model does not load") && Catch::Contains("llama.block_count"));
  std::remove(p.c_str());
}
