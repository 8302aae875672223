// UTF-8 helpers. Invalid input follows one documented rule everywhere: each
// maximal invalid subsequence becomes U+FFFD (Unicode's "substitution of
// maximal subparts", what Python's decode(errors="replace") does, so text
// arrives at the tokenizer as Hugging Face would have seen it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace edgerun::utf8 {

// Length of a valid sequence starting at s[i], or 0 if the bytes there are not
// a valid UTF-8 sequence. *consumed gets the length of the maximal subpart to
// replace when invalid (at least 1).
size_t valid_len(std::string_view s, size_t i, size_t* consumed = nullptr);

bool is_valid(std::string_view s);
std::string sanitize(std::string_view s);  // invalid subsequences -> U+FFFD
void append(std::string& out, uint32_t cp);
// Decodes the code point at s[i] (s must be valid there) and advances i.
uint32_t next(std::string_view s, size_t& i);
// How many bytes at the end of s form an incomplete (but so far valid) sequence.
size_t incomplete_tail(std::string_view s);

}  // namespace edgerun::utf8
