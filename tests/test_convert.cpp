// Hugging Face folders, safetensors, the .erm format and the converter.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "converter.h"
#include "cpu/kernels.h"
#include "edgerun.hpp"
#include "formats/erm.h"
#include "formats/gguf.h"
#include "helpers.h"
#include "model/source.h"

using namespace edgerun;

namespace {

const std::vector<int32_t> kIds = {5, 77, 300, 12, 999, 1, 640, 2};

std::vector<float> logits_of(const std::string& path) {
  auto m = load_model(path, LoadOptions{"cpu"});
  INFO(path << ": " << (m ? "" : m.message()));
  REQUIRE(m.ok());
  SessionOptions so;
  so.kv_type = KVType::F32;  // compared with references computed with f32 caches
  so.n_ctx = 32;
  Session s(**m, so);
  return s.eval(kIds, true);
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0, m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
    m = std::max(m, static_cast<double>(std::fabs(b[i])));
  }
  return d / m;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string convert_error(const std::string& src, const std::string& out, const std::string& quant = "keep", bool force = false,
                          bool grouped = true) {
  ConvertOptions o;
  o.quant = quant;
  o.overwrite = force;
  o.grouped = grouped;
  try {
    convert_model(src, out, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A copy of a fixture's HF folder in a temporary place, to damage.
std::string copy_hf(const std::string& model) {
  const std::string dir = test::temp_path("hf_" + model);
  const std::string from = test::fixtures() + "/models/" + model + "/hf";
  REQUIRE(std::system(("rm -rf '" + dir + "' && cp -r '" + from + "' '" + dir + "' && chmod -R u+w '" + dir + "'").c_str()) == 0);
  return dir;
}

}  // namespace

TEST_CASE("Hugging Face folders run directly and convert to .erm with the GGUF's logits", "[convert]") {
  for (const std::string name : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
    const std::string dir = test::fixtures() + "/models/" + name;
    const auto gguf = logits_of(dir + "/model-f32.gguf");
    CHECK(max_rel_diff(logits_of(dir + "/hf"), gguf) < 1e-5);
    const std::string out = test::temp_path(name + ".erm");
    REQUIRE(convert_error(dir + "/hf", out, "keep", true).empty());
    const double rel = max_rel_diff(logits_of(out), gguf);
    INFO(name << ": .erm from HF vs f32 GGUF, max relative difference " << rel);
    CHECK(rel < 1e-5);
    // The tokenizer travels inside the .erm.
    auto src = open_model_source(out);
    auto tok = src->make_tokenizer();
    auto ref = Tokenizer::from_hf_file(dir + "/hf/tokenizer.json");
    CHECK(tok->encode("Once upon a time, 東京 🚀", true) == ref->encode("Once upon a time, 東京 🚀", true));
    CHECK(!tok->chat_template().empty());
    std::remove(out.c_str());
  }
}

TEST_CASE("the Llama 3 rope scaling from config.json equals the GGUF's rope_freqs", "[convert]") {
  const std::string dir = test::fixtures() + "/models/tiny-llama";
  auto hf = open_model_source(dir + "/hf");
  auto gg = open_model_source(dir + "/model-f32.gguf");
  const TensorInfo* a = hf->find_tensor("rope_freqs.weight");
  const TensorInfo* b = gg->find_tensor("rope_freqs.weight");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->nbytes == b->nbytes);
  const float* fa = reinterpret_cast<const float*>(a->data);
  const float* fb = reinterpret_cast<const float*>(b->data);
  for (size_t i = 0; i < a->nbytes / 4; ++i) CHECK(fa[i] == Approx(fb[i]).epsilon(1e-6));
}

TEST_CASE("GGUF -> .erm keeps types and logits exactly; our mixes from HF match llama.cpp's bits", "[convert]") {
  const std::string dir = test::fixtures() + "/models/tiny-qwen2";
  const std::string out = test::temp_path("q4km.erm");
  REQUIRE(convert_error(dir + "/model-q4_k_m.gguf", out, "keep", true).empty());
  CHECK(logits_of(out) == logits_of(dir + "/model-q4_k_m.gguf"));
  struct stat a {}, b {};
  ::stat(out.c_str(), &a);
  ::stat((dir + "/model-q4_k_m.gguf").c_str(), &b);
  CHECK(a.st_size <= b.st_size + 64 * 1024);  // the tokenizer is compressed; tensors are the same bytes

  for (const std::string model : {"tiny-llama", "tiny-qwen2", "tiny-qwen3"})
  for (const std::string& q : test::fixture_quant_types()) {
    const std::string mdir = test::fixtures() + "/models/" + model;
    REQUIRE(convert_error(mdir + "/hf", out, q, true).empty());
    auto ours = open_model_source(out);
    auto theirs = GGUFFile::open(mdir + "/model-" + q + ".gguf");
    int same = 0;
    for (const auto& t : theirs->tensors()) {
      const TensorInfo* o = ours->find_tensor(t.name);
      REQUIRE(o);
      INFO(model << " " << q << " " << t.name << ": ours " << dtype_name(o->type) << ", llama.cpp's " << dtype_name(t.type));
      REQUIRE(o->type == t.type);  // the same mix of types
      if (t.type == DType::F32) continue;
      // Matrices of the types the cpu kernels read in 16-row groups are
      // stored so (the embedding, looked up by rows, is not); their rows are
      // llama.cpp's bits.
      const bool grouped = t.name != "token_embd.weight" && x16_stored(t.type, t.shape[1], t.shape[0]);
      CHECK(o->layout == (grouped ? kLayoutX16 : kLayoutRows));
      std::vector<uint8_t> rows(t.nbytes);
      if (o->layout == kLayoutX16) x16_to_rows(o->type, o->data, t.shape[1], t.shape[0], rows.data());
      else std::memcpy(rows.data(), o->data, t.nbytes);
      CHECK(std::memcmp(rows.data(), t.data, t.nbytes) == 0);
      ++same;
    }
    CHECK(same >= 14);
  }
  std::remove(out.c_str());
}

TEST_CASE("--rows keeps GGUF's layout; grouped and row files give the same logits, on any kernels", "[convert]") {
  const std::string grouped = test::temp_path("grouped.erm"), rows = test::temp_path("rows.erm"),
                    again = test::temp_path("again.erm");
  for (const std::string q : {"q4_0", "q8_0", "q4_k_m", "f16"}) {
    const std::string src = test::fixtures() + "/models/tiny-qwen2/model-f32.gguf";
    REQUIRE(convert_error(src, grouped, q, true).empty());
    REQUIRE(convert_error(src, rows, q, true, false).empty());
    // An .erm with groups as the source: back to rows, then groups again.
    REQUIRE(convert_error(grouped, again, "keep", true).empty());
    int n_grouped = 0;
    auto g = ErmFile::open(grouped), a = ErmFile::open(again), rw = ErmFile::open(rows);
    for (const auto& t : rw->tensors()) CHECK(t.layout == kLayoutRows);
    for (const auto& t : g->tensors()) n_grouped += t.layout == kLayoutX16;
    INFO(q);
    CHECK(n_grouped >= 8);
    REQUIRE(a->tensors().size() == g->tensors().size());
    for (size_t i = 0; i < a->tensors().size(); ++i) {
      const TensorInfo &x = a->tensors()[i], &y = g->tensors()[i];
      CHECK((x.layout == y.layout && x.nbytes == y.nbytes && std::memcmp(x.data, y.data, x.nbytes) == 0));
    }
    const auto want = logits_of(rows);
    CHECK(logits_of(grouped) == want);
    // On every SIMD target: where it has no group kernels (SSE4) the groups
    // go back to rows at load; AVX2, AVX-VNNI and ARM's NEON (with sdot or
    // without) read them as the file stores them.
    std::vector<std::string> simds = {""};
#if defined(__x86_64__)
    simds = {"SSE4", "AVX2"};
    if (cpu::cpu_has_avx_vnni()) simds.push_back("AVX_VNNI");
    else if (cpu::cpu_has_avx512_vnni()) simds.push_back("AVX_VNNI_EVEX");
#elif defined(__aarch64__)
    simds = {"NEON"};
    if (cpu::cpu_has_neon_dotprod()) simds.push_back("NEON_DOTPROD");
    if (cpu::cpu_has_neon_i8mm()) simds.push_back("NEON_I8MM");
#endif
    std::vector<float> best;
    for (const std::string& target : simds) {
      std::vector<float> got[2];
      for (int i = 0; i < 2; ++i) {
        const std::string out = test::temp_path("simd.f32");
        const auto r = test::run_cli("logits -m '" + (i ? grouped : rows) + "' --kv-type f32 --tokens 1,2,3,4 -o '" + out + "'",
                                     target.empty() ? "" : "EDGERUN_SIMD=" + target);
        INFO(target << ": " << r.out);
        REQUIRE(r.code == 0);
        got[i] = test::read_floats(out);
        std::remove(out.c_str());
      }
      INFO(target);
      CHECK(got[1] == got[0]);
      CHECK(got[0].size() > 1000);
      // Quantized: the same bits on every SIMD target too (docs/NUMERICS.md).
      if (best.empty()) best = got[0];
      else if (q != "f16") CHECK(got[0] == best);
    }
    if (q != "f16") {
      const std::string out = test::temp_path("best.f32");
      const auto r = test::run_cli("logits -m '" + rows + "' --kv-type f32 --tokens 1,2,3,4 -o '" + out + "'");
      REQUIRE(r.code == 0);
      CHECK(test::read_floats(out) == best);
      std::remove(out.c_str());
    }
  }
  std::remove(grouped.c_str());
  std::remove(rows.c_str());
  std::remove(again.c_str());
}

TEST_CASE(".erm damage is caught: verify for tensor data, every load for the header", "[convert]") {
  const std::string out = test::temp_path("damage.erm");
  REQUIRE(convert_error(test::stories_gguf(), out, "keep", true).empty());
  const std::string good = test::read_file(out);
  auto f = ErmFile::open(out);
  CHECK(f->verify().empty());

  SECTION("a flipped byte in tensor data") {
    ErmHeader h;
    std::memcpy(&h, good.data(), sizeof h);
    std::string bad = good;
    bad[h.data_offset + 100] ^= 0x01;
    test::write_file(out, bad);
    auto g = ErmFile::open(out);  // the header is intact, so it loads
    const auto damaged = g->verify();
    REQUIRE(damaged.size() == 1);
    const auto r = test::run_cli("verify '" + out + "'");
    CHECK(r.code != 0);
    CHECK_THAT(r.out, Catch::Contains("fail their checksum") && Catch::Contains(damaged[0]));
  }
  SECTION("a flipped byte in the metadata or directory") {
    for (size_t at : {size_t(100), sizeof(ErmHeader) + 10}) {
      std::string bad = good;
      bad[at] ^= 0x40;
      test::write_file(out, bad);
      REQUIRE_THROWS_WITH(ErmFile::open(out), Catch::Contains(out) && Catch::Contains("checksum mismatch"));
    }
  }
  SECTION("truncated, wrong magic, newer version") {
    test::write_file(out, good.substr(0, good.size() - 10));
    REQUIRE_THROWS_WITH(ErmFile::open(out), Catch::Contains("truncated or damaged"));
    std::string v2 = good;
    v2[8] = 2;
    test::write_file(out, v2);
    REQUIRE_THROWS_WITH(ErmFile::open(out), Catch::Contains("format version 2 by a newer edgerun"));
    std::string magic = good;
    magic[0] = 'X';
    test::write_file(out, magic);
    REQUIRE_THROWS_WITH(ErmFile::open(out), Catch::Contains("wrong magic"));
  }
  std::remove(out.c_str());
}

TEST_CASE("convert never overwrites without --force and leaves nothing behind when it fails", "[convert]") {
  const std::string out = test::temp_path("keep.erm");
  test::write_file(out, "precious");
  CHECK_THAT(convert_error(test::stories_gguf(), out), Catch::Contains("exists already"));
  CHECK(test::read_file(out) == "precious");
  CHECK_THAT(convert_error(test::stories_gguf(), "/nonexistent/dir/x.erm"), Catch::Contains("/nonexistent/dir/x.erm"));
  CHECK_THAT(convert_error(test::stories_gguf(), out + "2", "q3_x"), Catch::Contains("unknown quantization 'q3_x'"));
  CHECK(!exists(out + "2"));
  std::remove(out.c_str());
}

TEST_CASE("bad Hugging Face folders give clear errors", "[convert]") {
  const std::string out = test::temp_path("bad.erm");
  SECTION("a missing shard") {
    const std::string dir = copy_hf("tiny-qwen2");
    nlohmann::json idx = {{"metadata", {{"total_size", 1}}},
                          {"weight_map", {{"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
                                          {"model.norm.weight", "model-00002-of-00002.safetensors"}}}};
    std::rename((dir + "/model.safetensors").c_str(), (dir + "/model-00001-of-00002.safetensors").c_str());
    test::write_file(dir + "/model.safetensors.index.json", idx.dump());
    const std::string e = convert_error(dir, out);
    CHECK_THAT(e, Catch::Contains("model-00002-of-00002.safetensors") && Catch::Contains("missing"));
    CHECK(!exists(out));
  }
  SECTION("a truncated safetensors file") {
    const std::string dir = copy_hf("tiny-qwen3");
    const std::string st = test::read_file(dir + "/model.safetensors");
    test::write_file(dir + "/model.safetensors", st.substr(0, st.size() / 2));
    CHECK_THAT(convert_error(dir, out), Catch::Contains("model.safetensors") && Catch::Contains("truncated"));
    test::write_file(dir + "/model.safetensors", st.substr(0, 5));
    CHECK_THAT(convert_error(dir, out), Catch::Contains("truncated"));
  }
  SECTION("an unsupported dtype") {
    const std::string dir = copy_hf("tiny-qwen3");
    std::string st = test::read_file(dir + "/model.safetensors");
    const size_t at = st.find("\"F32\"");  // the first tensor's dtype, in the JSON header
    REQUIRE(at != std::string::npos);
    st.replace(at, 5, "\"I32\"");
    test::write_file(dir + "/model.safetensors", st);
    CHECK_THAT(convert_error(dir, out), Catch::Contains("unsupported dtype 'I32'"));
  }
  SECTION("a shape that disagrees with config.json") {
    const std::string dir = copy_hf("tiny-llama");
    nlohmann::json cfg = nlohmann::json::parse(test::read_file(dir + "/config.json"));
    cfg["intermediate_size"] = 640;
    test::write_file(dir + "/config.json", cfg.dump());
    auto m = load_model(dir, LoadOptions{"cpu"});
    REQUIRE(!m.ok());
    CHECK_THAT(m.message(), Catch::Contains("blk.0.ffn_gate.weight") && Catch::Contains("hyper-parameters need"));
  }
  SECTION("an unknown architecture and malformed JSON") {
    const std::string dir = copy_hf("tiny-llama");
    test::write_file(dir + "/config.json", R"({"model_type": "falcon"})");
    CHECK_THAT(convert_error(dir, out), Catch::Contains("config.json") && Catch::Contains("unknown architecture 'falcon'"));
    test::write_file(dir + "/config.json", R"({"model_type": )");
    CHECK_THAT(convert_error(dir, out), Catch::Contains("config.json") && Catch::Contains("malformed JSON"));
  }
  CHECK(!exists(out));
}

TEST_CASE("an embedding padded beyond the tokenizer loads (Qwen checkpoints pad their vocabulary)", "[convert]") {
  const std::string dir = copy_hf("tiny-qwen2");
  nlohmann::ordered_json tj = nlohmann::ordered_json::parse(test::read_file(dir + "/tokenizer.json"));
  auto& added = tj["added_tokens"];
  for (size_t i = 0; i < added.size(); ++i)
    if (added[i]["id"] == 1023) added.erase(i);
  test::write_file(dir + "/tokenizer.json", tj.dump());
  auto m = load_model(dir, LoadOptions{"cpu"});
  INFO((m ? "" : m.message()));
  REQUIRE(m.ok());
  CHECK((*m)->tokenizer().vocab_size() == 1024);
  CHECK((*m)->tokenizer().token_to_bytes(1023).empty());
  CHECK((*m)->tokenizer().encode("<|im_end|>", false).size() > 1);  // plain text now
}
