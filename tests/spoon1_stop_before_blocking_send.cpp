// tests/spoon1_stop_before_blocking_send.cpp — preloaded (LD_PRELOAD) into the
// IRC bot by one test: a send() that, when the socket's buffer is full (the
// send would block), raises SIGTERM on the bot first. That is the race a stop
// can lose: the signal lands while the bot is between calls, and the send
// that follows blocks on a server that no longer reads. Without this the
// test would need the signal to land in that window by luck.
#include <dlfcn.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>

extern "C" ssize_t send(int fd, const void* data, size_t size, int flags) {
  using Send = ssize_t (*)(int, const void*, size_t, int);
  static const auto real_send = reinterpret_cast<Send>(dlsym(RTLD_NEXT, "send"));
  const ssize_t sent = real_send(fd, data, size, flags | MSG_DONTWAIT);
  if (sent >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || (flags & MSG_DONTWAIT) != 0)
    return sent;
  // Full for a moment is not stuck: what is in flight may still drain into
  // the peer's buffer. Full for a fifth of a second, the peer has stopped reading.
  pollfd room{fd, POLLOUT, 0};
  if (poll(&room, 1, 200) != 0) return real_send(fd, data, size, flags);
  std::raise(SIGTERM);                      // the stop arrives now, before the send that blocks
  return real_send(fd, data, size, flags);  // then the send the program asked for
}
