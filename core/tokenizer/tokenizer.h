// Text <-> token ids, exactly as the model's own (Hugging Face) tokenizer.
//
// Two algorithms cover the models we run:
//  - byte-level BPE (GPT-2 style: Qwen2/2.5/3, Llama 3, DeepSeek): regex
//    pre-tokenization, bytes mapped to printable characters, merges by rank;
//  - SentencePiece-style BPE (Llama 2, Mistral, stories260K): spaces as U+2581,
//    a prefix space, merges by score or rank, byte fallback <0xNN>.
// Both load from GGUF metadata (tokenizer.ggml.*) or a tokenizer.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/flat_map.h"

namespace edgerun {

class Metadata;
class PreTokenizer;

// Token attributes, with GGUF's token_type numbering.
enum class TokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

class Tokenizer {
 public:
  enum class Kind { SentencePiece, ByteLevel };

  // From GGUF-style keys (tokenizer.ggml.*), from a GGUF file or an .erm.
  static std::unique_ptr<Tokenizer> from_metadata(const Metadata& meta);
  // tokenizer.json, with tokenizer_config.json beside it when present.
  static std::unique_ptr<Tokenizer> from_hf_file(const std::string& tokenizer_json_path);
  // The same from the files' text; `where` names them in errors.
  static std::unique_ptr<Tokenizer> from_hf_text(const std::string& where, const std::string& tokenizer_json,
                                                 const std::string& config_json);
  ~Tokenizer();

  // The largest text encode() takes; longer ones are an error.
  static constexpr size_t kMaxEncodeBytes = 64u << 20;

  // Invalid UTF-8 in `text` is replaced with U+FFFD first. Added/special
  // tokens written in the text are recognised. add_special adds what the
  // model's post-processor adds (BOS for Llama, nothing for Qwen).
  std::vector<int32_t> encode(std::string_view text, bool add_special) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  // The bytes one token stands for when printed after other tokens.
  std::string token_to_bytes(int32_t id) const;

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  const std::string& token_text(int32_t id) const { return tokens_.at(id); }
  TokenType token_type(int32_t id) const { return types_.at(id); }
  Kind kind() const { return kind_; }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  bool add_bos() const { return !prefix_.empty() && prefix_[0] == bos_; }
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const { return eog_; }
  // Declares one more end-of-generation token (e.g. from generation_config.json).
  void add_end_of_generation(int32_t id);
  // Grows the vocabulary to n ids with unused, empty tokens (padding rows of
  // a model's embedding that no text maps to).
  void pad_to(int n);
  const std::string& chat_template() const { return chat_template_; }
  // -1 when absent.
  int32_t find(std::string_view token) const;

 private:
  friend struct TokenizerBuilder;
  Tokenizer();

  void finish();  // builds lookup tables once everything is set
  void encode_segment(std::string_view text, bool after_special, std::vector<int32_t>& out) const;
  void bpe(const std::vector<int32_t>& symbols, std::vector<int32_t>& out) const;
  bool merge_of(int32_t a, int32_t b, double* rank, int32_t* result) const;

  Kind kind_ = Kind::ByteLevel;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  TokenIndex index_;
  MergeTable merges_;  // empty: SentencePiece vocabularies merge by score instead
  std::vector<int32_t> specials_[256];  // tokens matched verbatim in text, by first byte, longest first
  std::unique_ptr<PreTokenizer> pre_;
  bool nfc_ = false;
  bool ignore_merges_ = false;
  bool byte_fallback_ = true;
  bool add_space_prefix_ = true;
  std::vector<int32_t> prefix_, suffix_;  // what add_special puts around the text
  int32_t bos_ = -1, eos_ = -1, unk_ = -1;
  std::vector<int32_t> eog_;
  std::vector<int32_t> byte_tokens_;   // id for each byte: <0xNN> (SentencePiece) or its mapped char (byte-level)
  uint16_t byte_to_cp_[256] = {};      // byte-level mapping of bytes to code points
  std::vector<int16_t> cp_to_byte_;    // inverse of byte_to_cp_ (-1: not a byte)
  std::string chat_template_;
};

// Decodes a stream of tokens into text without ever splitting a UTF-8
// character: bytes of an incomplete character are held until it completes.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
  std::string feed(int32_t id);
  std::string flush();  // whatever is left (an incomplete tail becomes U+FFFD)

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace edgerun
