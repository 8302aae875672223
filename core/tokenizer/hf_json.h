// Reading a Hugging Face tokenizer.json. The vocabulary and merges (hundreds
// of thousands of entries) are streamed straight into flat vectors through
// nlohmann's SAX interface; everything else becomes an ordinary JSON tree.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace edgerun {

struct TokenizerJson {
  nlohmann::json rest;  // the file without model.vocab and model.merges
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  bool has_vocab = false, has_merges = false;
};

// Parses text[0..size); throws Error("<where>: malformed JSON ...") on a syntax error.
TokenizerJson read_tokenizer_json(const std::string& where, const char* text, size_t size);

}  // namespace edgerun
