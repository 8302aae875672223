#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace edgerun {

std::string read_file(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno), ErrorKind::IO);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file", ErrorKind::IO);
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    fail(path, "is " + std::to_string(st.st_size) + " bytes, more than the " + std::to_string(max_bytes >> 20) +
                   " MiB this file may have", ErrorKind::IO);
  }
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail(path, std::string("read error: ") + std::strerror(err), ErrorKind::IO);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {  // grew while being read
      ::close(fd);
      fail(path, "is more than the " + std::to_string(max_bytes >> 20) + " MiB this file may have", ErrorKind::IO);
    }
  }
  ::close(fd);
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void write_file_atomically(const std::string& path, const void* bytes, size_t n) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, "cannot write (is the folder there and writable?)", ErrorKind::IO);
  const bool written = std::fwrite(bytes, 1, n, f) == n;
  if (std::fclose(f) != 0 || !written) {
    std::remove(tmp.c_str());
    fail(path, "write failed", ErrorKind::IO);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, "cannot rename the temporary file into place", ErrorKind::IO);
  }
}

}  // namespace edgerun
