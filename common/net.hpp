// common/net.hpp — the one file that knows which system it runs on.
//
// Lessons make the real socket calls themselves (socket, bind, listen, accept,
// recv, send, shutdown, poll, getaddrinfo). This header only hides what differs
// between POSIX (Linux, macOS) and Winsock (Windows), and speaks POSIX names.
#pragma once

#ifdef _WIN32
#define NOMINMAX  // keep <windows.h> from defining min and max as macros
#include <fcntl.h>
#include <io.h>
#include <winsock2.h>
#include <ws2tcpip.h>
// Winsock spells shutdown's "how" SD_*, and calls poll WSAPoll.
inline constexpr int SHUT_RD = SD_RECEIVE, SHUT_WR = SD_SEND, SHUT_RDWR = SD_BOTH;
inline int poll(pollfd* fds, unsigned long n, int timeout_ms) {
  return WSAPoll(fds, n, timeout_ms);
}
#else
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#endif

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>

namespace net {

#ifdef _WIN32
using socket_t = SOCKET;  // a handle, not a small int: never compare it with -1
inline constexpr socket_t invalid_socket = INVALID_SOCKET;
inline int close_socket(socket_t s) { return closesocket(s); }
inline int last_error() { return WSAGetLastError(); }
inline void set_last_error(int code) { WSASetLastError(code); }
inline bool is_timeout(int code) { return code == WSAETIMEDOUT || code == WSAEWOULDBLOCK; }
inline bool would_block(int code) { return code == WSAEWOULDBLOCK; }
inline int set_nonblocking(socket_t s, bool on = true) {
  u_long mode = on ? 1 : 0;
  return ioctlsocket(s, FIONBIO, &mode);
}
// Windows' SO_REUSEADDR would let another program steal a port in use; the safe
// choice there is SO_EXCLUSIVEADDRUSE (and Windows rebinds quickly without help).
inline constexpr int reuse_address = SO_EXCLUSIVEADDRUSE;
inline std::string error_text(int code = last_error()) {
  char text[256] = {};
  FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                 static_cast<DWORD>(code), 0, text, sizeof text, nullptr);
  std::string result = text[0] != '\0' ? text : fmt::format("error {}", code);
  while (!result.empty() && (result.back() == '.' || std::isspace(result.back())))
    result.pop_back();
  return result;
}
#else
using socket_t = int;  // a file descriptor
inline constexpr socket_t invalid_socket = -1;
inline int close_socket(socket_t s) { return ::close(s); }
inline int last_error() { return errno; }
inline void set_last_error(int code) { errno = code; }
inline bool is_timeout(int code) { return code == EAGAIN || code == EWOULDBLOCK; }
// A non-blocking socket's call that would have had to wait fails with this.
inline bool would_block(int code) { return code == EAGAIN || code == EWOULDBLOCK; }
inline int set_nonblocking(socket_t s, bool on = true) {
  const int flags = fcntl(s, F_GETFL);
  return fcntl(s, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}
// Lets a restarted server bind its port while old connections sit in TIME_WAIT.
inline constexpr int reuse_address = SO_REUSEADDR;
inline std::string error_text(int code = last_error()) { return std::strerror(code); }
#endif

// "\n" on stdout and stderr stays "\n" (Windows' text mode writes "\r\n"):
// the same bytes on every system, for pipes and tests alike.
inline void binary_output() {
#ifdef _WIN32
  _setmode(_fileno(stdout), _O_BINARY);
  _setmode(_fileno(stderr), _O_BINARY);
#endif
}

// What every program does first: start Winsock (nothing to start on POSIX),
// make SIGPIPE harmless (a vanished peer becomes an error code from send, not
// the death of the program), and flush output at every line so a pipe sees it.
struct Startup {
  Startup() {
#ifdef _WIN32
    WSADATA data{};
    if (WSAStartup(MAKEWORD(2, 2), &data) != 0) std::exit(1);
    std::setvbuf(stdout, nullptr, _IONBF, 0);  // Windows has no line buffering
    binary_output();
#else
    std::signal(SIGPIPE, SIG_IGN);
    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
#endif
  }
  ~Startup() {  // NOLINT(modernize-use-equals-default): not empty on Windows
#ifdef _WIN32
    WSACleanup();
#endif
  }
  Startup(const Startup&) = delete;
  Startup& operator=(const Startup&) = delete;
};

// Bytes from stdin unchanged (Windows would turn \r\n into \n).
inline void binary_stdio() {
#ifdef _WIN32
  _setmode(_fileno(stdin), _O_BINARY);
#endif
}

// One read() of standard input: what is there now, up to `size` bytes — from
// a terminal one line, as soon as Enter is pressed; from a pipe what has come.
// 0 at the end of input (a pipe's end; Ctrl-D at the start of a line), -1 on
// an error. (fread would wait to fill all `size` bytes.) Windows calls it _read.
inline std::ptrdiff_t read_input(char* buffer, std::size_t size) {
#ifdef _WIN32
  const int n = _read(_fileno(stdin), buffer, static_cast<unsigned>(size));
  if (n < 0) set_last_error(static_cast<int>(_doserrno));  // the system's code, for error_text
  return n;
#else
  ssize_t n = 0;
  while ((n = ::read(STDIN_FILENO, buffer, size)) < 0 && errno == EINTR) {
  }
  return n;
#endif
}

// Owns one socket — the C++ answer to Python's `with socket.socket() as s`.
// When it goes out of scope it shuts the connection down, then closes it
// (the talk's Tip: shutdown() before close(), so the peer hears of it now).
class Socket {
 public:
  Socket() = default;
  explicit Socket(socket_t handle) : handle_(handle) {}
  Socket(Socket&& other) noexcept : handle_(std::exchange(other.handle_, invalid_socket)) {}
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) reset(std::exchange(other.handle_, invalid_socket));
    return *this;
  }
  ~Socket() { reset(); }
  [[nodiscard]] socket_t get() const { return handle_; }
  explicit operator bool() const { return handle_ != invalid_socket; }
  void reset(socket_t handle = invalid_socket) {
    if (handle_ != invalid_socket) {
      const int saved = last_error();  // keep the error a caller is about to report
      ::shutdown(handle_, SHUT_RDWR);  // fails harmlessly on listening and UDP sockets
      close_socket(handle_);
      set_last_error(saved);
    }
    handle_ = handle;
  }

 private:
  socket_t handle_ = invalid_socket;
};

