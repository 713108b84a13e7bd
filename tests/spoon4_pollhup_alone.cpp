// tests/spoon4_pollhup_alone.cpp — preloaded (LD_PRELOAD) into poll_server by
// one test: a poll() that reports a hang-up as POLLHUP alone, without POLLIN
// or POLLOUT, as some systems do. Linux itself adds POLLIN (and POLLOUT) to
// a reset's POLLHUP, so without this a server that looks only at POLLIN —
// Beej's bug — would pass the test by luck.
#include <dlfcn.h>
#include <poll.h>

extern "C" int poll(pollfd* fds, nfds_t nfds, int timeout) {
  using Poll = int (*)(pollfd*, nfds_t, int);
  static const auto real_poll = reinterpret_cast<Poll>(dlsym(RTLD_NEXT, "poll"));
  const int ready = real_poll(fds, nfds, timeout);
  for (nfds_t i = 0; ready > 0 && i < nfds; ++i)
    if ((fds[i].revents & POLLHUP) != 0) fds[i].revents &= static_cast<short>(~(POLLIN | POLLOUT));
  return ready;
}
