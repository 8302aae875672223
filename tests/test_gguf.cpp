// GGUF reading and every kind of damaged or wrong model file.
#include <catch2/catch.hpp>

#include "edgerun.hpp"
#include "formats/gguf.h"
#include "gguf_writer.h"
#include "helpers.h"

using namespace edgerun;

namespace {

// Writes `bytes` to a temporary .gguf and tries to load it as a model.
std::string load_error(const std::string& bytes, std::string* path_out = nullptr) {
  const std::string p = test::temp_path("model.gguf");
  test::write_file(p, bytes);
  if (path_out) *path_out = p;
  auto m = load_model(p, LoadOptions{"cpu"});
  std::remove(p.c_str());
  return m ? std::string() : m.message();
}

test::GGUFEdit stories() {
  return test::GGUFEdit::from(GGUFFile::open(test::stories_gguf()));
}

}  // namespace

TEST_CASE("GGUF metadata and tensor infos are read", "[gguf]") {
  auto g = GGUFFile::open(test::stories_gguf());
  CHECK(g->version() == 3);
  CHECK(g->get_string("general.architecture") == "llama");
  CHECK(g->get_uint("llama.block_count") == 5);
  CHECK(g->get_float("llama.attention.layer_norm_rms_epsilon") == Approx(1e-5));
  CHECK(g->get_string_array("tokenizer.ggml.tokens").size() == 512);
  CHECK(g->tensors().size() == 48);
  const TensorInfo* t = g->find_tensor("blk.0.attn_q.weight");
  REQUIRE(t);
  CHECK(t->shape == std::vector<int64_t>{64, 64});
  CHECK(t->type == DType::F32);
  CHECK(t->nbytes == 64 * 64 * 4);
  REQUIRE_THROWS_WITH(g->get_uint("no.such.key"), Catch::Contains("missing metadata key 'no.such.key'"));
  REQUIRE_THROWS_WITH(g->get_uint("general.architecture"), Catch::Contains("should be an integer"));
}

TEST_CASE("the test GGUF writer round-trips a real model", "[gguf]") {
  std::string p;
  CHECK(load_error(stories().bytes(), &p).empty());
}

TEST_CASE("damaged GGUF files give one clear error each", "[gguf]") {
  const std::string good = test::read_file(test::stories_gguf());
  std::string p;

  SECTION("truncated file") {
    for (size_t len : {size_t(0), size_t(3), size_t(10), size_t(200), good.size() / 2, good.size() - 1}) {
      const std::string msg = load_error(good.substr(0, len), &p);
      INFO("length " << len << ": " << msg);
      CHECK(msg.find(p) == 0);
      CHECK((msg.find("truncated") != std::string::npos || msg.find("past the end") != std::string::npos ||
             msg.find("wrong magic") != std::string::npos));
    }
  }
  SECTION("wrong magic") {
    std::string bad = good;
    bad[0] = 'X';
    CHECK_THAT(load_error(bad), Catch::Contains("not a GGUF file (wrong magic"));
  }
  SECTION("unsupported version") {
    std::string bad = good;
    bad[4] = 9;
    CHECK_THAT(load_error(bad), Catch::Contains("unsupported GGUF version 9"));
  }
  SECTION("absurd counts") {
    std::string bad = good;
    for (int i = 8; i < 16; ++i) bad[i] = '\x7f';
    CHECK_THAT(load_error(bad), Catch::Contains("header corrupt"));
  }
  SECTION("tensor data past the end of the file") {
    auto e = stories();
    std::string bytes = e.bytes();
    bytes.resize(bytes.size() - 4096);
    CHECK_THAT(load_error(bytes), Catch::Contains("lies past the end of the file"));
  }
  SECTION("a missing tensor") {
    auto e = stories();
    e.drop_tensor("blk.3.ffn_up.weight");
    CHECK_THAT(load_error(e.bytes()), Catch::Contains("missing tensor 'blk.3.ffn_up.weight'"));
  }
  SECTION("an unknown architecture") {
    auto e = stories();
    e.set_string("general.architecture", "mamba9");
    CHECK_THAT(load_error(e.bytes()), Catch::Contains("unknown architecture 'mamba9' in 'general.architecture'"));
  }
  SECTION("a tensor shape that does not fit the hyper-parameters") {
    auto e = stories();
    e.tensor("blk.1.attn_k.weight")->shape = {32, 64};
    e.tensor("blk.1.attn_k.weight")->data.resize(32 * 64 * 4);
    CHECK_THAT(load_error(e.bytes()), Catch::Contains("tensor 'blk.1.attn_k.weight' has shape [32, 64] but the hyper-parameters need [64, 32]"));
  }
  SECTION("hyper-parameters that contradict each other") {
    auto e = stories();
    e.set_uint32("llama.attention.head_count_kv", 3);
    CHECK_THAT(load_error(e.bytes()), Catch::Contains("not a multiple of 'attention.head_count_kv'"));
  }
  SECTION("a RoPE scaling this build does not implement") {
    auto e = stories();
    e.kv.push_back({"llama.rope.scaling.type", {}, "yarn", {}});
    e.kv.back().value.type = GGUFType::STRING;
    CHECK_THAT(load_error(e.bytes()), Catch::Contains("unsupported RoPE scaling 'yarn' in 'llama.rope.scaling.type'"));
  }
  SECTION("an unknown tensor type") {
    auto e = stories();
    std::string bytes = e.bytes();
    // The first tensor info's type field follows its name and shape.
    const std::string name = e.tensors[0].name;
    const size_t at = bytes.find(name) + name.size() + 4 + 8 * e.tensors[0].shape.size();
    bytes[at] = 99;
    CHECK_THAT(load_error(bytes), Catch::Contains("tensor '" + name + "' has unknown tensor type id 99"));
    // One of GGUF's types this build does not run: named, with what it does run.
    bytes[at] = 16;
    const std::string err = load_error(bytes);
    CHECK_THAT(err, Catch::Contains("tensor '" + name + "' has type iq2_xxs (GGUF type 16), which edgerun does not run"));
    CHECK_THAT(err, Catch::Contains("q4_k") && Catch::Contains("iq4_xs"));
  }
  SECTION("a missing file") {
    auto m = load_model("/nonexistent/model.gguf", LoadOptions{"cpu"});
    REQUIRE(!m.ok());
    CHECK_THAT(m.message(), Catch::Contains("/nonexistent/model.gguf: cannot open"));
  }
}
