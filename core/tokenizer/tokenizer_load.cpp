// Building a Tokenizer from GGUF metadata or from Hugging Face files.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "common/json_input.h"
#include "common/mapped_file.h"
#include "formats/metadata.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace edgerun {

namespace {

using json = nlohmann::json;

// Tokens that end a turn in the chat formats we know, beyond the declared EOS:
// a missed one makes generation run on forever.
const char* kEndOfTurn[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|eom_id|>", "<|endoftext|>",
                            "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "<|end_of_text|>", "<EOT>"};


json parse_json_text(const std::string& path, const std::string& text) { return parse_json_input(path, text); }

// SentencePiece byte tokens are written <0xNN>.
bool is_byte_token_text(const std::string& s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

// A token string from tokenizer_config.json: either "..." or {"content": "..."}.
std::string token_string(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

}  // namespace

struct TokenizerBuilder {
  static void add_eog_heuristics(Tokenizer& t) {
    auto add = [&](int32_t id) {
      if (id >= 0 && !t.is_eog(id)) t.eog_.push_back(id);
    };
    add(t.eos_);
    for (const char* s : kEndOfTurn) {
      const int32_t id = t.find(s);
      if (id >= 0 && (t.types_[id] == TokenType::Control || t.types_[id] == TokenType::UserDefined)) add(id);
    }
  }

  static std::unique_ptr<Tokenizer> from_metadata(const Metadata& g) {
    std::unique_ptr<Tokenizer> t(new Tokenizer());
    const std::string& path = g.where();
    const std::string model = g.get_string("tokenizer.ggml.model");
    if (model == "llama") t->kind_ = Tokenizer::Kind::SentencePiece;
    else if (model == "gpt2") t->kind_ = Tokenizer::Kind::ByteLevel;
    else fail(path, "unsupported tokenizer '" + model + "' in 'tokenizer.ggml.model' (supported: llama, gpt2)");

    const auto& toks = g.get_string_array("tokenizer.ggml.tokens");
    const size_t n = toks.size();
    if (n == 0) fail(path, "metadata 'tokenizer.ggml.tokens' is empty");
    t->tokens_.reserve(n);
    for (auto s : toks) t->tokens_.emplace_back(s);
    t->types_.assign(n, TokenType::Normal);
    if (g.has("tokenizer.ggml.token_type")) {
      const auto types = g.get_int_array("tokenizer.ggml.token_type");
      if (types.size() != n) fail(path, "metadata 'tokenizer.ggml.token_type' has " + std::to_string(types.size()) + " entries for " + std::to_string(n) + " tokens");
      for (size_t i = 0; i < n; ++i) {
        // GGUF's numbering: 0 (undefined) is read as normal, beyond 6 is damage.
        if (types[i] < 0 || types[i] > static_cast<int32_t>(TokenType::Byte))
          fail(path, "metadata 'tokenizer.ggml.token_type' gives token " + std::to_string(i) + " the unknown type " + std::to_string(types[i]));
        t->types_[i] = types[i] == 0 ? TokenType::Normal : static_cast<TokenType>(types[i]);
      }
      for (size_t i = 0; i < n; ++i)
        if (t->types_[i] == TokenType::Byte && !is_byte_token_text(t->tokens_[i]))
          fail(path, "metadata 'tokenizer.ggml.token_type' marks token " + std::to_string(i) + " as a byte, but its text '" +
                         t->tokens_[i].substr(0, 32) + "' is not <0xNN>");
    }
    if (g.has("tokenizer.ggml.scores")) {
      t->scores_ = g.get_float_array("tokenizer.ggml.scores");
      if (t->scores_.size() != n) fail(path, "metadata 'tokenizer.ggml.scores' has the wrong length");
    }
    auto id_key = [&](const char* key) -> int32_t {
      if (!g.has(key)) return -1;
      const uint64_t v = g.get_uint(key);
      if (v >= n) fail(path, std::string("metadata '") + key + "' = " + std::to_string(v) + " is outside the vocabulary");
      return static_cast<int32_t>(v);
    };
    t->bos_ = id_key("tokenizer.ggml.bos_token_id");
    t->eos_ = id_key("tokenizer.ggml.eos_token_id");
    t->unk_ = id_key("tokenizer.ggml.unknown_token_id");
    const bool spm = t->kind_ == Tokenizer::Kind::SentencePiece;
    // llama.cpp's defaults: SentencePiece vocabularies add BOS unless told not to.
    if (g.get_bool("tokenizer.ggml.add_bos_token", spm) && t->bos_ >= 0) t->prefix_.push_back(t->bos_);
    if (g.get_bool("tokenizer.ggml.add_eos_token", false) && t->eos_ >= 0) t->suffix_.push_back(t->eos_);
    t->add_space_prefix_ = g.get_bool("tokenizer.ggml.add_space_prefix", spm);
    t->chat_template_ = g.get_string("tokenizer.chat_template", "");

    t->finish();
    if (!spm) {
      const std::string pre = g.get_string("tokenizer.ggml.pre", "default");
      const auto patterns = PreTokenizer::patterns_for(pre);
      if (patterns.empty()) fail(path, "unknown pre-tokenizer '" + pre + "' in 'tokenizer.ggml.pre'");
      t->pre_ = std::make_unique<PreTokenizer>(patterns, path);
      t->ignore_merges_ = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
      t->nfc_ = pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "qwen35";
      const auto& merges = g.get_string_array("tokenizer.ggml.merges");
      t->merges_.reserve(merges.size());
      for (size_t r = 0; r < merges.size(); ++r) add_merge(*t, merges[r], static_cast<int32_t>(r), path);
    }
    for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
      const int32_t id = id_key(key);
      if (id >= 0) t->eog_.push_back(id);
    }
    add_eog_heuristics(*t);
    return t;
  }

  static void add_merge(Tokenizer& t, std::string_view m, int32_t rank, const std::string& where) {
    // "left right", split at the one space that is not inside either part.
    const size_t sp = m.find(' ', 1);
    if (sp == std::string_view::npos) fail(where, "malformed merge '" + std::string(m) + "'");
    add_merge_pair(t, m.substr(0, sp), m.substr(sp + 1), rank, where);
  }

  static void add_merge_pair(Tokenizer& t, std::string_view a, std::string_view b, int32_t rank, const std::string& where) {
    const int32_t ia = t.find(a), ib = t.find(b);
    thread_local std::string joined;
    joined.assign(a);
    joined += b;
    const int32_t ir = t.find(joined);
    if (ia < 0 || ib < 0 || ir < 0) fail(where, "merge '" + std::string(a) + " " + std::string(b) + "' refers to tokens not in the vocabulary");
    t.merges_.insert(ia, ib, {rank, ir});
  }

  // Sequences of normalizers, pre-tokenizers and post-processors nest: their
  // depth is the file's to choose, so it is bounded.
  static constexpr int kMaxSectionDepth = 32;
  static void check_depth(int depth, const char* section, const std::string& path) {
    if (depth > kMaxSectionDepth)
      fail(path, std::string("'") + section + "' sequences nested deeper than " + std::to_string(kMaxSectionDepth) + " levels");
  }

  static void apply_normalizer(Tokenizer& t, const json& n, const std::string& path, int depth = 0) {
    check_depth(depth, "normalizer", path);
    if (n.is_null()) return;
    const std::string type = n.value("type", "");
    if (type == "Sequence") {
      for (const auto& s : n.at("normalizers")) apply_normalizer(t, s, path, depth + 1);
    } else if (type == "NFC") {
      t.nfc_ = true;
    } else if (type == "Prepend") {
      t.add_space_prefix_ = true;
    } else if (type == "Replace") {
      // Only the SentencePiece space replacement is known.
      if (n.at("content") != "\xE2\x96\x81") fail(path, "unsupported Replace normalizer in 'normalizer'");
    } else {
      fail(path, "unknown normalizer type '" + type + "' in 'normalizer'");
    }
  }

  static void collect_pretokenizers(const json& p, std::vector<std::string>& patterns, bool& byte_level, const std::string& path,
                                    int depth = 0) {
    check_depth(depth, "pre_tokenizer", path);
    if (p.is_null()) return;
    const std::string type = p.value("type", "");
    if (type == "Sequence") {
      for (const auto& s : p.at("pretokenizers")) collect_pretokenizers(s, patterns, byte_level, path, depth + 1);
    } else if (type == "Split") {
      const auto& pat = p.at("pattern");
      if (p.value("behavior", "Isolated") != "Isolated" || p.value("invert", false))
        fail(path, "unsupported Split behaviour in 'pre_tokenizer' (only Isolated is implemented)");
      if (pat.contains("Regex")) patterns.push_back(pat["Regex"].get<std::string>());
      else fail(path, "unsupported Split pattern in 'pre_tokenizer'");
    } else if (type == "ByteLevel") {
      byte_level = true;
      if (p.value("use_regex", true)) patterns.push_back(PreTokenizer::patterns_for("gpt2")[0]);
      if (p.value("add_prefix_space", false)) fail(path, "ByteLevel add_prefix_space is not supported in 'pre_tokenizer'");
    } else if (type == "Digits") {
      patterns.push_back(p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
    } else {
      fail(path, "unknown pre-tokenizer type '" + type + "' in 'pre_tokenizer'");
    }
  }

  static std::unique_ptr<Tokenizer> from_hf(const std::string& path) {
    const MappedFile map(path);  // parsed in place: an 11 MB vocabulary is not copied
    const std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    const std::string cfg_path = dir + "tokenizer_config.json";
    const bool has_cfg = file_exists(cfg_path);
    return from_hf_text(path, reinterpret_cast<const char*>(map.data()), map.size(), has_cfg ? cfg_path : "",
                        has_cfg ? read_file(cfg_path) : "");
  }

  static std::unique_ptr<Tokenizer> from_hf_text(const std::string& path, const char* text, size_t size,
                                                 const std::string& cfg_path, const std::string& cfg_text) {
    TokenizerJson file = read_tokenizer_json(path, text, size);
    const json& j = file.rest;
    std::unique_ptr<Tokenizer> t(new Tokenizer());
    try {
      if (!j.is_object() || !j.contains("model")) fail(path, "no 'model' section: not a tokenizer.json");
      const json& model = j.at("model");
      const std::string mtype = model.value("type", "");
      if (mtype != "BPE") fail(path, "unsupported tokenizer model type '" + mtype + "' in 'model.type' (supported: BPE)");
      if (!file.has_vocab) fail(path, "missing 'model.vocab'");
      const json& added = j.contains("added_tokens") ? j["added_tokens"] : json::array();
      if (!added.is_array()) fail(path, "'added_tokens' must be an array");
      // The table is as long as the largest id, so ids are bounded by the
      // tokens the file gives (vocabularies are dense): a small file cannot
      // make a table of millions.
      const size_t given = file.vocab.size() + added.size();
      const int64_t max_id = static_cast<int64_t>(std::min<size_t>(2 * given + 256, 1u << 24));
      size_t n = 0;
      for (const auto& [text, id] : file.vocab) {
        if (id < 0 || id >= max_id)
          fail(path, "token id " + std::to_string(id) + " in 'model.vocab' is out of range (0 to " + std::to_string(max_id - 1) + " for " +
                         std::to_string(given) + " tokens)");
        n = std::max<size_t>(n, static_cast<size_t>(id) + 1);
      }
      std::vector<size_t> added_ids;
      for (size_t k = 0; k < added.size(); ++k) {
        const json& a = added[k];
        const std::string at = "'added_tokens' entry " + std::to_string(k);
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
          fail(path, at + " must be an object with an integer 'id' and a string 'content'");
        const auto checked = json_integer(a["id"], 0, max_id - 1);
        if (!checked)
          fail(path, at + " has token id " + a["id"].dump() + ", out of range (0 to " + std::to_string(max_id - 1) + ")");
        const int64_t id = *checked;
        added_ids.push_back(static_cast<size_t>(id));
        n = std::max<size_t>(n, static_cast<size_t>(id) + 1);
      }
      t->tokens_.assign(n, "");
      t->types_.assign(n, TokenType::Unused);
      for (auto& [text, id] : file.vocab) {
        t->tokens_[static_cast<size_t>(id)] = std::move(text);
        t->types_[static_cast<size_t>(id)] = TokenType::Normal;
      }
      for (size_t k = 0; k < added.size(); ++k) {
        const json& a = added[k];
        const size_t id = added_ids[k];
        t->tokens_[id] = a["content"].get<std::string>();
        t->types_[id] = a.value("special", false) ? TokenType::Control : TokenType::UserDefined;
      }

      std::vector<std::string> patterns;
      bool byte_level = false;
      t->add_space_prefix_ = false;
      static const json kNone;
      auto section = [&](const char* key) -> const json& { return j.contains(key) ? j[key] : kNone; };
      apply_normalizer(*t, section("normalizer"), path);
      collect_pretokenizers(section("pre_tokenizer"), patterns, byte_level, path);
      const json& dec = section("decoder");
      if (dec.is_object() && dec.value("type", "") == "ByteLevel") byte_level = true;
      t->kind_ = byte_level ? Tokenizer::Kind::ByteLevel : Tokenizer::Kind::SentencePiece;
      t->byte_fallback_ = model.value("byte_fallback", false);
      t->ignore_merges_ = model.value("ignore_merges", false);
      if (t->kind_ == Tokenizer::Kind::SentencePiece) {
        for (size_t i = 0; i < n; ++i) {
          const std::string& s = t->tokens_[i];
          if (t->types_[i] == TokenType::Normal && is_byte_token_text(s)) t->types_[i] = TokenType::Byte;
        }
      }
      t->finish();
      if (!patterns.empty()) t->pre_ = std::make_unique<PreTokenizer>(patterns, path);
      if (model.contains("unk_token") && model["unk_token"].is_string()) t->unk_ = t->find(model["unk_token"].get<std::string>());

      t->merges_.reserve(file.merges.size());
      int32_t rank = 0;
      for (const auto& [a, b] : file.merges) add_merge_pair(*t, a, b, rank++, path);

      apply_post_processor(*t, section("post_processor"), path);
    } catch (const json::exception& e) {
      fail(path, std::string("unexpected tokenizer.json structure: ") + e.what());
    }

    // tokenizer_config.json: BOS/EOS strings, add_bos_token, the chat template.
    if (!cfg_text.empty()) {
      const json cfg = parse_json_text(cfg_path, cfg_text);
      try {
        if (cfg.contains("bos_token")) t->bos_ = t->find(token_string(cfg["bos_token"]));
        if (cfg.contains("eos_token")) t->eos_ = t->find(token_string(cfg["eos_token"]));
        if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) t->chat_template_ = cfg["chat_template"];
        // transformers applies add_bos_token on top of the post-processor.
        if (cfg.value("add_bos_token", false) && t->bos_ >= 0 && (t->prefix_.empty() || t->prefix_[0] != t->bos_))
          t->prefix_.insert(t->prefix_.begin(), t->bos_);
        if (cfg.value("add_eos_token", false) && t->eos_ >= 0 && (t->suffix_.empty() || t->suffix_.back() != t->eos_))
          t->suffix_.push_back(t->eos_);
      } catch (const json::exception& e) {
        fail(cfg_path, std::string("unexpected structure: ") + e.what());
      }
    }
    add_eog_heuristics(*t);
    return t;
  }

  static void apply_post_processor(Tokenizer& t, const json& post, const std::string& path, int depth = 0) {
    check_depth(depth, "post_processor", path);
    if (post.is_null()) return;
    const std::string type = post.value("type", "");
    if (type == "ByteLevel") return;
    if (type == "Sequence") {
      for (const auto& p : post.at("processors")) apply_post_processor(t, p, path, depth + 1);
      return;
    }
    if (type != "TemplateProcessing") fail(path, "unknown post-processor type '" + type + "' in 'post_processor'");
    bool before = true;
    for (const auto& item : post.at("single")) {
      if (item.contains("Sequence")) { before = false; continue; }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const int32_t id = t.find(name);
      if (id < 0) fail(path, "post-processor names unknown token '" + name + "'");
      (before ? t.prefix_ : t.suffix_).push_back(id);
    }
  }
};

std::unique_ptr<Tokenizer> Tokenizer::from_metadata(const Metadata& g) { return TokenizerBuilder::from_metadata(g); }
std::unique_ptr<Tokenizer> Tokenizer::from_hf_file(const std::string& p) { return TokenizerBuilder::from_hf(p); }
std::unique_ptr<Tokenizer> Tokenizer::from_hf_text(const std::string& where, const std::string& tokenizer_json,
                                                   const std::string& config_json) {
  return TokenizerBuilder::from_hf_text(where, tokenizer_json.data(), tokenizer_json.size(), where, config_json);
}
void Tokenizer::pad_to(int n) {
  // tokens_ only grows here and index_ holds ids, not pointers, so it stays valid.
  while (vocab_size() < n) {
    tokens_.emplace_back();
    types_.push_back(TokenType::Unused);
  }
}

void Tokenizer::add_end_of_generation(int32_t id) {
  if (id >= 0 && id < vocab_size() && !is_eog(id)) eog_.push_back(id);
}

}  // namespace edgerun
