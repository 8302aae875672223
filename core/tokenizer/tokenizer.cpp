#include "tokenizer/tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <queue>

#include "common/error.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace edgerun {

namespace {
const char* kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (size_t at; (at = s.find(from, i)) != std::string_view::npos; i = at + from.size()) {
    out.append(s.substr(i, at - i));
    out.append(to);
  }
  out.append(s.substr(i));
  return out;
}

std::string nfc(std::string_view s) {
  UErrorCode st = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(st);
  if (U_FAILURE(st)) fail("tokenizer", "ICU NFC normalizer unavailable");
  const icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  if (n->isNormalized(u, st)) return std::string(s);
  st = U_ZERO_ERROR;
  icu::UnicodeString out = n->normalize(u, st);
  std::string r;
  out.toUTF8String(r);
  return r;
}
}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

int32_t Tokenizer::find(std::string_view token) const {
  return index_.find(token);
}

bool Tokenizer::is_eog(int32_t id) const { return std::find(eog_.begin(), eog_.end(), id) != eog_.end(); }

void Tokenizer::finish() {
  std::vector<bool> include(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) include[i] = types_[i] != TokenType::Unused || !tokens_[i].empty();
  index_.build(tokens_, include);  // the first id wins when a text repeats
  // Byte <-> code point map of byte-level BPE (GPT-2's bytes_to_unicode):
  // printable bytes stand for themselves, the rest move to U+0100 and up.
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byte_to_cp_[b] = static_cast<uint16_t>(printable ? b : next++);
    if (cp_to_byte_.size() <= byte_to_cp_[b]) cp_to_byte_.resize(byte_to_cp_[b] + 1, -1);
    cp_to_byte_[byte_to_cp_[b]] = static_cast<int16_t>(b);
  }
  byte_tokens_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    std::string key;
    if (kind_ == Kind::ByteLevel) {
      utf8::append(key, byte_to_cp_[b]);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      key = buf;
    }
    byte_tokens_[b] = find(key);
  }
  for (auto& v : specials_) v.clear();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const TokenType t = types_[i];
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) && !tokens_[i].empty())
      specials_[static_cast<uint8_t>(tokens_[i][0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& v : specials_)
    std::stable_sort(v.begin(), v.end(), [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); });
}

bool Tokenizer::merge_of(int32_t a, int32_t b, double* rank, int32_t* result) const {
  if (!merges_.empty()) {
    const MergeTable::Merge* m = merges_.find(a, b);
    if (!m) return false;
    *rank = m->rank;
    *result = m->result;
    return true;
  }
  // SentencePiece vocabularies merge by score: a pair merges when the joined
  // text is a token, best-scoring first.
  const int32_t id = find(tokens_[a] + tokens_[b]);
  if (id < 0) return false;
  *rank = scores_.empty() ? 0.0 : -static_cast<double>(scores_[id]);  // higher score first
  *result = id;
  return true;
}

