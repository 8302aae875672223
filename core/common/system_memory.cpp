#include "common/system_memory.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace edgerun {

namespace {

// The first number in a file ("max" and the like read as none).
bool read_number(const std::string& path, uint64_t& out) {
  std::ifstream f(path);
  std::string s;
  if (!(f >> s) || s.empty() || s[0] < '0' || s[0] > '9') return false;
  out = std::stoull(s);
  return true;
}

uint64_t mem_available() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (f >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

// Room under a cgroup's limit, from the process's own cgroup paths.
uint64_t cgroup_room() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  uint64_t room = UINT64_MAX;
  while (std::getline(f, line)) {
    // "0::/path" (v2) or "4:memory:/path" (v1).
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    uint64_t limit = 0, usage = 0;
    if (controllers.empty()) {
      for (const std::string base : {"/sys/fs/cgroup" + path, std::string("/sys/fs/cgroup")})
        if (read_number(base + "/memory.max", limit) && read_number(base + "/memory.current", usage)) break;
    } else if (controllers.find("memory") != std::string::npos) {
      for (const std::string base : {"/sys/fs/cgroup/memory" + path, std::string("/sys/fs/cgroup/memory")})
        if (read_number(base + "/memory.limit_in_bytes", limit) && read_number(base + "/memory.usage_in_bytes", usage)) break;
    }
    if (limit > 0 && limit < (uint64_t{1} << 62)) room = std::min(room, limit > usage ? limit - usage : 0);
  }
  return room;
}

}  // namespace

uint64_t available_memory_bytes() {
  const uint64_t avail = mem_available(), room = cgroup_room();
  if (avail == 0) return room == UINT64_MAX ? 0 : room;
  return std::min(avail, room);
}

}  // namespace edgerun
