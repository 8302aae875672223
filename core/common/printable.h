// Text from a model file shown on a terminal: control characters (escape
// sequences could rewrite the screen or the window title) are shown as \xNN.
#pragma once

#include <string>
#include <string_view>

namespace edgerun {

// C0 controls other than newline and tab, DEL, and the C1 controls (U+0080 to
// U+009F, which some terminals obey) become \xNN / \u00NN.
std::string printable(std::string_view s, bool keep_newlines = true);

}  // namespace edgerun
