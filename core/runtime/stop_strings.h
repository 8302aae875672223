// Stop strings: generation ends where the text first contains one of them,
// and nothing from the stop string on reaches the user. Text that may be the
// start of a stop string is held back until it is not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace edgerun {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Returns the text that is safe to pass on; after a match, stopped() is true
  // and the text up to the stop string has been returned.
  std::string feed(std::string_view text);
  std::string flush();  // the held-back text, at the end of generation
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace edgerun
