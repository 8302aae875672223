#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "fuzz_target.h"

namespace fuzz {

std::map<std::string, Harness>& harnesses() {
  static std::map<std::string, Harness> h;
  return h;
}

bool register_harness(const char* name, Harness h) {
  harnesses()[name] = h;
  return true;
}

const std::string& input_file(const uint8_t* data, size_t size) {
  static int fd = -1;
  static std::string path;
  if (fd < 0) {
    fd = ::memfd_create("edgerun-fuzz-input", MFD_CLOEXEC);
    if (fd < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    std::perror("writing the fuzz input");
    std::abort();
  }
  return path;
}

Parts split(const uint8_t* data, size_t size) {
  Parts p;
  if (size < 2) return p;
  const size_t n = (static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8) % (size - 1);
  p.first.assign(reinterpret_cast<const char*>(data + 2), n);
  p.rest.assign(reinterpret_cast<const char*>(data + 2 + n), size - 2 - n);
  return p;
}

void check_message(const std::string& message) {
  // The library's messages start with the file or the field; a raw
  // exception's text starts with its own words.
  for (const char* raw : {"[json.exception", "stoi", "stol", "stoul", "stod", "basic_string", "vector::", "map::at", "std::"}) {
    if (message.rfind(raw, 0) == 0) {
      std::fprintf(stderr, "an error message that is a raw library exception: %s\n", message.c_str());
      std::abort();
    }
  }
}

std::string fixtures() { return std::string(EDGERUN_SOURCE_DIR) + "/../shared/fixtures"; }

}  // namespace fuzz
