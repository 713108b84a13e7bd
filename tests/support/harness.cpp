// tests/support/harness.cpp — child processes and connections for the tests (POSIX).
#include "tests/support/harness.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <regex>
#include <stdexcept>

#ifndef SPOON_BUILD_DIR
#error "SPOON_BUILD_DIR must name the build tree"
#endif

namespace harness {
namespace {

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Child-side exit status as the tests see it: the code, or 128+signal like a shell.
int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string program_path(std::string_view lesson_program) {
  return std::string(SPOON_BUILD_DIR) + "/" + std::string(lesson_program);
}

Child::Child(std::string_view lesson_program, std::vector<std::string> args,
             const std::string& working_directory) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test
  const std::string path = program_path(lesson_program);
  int in[2];
  int out[2];
  int err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (std::string& arg : args)
    argv.push_back(arg.data());
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // In the child: die with the test process, whatever kills it — a crashed
    // test must never leave a server running that holds CTest's pipes open.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    ::signal(SIGPIPE, SIG_DFL);           // the program must protect itself, as the contract says
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    if (!working_directory.empty() && chdir(working_directory.c_str()) != 0) _exit(126);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_fd_ = in[1];
  stdout_fd_ = out[0];
  stderr_fd_ = err[0];
  for (const int fd : {stdin_fd_, stdout_fd_, stderr_fd_})
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));  // readable once the child exits
}

Child::~Child() {
  if (!status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  for (int* fd : {&stdin_fd_, &stdout_fd_, &stderr_fd_, &pidfd_})
    close_fd(*fd);
}

bool Child::pump(Clock::time_point deadline) {
  pollfd fds[4] = {{stdout_fd_, POLLIN, 0},
                   {stderr_fd_, POLLIN, 0},
                   {pending_stdin_.empty() ? -1 : stdin_fd_, POLLOUT, 0},
                   {status_ ? -1 : pidfd_, POLLIN, 0}};
  const int ready = ::poll(fds, 4, remaining_ms(deadline));
  if (ready < 0 && errno != EINTR) throw std::runtime_error("poll failed");
  if (ready <= 0) return Clock::now() < deadline;
  char buffer[65536];
  for (int i = 0; i < 2; ++i) {
    int& fd = i == 0 ? stdout_fd_ : stderr_fd_;
    if (fd < 0 || fds[i].revents == 0) continue;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) (i == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
    if (n == 0) close_fd(fd);
  }
  if (fds[2].revents != 0) {
    const ssize_t n = ::write(stdin_fd_, pending_stdin_.data(), pending_stdin_.size());
    if (n > 0) pending_stdin_.remove_prefix(static_cast<std::size_t>(n));
    if (n < 0 && errno != EAGAIN) pending_stdin_ = {};  // the child closed its stdin
  }
  if (fds[3].revents != 0 && !status_) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = decode_status(status);
  }
  return true;
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  while (true) {
    const std::size_t end = out_.find('\n', out_read_);
    if (end != std::string::npos) {
      std::string line = out_.substr(out_read_, end - out_read_);
      out_read_ = end + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (stdout_fd_ < 0 || !pump(deadline)) return std::nullopt;
  }
}

std::optional<std::string> Child::wait_for_line(std::string_view text,
                                                std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  while (auto line = read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
             std::max(deadline - Clock::now(), Clock::duration::zero())))) {
    if (line->find(text) != std::string::npos) return line;
  }
  return std::nullopt;
}

std::uint16_t Child::port() {
  static const std::regex port_line(R"(\bport (\d+)\b)");
  const auto deadline = Clock::now() + kPatience;
  while (auto line = read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
             std::max(deadline - Clock::now(), Clock::duration::zero())))) {
    std::smatch match;
    if (std::regex_search(*line, match, port_line)) {
      const int port = std::stoi(match[1]);
      if (port > 0 && port <= 65535) return static_cast<std::uint16_t>(port);
    }
  }
  ADD_FAILURE() << "no 'port N' line; stdout:\n" << out_ << "\nstderr:\n" << err_;
  throw std::runtime_error("child printed no port");
}

