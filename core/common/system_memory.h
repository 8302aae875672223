// How much memory this process may still take: the system's available memory,
// or less where a control group limits it.
#pragma once

#include <cstdint>

namespace edgerun {

// Bytes: the smaller of /proc/meminfo's MemAvailable and the room left under
// the process's memory cgroup limit (v2 memory.max or v1 limit_in_bytes);
// 0 when none of them can be read.
uint64_t available_memory_bytes();

}  // namespace edgerun
