#include "tokenizer/hf_json.h"

#include "common/error.h"
#include "common/json_input.h"

namespace edgerun {

namespace {

using json = nlohmann::json;

class Handler : public nlohmann::json_sax<json> {
 public:
  explicit Handler(TokenizerJson& out) : out_(out) {}

  bool null() override { return value(json()); }
  bool boolean(bool v) override { return value(v); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::Vocab) return vocab_value(v);
    return value(v);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::Vocab) return vocab_value(static_cast<int64_t>(v));
    return value(v);
  }
  bool number_float(number_float_t v, const string_t&) override {
    if (mode_ == Mode::Vocab) return bad("model.vocab ids must be integers");
    return value(v);
  }
  bool string(string_t& v) override {
    if (mode_ == Mode::Merges) {
      const size_t sp = v.find(' ', 1);
      if (sp == std::string::npos) return bad("malformed merge '" + v + "' in model.merges");
      out_.merges.emplace_back(v.substr(0, sp), v.substr(sp + 1));
      return true;
    }
    if (mode_ == Mode::MergePair) {
      pair_.push_back(std::move(v));
      return true;
    }
    if (mode_ == Mode::Vocab) return bad("model.vocab ids must be integers");
    return value(std::move(v));
  }
  bool binary(binary_t&) override { return bad("binary values are not JSON"); }

  bool start_object(std::size_t) override {
    if (mode_ != Mode::Tree) return bad("unexpected object inside model.vocab or model.merges");
    if (at_model_key("vocab")) {
      mode_ = Mode::Vocab;
      out_.has_vocab = true;
      return true;
    }
    return open(json::object());
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::Vocab) {
      vocab_key_ = std::move(k);
      return true;
    }
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::Vocab) {
      mode_ = Mode::Tree;
      return true;
    }
    return close();
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::Merges) {
      mode_ = Mode::MergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::Tree) return bad("unexpected array in model.vocab or model.merges");
    if (at_model_key("merges")) {
      mode_ = Mode::Merges;
      out_.has_merges = true;
      return true;
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::MergePair) {
      if (pair_.size() != 2) return bad("a merge in model.merges should be a pair of strings");
      out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      mode_ = Mode::Merges;
      return true;
    }
    if (mode_ == Mode::Merges) {
      mode_ = Mode::Tree;
      return true;
    }
    return close();
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = std::string("malformed JSON at byte ") + std::to_string(pos) + ": " + e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  enum class Mode { Tree, Vocab, Merges, MergePair };

  // True when the value about to open sits at model.<name> of the root object.
  bool at_model_key(const char* name) const {
    return stack_.size() == 2 && key_ == name && path_.size() == 2 && path_[1] == "model";
  }
  bool value(json v) {
    if (stack_.empty()) {
      out_.rest = std::move(v);
      return true;
    }
    json& top = *stack_.back();
    if (top.is_object()) top[key_] = std::move(v);
    else top.push_back(std::move(v));
    return true;
  }
  bool open(json v) {
    // Values nested without end would exhaust the stack when copied or walked later.
    if (stack_.size() >= static_cast<size_t>(kMaxJsonDepth))
      return bad("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    if (stack_.empty()) {
      out_.rest = std::move(v);
      stack_.push_back(&out_.rest);
      path_.push_back("");
      return true;
    }
    json& top = *stack_.back();
    json* child;
    if (top.is_object()) {
      top[key_] = std::move(v);
      child = &top[key_];
      path_.push_back(key_);
    } else {
      top.push_back(std::move(v));
      child = &top.back();
      path_.push_back("[]");
    }
    stack_.push_back(child);
    return true;
  }
  bool close() {
    stack_.pop_back();
    path_.pop_back();
    return true;
  }
  bool vocab_value(int64_t id) {
    out_.vocab.emplace_back(std::move(vocab_key_), id);
    return true;
  }
  bool bad(const std::string& msg) {
    error_ = msg;
    return false;
  }

  TokenizerJson& out_;
  Mode mode_ = Mode::Tree;
  std::vector<json*> stack_;
  std::vector<std::string> path_;
  std::string key_, vocab_key_, error_;
  std::vector<std::string> pair_;
};

}  // namespace

TokenizerJson read_tokenizer_json(const std::string& where, const char* text, size_t size) {
  TokenizerJson out;
  out.vocab.reserve(size / 24);
  out.merges.reserve(size / 24);
  Handler h(out);
  const bool ok = json::sax_parse(text, text + size, &h);
  if (!ok) fail(where, h.error().empty() ? "malformed JSON" : h.error());
  return out;
}

}  // namespace edgerun
