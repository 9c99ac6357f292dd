// Keeps the binary's glibc floor at 2.34 (what static cudart needs; Ubuntu 22.04 and RHEL 9 have 2.34-2.35). The
// static libstdc++ of a compiler built on a newer glibc refers to arc4random (glibc 2.36) from std::random_device,
// which the string and exception objects we use pull in; tensile never uses random_device. This definition, hidden
// in the binary, satisfies that reference instead of glibc's, with the same contract: uniformly random 32 bits from
// the kernel's generator.
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v = 0;
  for (;;) {
    const ssize_t n = getrandom(&v, sizeof v, 0);
    if (n == (ssize_t)sizeof v) return v;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  const int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const ssize_t n = read(fd, &v, sizeof v);
    close(fd);
    if (n == (ssize_t)sizeof v) return v;
  }
  // no kernel generator at all (never seen on Linux >= 3.17): time-derived bits, as a last resort
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)(ts.tv_nsec ^ (ts.tv_sec * 2654435761u));
}