// How long one recv (SO_RCVTIMEO) or one send (SO_SNDTIMEO) may block before
// it fails with a time-out (POSIX takes a timeval, Windows milliseconds).
// Returns 0, or -1 like setsockopt.
inline int set_timeout(socket_t s, int option_name, double seconds) {
// A value that would round to 0 is raised to the smallest step: 0 means "forever".
#ifdef _WIN32
  const auto value = std::max<DWORD>(1, static_cast<DWORD>(seconds * 1000));
#else
  const auto microseconds = std::max<long long>(1, static_cast<long long>(seconds * 1e6));
  const timeval value{static_cast<time_t>(microseconds / 1000000),
                      static_cast<suseconds_t>(microseconds % 1000000)};
#endif
  return setsockopt(s, SOL_SOCKET, option_name, reinterpret_cast<const char*>(&value),
                    sizeof value);
}
// Both at once: what a server gives each client.
inline int set_timeouts(socket_t s, double seconds) {
  if (set_timeout(s, SO_RCVTIMEO, seconds) != 0) return -1;
  return set_timeout(s, SO_SNDTIMEO, seconds);
}

// Ctrl-C (SIGINT) or SIGTERM asks a program to stop. The handler raises a flag
// and shuts down the reading side of the socket it was given, which wakes a
// blocked accept(), recv() or recvfrom(); the loop sees the flag and ends,
// running every cleanup. The writing side stays open for a last word (the IRC
// bot's QUIT). A server serving one client at a time also names that client
// with wake_on_stop(), so that a stop wakes its recv() too — and its send(),
// blocked on a client that does not read: that client is shut down both
// ways, and a send after the stop fails at once rather than waits. A server
// calls stop_on_signal() before it prints its port: whoever reads the port may
// ask it to stop at once.
inline std::atomic<bool> stop_flag{false};
inline std::atomic<socket_t> stop_socket{invalid_socket}, stop_client{invalid_socket};
inline bool stop_requested() { return stop_flag.load(); }

// A server serving one client at a time names that client for as long as it
// serves it, so that a stop wakes the client's recv() too:
//     net::WakeOnStop wake{client_socket.get()};   // until the end of the scope
// Declared after the client's net::Socket, it lets go before the socket closes.
class WakeOnStop {
 public:
  explicit WakeOnStop(socket_t client_socket) { stop_client = client_socket; }
  ~WakeOnStop() { stop_client = invalid_socket; }
  WakeOnStop(const WakeOnStop&) = delete;
  WakeOnStop& operator=(const WakeOnStop&) = delete;
};
#ifdef _WIN32
// Winsock wakes a blocked accept() or recv() only by closing its socket (a
// shutdown does not), so there is no last word on Windows; the owner's own
// close later fails harmlessly.
inline BOOL WINAPI on_stop_event(DWORD) {  // runs on a thread of its own
  stop_flag = true;
  closesocket(stop_socket.exchange(invalid_socket));
  closesocket(stop_client.exchange(invalid_socket));
  return TRUE;
}
// Windows has no SIGTERM. A console's Ctrl-C or Ctrl-Break stops a program;
// a program with no console to press them in (a test, a service manager)
// sets the named event "spoon-stop-PID" instead, and a thread waits for it.
inline void stop_on_signal(socket_t s) {
  stop_socket = s;
  SetConsoleCtrlHandler(on_stop_event, TRUE);
  const std::string name = fmt::format("spoon-stop-{}", GetCurrentProcessId());
  HANDLE stop_event = CreateEventA(nullptr, TRUE, FALSE, name.c_str());
  std::thread([stop_event] {
    if (WaitForSingleObject(stop_event, INFINITE) == WAIT_OBJECT_0) on_stop_event(CTRL_BREAK_EVENT);
  }).detach();
}
#else
extern "C" inline void on_stop_signal(int /*signal*/) {
  const int saved = errno;
  stop_flag = true;
  ::shutdown(stop_socket.load(), SHUT_RD);  // async-signal-safe, unlike almost everything
  ::shutdown(stop_client.load(), SHUT_RDWR);
  errno = saved;
}
inline void stop_on_signal(socket_t s) {
  stop_socket = s;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;  // no SA_RESTART: a blocked call returns EINTR
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}
#endif

}  // namespace net
