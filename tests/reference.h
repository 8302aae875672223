// A fixture model's llama.cpp reference (../shared/fixtures/models/README.md):
// prompt ids, greedy continuation and logits; and loading a model that must load.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgerun.hpp"
#include "helpers.h"

namespace test {

struct Reference {
  std::vector<int32_t> input_ids, greedy_ids;
  int n_vocab = 0;
  std::vector<float> logits;
};

// dir/reference/<stem>.json and .logits.f32.
inline Reference load_reference(const std::string& dir, const std::string& stem) {
  Reference r;
  const auto j = nlohmann::json::parse(read_file(dir + "/reference/" + stem + ".json"));
  r.input_ids = j["input_ids"].get<std::vector<int32_t>>();
  r.greedy_ids = j["greedy_ids"].get<std::vector<int32_t>>();
  r.n_vocab = j["n_vocab"];
  r.logits = read_floats(dir + "/reference/" + stem + ".logits.f32");
  return r;
}

// The model on the cpu backend; the test stops with the message if it does not load.
inline std::unique_ptr<edgerun::Model> load_on_cpu(const std::string& path) {
  auto m = edgerun::load_model(path, edgerun::LoadOptions{"cpu"});
  INFO(path << ": " << (m ? "" : m.message()));
  REQUIRE(m.ok());
  return std::move(*m);
}

}  // namespace test
