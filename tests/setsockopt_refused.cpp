// tests/setsockopt_refused.cpp — preloaded (LD_PRELOAD) into a server by a few
// tests: a setsockopt() that refuses the one option named in the environment
// variable REFUSE_SETSOCKOPT (IPV6_V6ONLY, SO_REUSEADDR or SO_RCVTIMEO), as a
// system without that option would. Asked to turn IPV6_V6ONLY off, it leaves
// it on and fails, as on a system whose IPv6 sockets are IPv6-only (OpenBSD):
// then a server that ignores the failure listens for IPv6 clients alone.
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

// NOLINTNEXTLINE(readability-inconsistent-declaration-parameter-name): glibc's are reserved names
extern "C" int setsockopt(int fd, int level, int name, const void* value, socklen_t length) {
  using Setsockopt = int (*)(int, int, int, const void*, socklen_t);
  static const auto real_setsockopt = reinterpret_cast<Setsockopt>(dlsym(RTLD_NEXT, "setsockopt"));
  const char* const refused = std::getenv("REFUSE_SETSOCKOPT");
  const auto refuses = [&](int option_level, int option_name, const char* option_text) {
    return level == option_level && name == option_name && refused != nullptr &&
           std::strcmp(refused, option_text) == 0;
  };
  if (refuses(IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY")) {
    const int on = 1;
    real_setsockopt(fd, level, name, &on, sizeof on);
    errno = ENOPROTOOPT;
    return -1;
  }
  if (refuses(SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR") ||
      refuses(SOL_SOCKET, SO_RCVTIMEO, "SO_RCVTIMEO")) {
    errno = ENOPROTOOPT;
    return -1;
  }
  return real_setsockopt(fd, level, name, value, length);
}
