// The library's messages (a backend not used, layers that did not fit) go to
// one process-wide sink that the app sets; the library itself never prints.
#pragma once

#include <string>

namespace edgerun {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };
using LogSink = void (*)(LogLevel level, const char* message, void* user);

// nullptr (the default) drops every message.
void set_log_sink(LogSink sink, void* user);
void log_message(LogLevel level, const std::string& message);

}  // namespace edgerun