void Tokenizer::bpe(const std::vector<int32_t>& symbols, std::vector<int32_t>& out) const {
  const int n = static_cast<int>(symbols.size());
  if (n <= 1) {
    out.insert(out.end(), symbols.begin(), symbols.end());
    return;
  }
  struct Sym { int32_t id; int prev, next; };
  std::vector<Sym> sym(n);
  for (int i = 0; i < n; ++i) sym[i] = {symbols[i], i - 1, i + 1 < n ? i + 1 : -1};
  struct Cand { double rank; int left; int32_t a, b, result; };
  auto worse = [](const Cand& x, const Cand& y) { return x.rank > y.rank || (x.rank == y.rank && x.left > y.left); };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> q(worse);
  auto consider = [&](int left) {
    if (left < 0) return;
    const int right = sym[left].next;
    if (right < 0) return;
    double rank;
    int32_t res;
    if (merge_of(sym[left].id, sym[right].id, &rank, &res)) q.push({rank, left, sym[left].id, sym[right].id, res});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!q.empty()) {
    const Cand c = q.top();
    q.pop();
    Sym& l = sym[c.left];
    if (l.id != c.a || l.next < 0 || sym[l.next].id != c.b) continue;  // stale
    const int r = l.next;
    l.id = c.result;
    l.next = sym[r].next;
    if (l.next >= 0) sym[l.next].prev = c.left;
    sym[r].id = -1;
    consider(l.prev);
    consider(c.left);
  }
  for (int i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

void Tokenizer::encode_segment(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<int32_t> symbols;
  if (kind_ == Kind::SentencePiece) {
    std::string s = (add_space_prefix_ && after_special ? std::string(" ") : std::string()) + std::string(text);
    s = replace_all(s, " ", kSpace);
    for (size_t i = 0; i < s.size();) {
      const size_t len = utf8::valid_len(s, i);
      const int32_t id = find(std::string_view(s).substr(i, len));
      if (id >= 0) {
        symbols.push_back(id);
      } else {
        bool bytes_ok = byte_fallback_;
        for (size_t k = 0; k < len && bytes_ok; ++k) bytes_ok = byte_tokens_[static_cast<uint8_t>(s[i + k])] >= 0;
        if (bytes_ok) {
          for (size_t k = 0; k < len; ++k) symbols.push_back(byte_tokens_[static_cast<uint8_t>(s[i + k])]);
        } else if (unk_ >= 0) {
          symbols.push_back(unk_);
        } else {
          fail("tokenizer", "character has no token, no byte fallback and no <unk>");
        }
      }
      i += len;
    }
    bpe(symbols, out);
    return;
  }
  const std::string normalized = nfc_ ? nfc(text) : std::string(text);
  std::vector<std::string> pieces = pre_ ? pre_->split(normalized) : std::vector<std::string>{normalized};
  std::string mapped;
  for (const std::string& piece : pieces) {
    if (ignore_merges_) {
      mapped.clear();
      for (unsigned char c : piece) utf8::append(mapped, byte_to_cp_[c]);
      const int32_t id = find(mapped);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    symbols.clear();
    for (unsigned char c : piece) {
      const int32_t id = byte_tokens_[c];
      if (id < 0) fail("tokenizer", "vocabulary has no token for byte " + std::to_string(c));
      symbols.push_back(id);
    }
    bpe(symbols, out);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw, bool add_special) const {
  // Far beyond any context, and the bound on what one call may allocate
  // (the regex engine works on a UTF-16 copy).
  if (raw.size() > kMaxEncodeBytes)
    fail("tokenizer", "a text of " + std::to_string(raw.size()) + " bytes is larger than the " + std::to_string(kMaxEncodeBytes >> 20) +
                          " MiB one call takes");
  const std::string text = utf8::sanitize(raw);
  std::vector<int32_t> out;
  if (add_special) out.insert(out.end(), prefix_.begin(), prefix_.end());
  // Split out added/special tokens (leftmost, then longest), then encode the text between them.
  bool after_special = true;
  size_t seg = 0;
  for (size_t i = 0; i < text.size();) {
    int32_t hit = -1;
    for (int32_t id : specials_[static_cast<uint8_t>(text[i])]) {
      const std::string& t = tokens_[id];
      if (text.compare(i, t.size(), t) == 0) { hit = id; break; }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    encode_segment(std::string_view(text).substr(seg, i - seg), after_special || seg == 0, out);
    out.push_back(hit);
    after_special = true;
    i += tokens_[hit].size();
    seg = i;
  }
  if (seg < text.size()) encode_segment(std::string_view(text).substr(seg), after_special, out);
  if (add_special) out.insert(out.end(), suffix_.begin(), suffix_.end());
  return out;
}

std::string Tokenizer::token_to_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) fail("tokenizer", "token id " + std::to_string(id) + " is outside the vocabulary");
  const std::string& t = tokens_[id];
  const TokenType type = types_[id];
  if (type == TokenType::Control || type == TokenType::UserDefined || type == TokenType::Unknown) return t;
  if (kind_ == Kind::SentencePiece) {
    if (type == TokenType::Byte && t.size() == 6) {  // <0xNN>, checked when loaded
      auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
      return std::string(1, static_cast<char>(nibble(t[3]) * 16 + nibble(t[4])));
    }
    return replace_all(t, kSpace, " ");
  }
  std::string out;
  for (size_t i = 0; i < t.size();) {
    const size_t start = i;
    const uint32_t cp = utf8::next(t, i);
    if (cp < cp_to_byte_.size() && cp_to_byte_[cp] >= 0) out += static_cast<char>(cp_to_byte_[cp]);
    else out.append(t, start, i - start);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) out += token_to_bytes(id);
  // SentencePiece decoders drop the one prefix space they added.
  if (kind_ == Kind::SentencePiece && add_space_prefix_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return utf8::sanitize(out);
}

std::string StreamDecoder::feed(int32_t id) {
  pending_ += tok_.token_to_bytes(id);
  const size_t hold = utf8::incomplete_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return utf8::sanitize(ready);
}

std::string StreamDecoder::flush() {
  std::string r = utf8::sanitize(pending_);
  pending_.clear();
  return r;
}

}  // namespace edgerun