void Child::write_stdin(std::string_view data, std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  pending_stdin_ = data;
  while (!pending_stdin_.empty() && stdin_fd_ >= 0)
    if (!pump(deadline)) {
      ADD_FAILURE() << "child did not take its input in time";
      break;
    }
  pending_stdin_ = {};
}

void Child::close_stdin() { close_fd(stdin_fd_); }

void Child::signal(int signal_number) {
  if (!status_) kill(pid_, signal_number);
}

std::optional<int> Child::wait(std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  while (!status_ || stdout_fd_ >= 0 || stderr_fd_ >= 0) {
    if (pidfd_ < 0 && !status_) {  // kernels without pidfd: the pipes' EOF, then waitpid
      if (stdout_fd_ < 0 && stderr_fd_ < 0) {
        int status = 0;
        if (waitpid(pid_, &status, 0) == pid_) status_ = decode_status(status);
        break;
      }
    }
    if (!pump(deadline)) return std::nullopt;
  }
  return status_;
}

bool Child::running() {
  if (!status_) pump(Clock::now());
  return !status_;
}

Result run(std::string_view lesson_program, std::vector<std::string> args, std::string_view input,
           std::chrono::milliseconds patience) {
  Child child(lesson_program, std::move(args));
  if (!input.empty()) child.write_stdin(input, patience);
  child.close_stdin();
  Result result;
  result.exit_code = child.wait(patience);
  result.out = child.out();
  result.err = child.err();
  return result;
}

bool wait_readable(net::socket_t s, Clock::time_point deadline) {
  while (true) {
    pollfd fd{s, POLLIN, 0};
    const int ready = ::poll(&fd, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

bool Connection::send_all(std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(socket_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

std::string Connection::receive_some(std::chrono::milliseconds patience) {
  if (!buffered_.empty()) return std::exchange(buffered_, {});
  if (!wait_readable(socket_.get(), Clock::now() + patience)) return {};
  char buffer[65536];
  const ssize_t n = ::recv(socket_.get(), buffer, sizeof buffer, 0);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

std::string Connection::receive_exactly(std::size_t count, std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  std::string data = std::exchange(buffered_, {});
  char buffer[65536];
  while (data.size() < count && wait_readable(socket_.get(), deadline)) {
    const ssize_t n =
        ::recv(socket_.get(), buffer, std::min(sizeof buffer, count - data.size()), 0);
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

std::optional<std::string> Connection::receive_line(std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  char buffer[65536];
  while (true) {
    const std::size_t end = buffered_.find('\n');
    if (end != std::string::npos) {
      std::string line = buffered_.substr(0, end + 1);
      buffered_.erase(0, end + 1);
      return line;
    }
    if (!wait_readable(socket_.get(), deadline)) return std::nullopt;
    const ssize_t n = ::recv(socket_.get(), buffer, sizeof buffer, 0);
    if (n <= 0) return std::nullopt;
    buffered_.append(buffer, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> Connection::receive_until_close(std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  std::string data = std::exchange(buffered_, {});
  char buffer[65536];
  while (wait_readable(socket_.get(), deadline)) {
    const ssize_t n = ::recv(socket_.get(), buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return data;
    if (n < 0) return std::nullopt;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

bool Connection::closed_by_peer(std::chrono::milliseconds patience) {
  return receive_until_close(patience).has_value();
}

void Connection::shutdown_write() { ::shutdown(socket_.get(), SHUT_WR); }

void Connection::reset() {
  const linger abort_on_close{1, 0};
  setsockopt(socket_.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  ::close(socket_.get());
  socket_ = net::Socket{};  // already closed: forget the descriptor without a shutdown
}

std::uint16_t Connection::local_port() const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(socket_.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return net::port_of(address);
}

Connection connect_to(std::uint16_t port, const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0)
    throw std::runtime_error("bad test address " + host);
  net::Socket s{::socket(found->ai_family, SOCK_STREAM, 0)};
  const int rc = ::connect(s.get(), found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (rc != 0) {
    ADD_FAILURE() << "cannot connect to " << host << ":" << port << ": " << std::strerror(errno);
    throw std::runtime_error("connect failed");
  }
  return Connection(std::move(s));
}

bool has_ipv6_loopback() {
  net::Socket s{::socket(AF_INET6, SOCK_STREAM, 0)};
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  return s && ::bind(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

}  // namespace harness
