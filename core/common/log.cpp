#include "common/log.h"

#include <atomic>
#include <mutex>

namespace edgerun {

namespace {
// The sink and its argument change together, under the lock; messages are rare.
std::mutex g_mutex;
LogSink g_sink = nullptr;
void* g_user = nullptr;
}  // namespace

void set_log_sink(LogSink sink, void* user) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sink = sink;
  g_user = user;
}

void log_message(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) g_sink(level, message.c_str(), g_user);
}

}  // namespace edgerun
