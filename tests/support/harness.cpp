// tests/support/harness.cpp — child processes and connections for the tests.
//
// A child's stdout and stderr are drained by a thread each, and a third waits
// for its exit; the test's thread waits on a condition variable for what it
// needs (a line, the exit) with a deadline. The same code runs on POSIX and
// on Windows; only starting, signalling and killing a process differ.
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>

#ifndef SPOON_BUILD_DIR
#error "SPOON_BUILD_DIR must name the build tree"
#endif

namespace harness {
namespace {

// The test process makes socket calls too: Winsock must be started, and a
// peer that vanishes must not kill the test with SIGPIPE.
const net::Startup startup_for_the_tests;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

bool is_reset(int code) {
#ifdef _WIN32
  return code == WSAECONNRESET || code == WSAECONNABORTED;
#else
  return code == ECONNRESET;
#endif
}

#ifdef _WIN32
// Windows wants one command line, each argument quoted where it has spaces.
std::string quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\"") == std::string::npos) return arg;
  std::string quoted(1, '"');
  for (const char c : arg) {
    if (c == '"') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}
#endif

std::string checked_program_;
std::vector<std::string> checked_command_;
std::string checked_report_;  // filled by ~Child of a checked program in a failed test

// The argv a Child starts: the learner's command in place of the checked
// program, or the program of this build tree.
std::vector<std::string> command_for(std::string_view lesson_program,
                                     std::vector<std::string> args) {
  std::vector<std::string> argv;
  if (lesson_program == checked_program_ && !checked_command_.empty())
    argv = checked_command_;
  else
    argv.push_back(program_path(lesson_program));
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

}  // namespace

const std::string& checked_program() { return checked_program_; }
const std::vector<std::string>& checked_command() { return checked_command_; }
void set_checked(std::string program, std::vector<std::string> command) {
  checked_program_ = std::move(program);
  checked_command_ = std::move(command);
}

bool own_build(std::string_view lesson_program) {
  return lesson_program != checked_program_ || checked_command_.empty();
}

std::string shown_command(std::string_view lesson_program) {
  if (own_build(lesson_program)) return "build/" + std::string(lesson_program);
  std::string name;
  for (const std::string& arg : checked_command_) {
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_-./=:@%+,") == std::string::npos;
    name += (name.empty() ? "" : " ") + (plain ? arg : "'" + arg + "'");  // as a shell reads it
  }
  return name;
}

std::string take_checked_program_report() { return std::exchange(checked_report_, {}); }

std::string program_path(std::string_view lesson_program) {
  if (lesson_program.starts_with('/')) return std::string(lesson_program);
#ifdef _WIN32
  return std::string(SPOON_BUILD_DIR) + "/" + std::string(lesson_program) + ".exe";
#else
  return std::string(SPOON_BUILD_DIR) + "/" + std::string(lesson_program);
#endif
}

#ifdef _WIN32

Child::Child(std::string_view lesson_program, std::vector<std::string> args,
             const std::string& working_directory, const std::string& /*user*/) {
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE child_in = nullptr;
  HANDLE child_out = nullptr;
  HANDLE child_err = nullptr;
  if (!CreatePipe(&child_in, &stdin_pipe_, &inherit, 0) ||
      !CreatePipe(&stdout_pipe_, &child_out, &inherit, 0) ||
      !CreatePipe(&stderr_pipe_, &child_err, &inherit, 0))
    throw std::runtime_error("CreatePipe failed");
  for (HANDLE ours : {stdin_pipe_, stdout_pipe_, stderr_pipe_})
    SetHandleInformation(ours, HANDLE_FLAG_INHERIT, 0);  // the child gets its ends only

  checked_ = lesson_program == checked_program_;
  std::string command_line;
  for (const std::string& arg : command_for(lesson_program, std::move(args)))
    command_line.append(command_line.empty() ? "" : " ").append(quote(arg));
  STARTUPINFOA startup{};
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = child_in;
  startup.hStdOutput = child_out;
  startup.hStdError = child_err;
  // A job object that kills the child when the test process dies, whatever
  // kills it: a crashed test must never leave a server running.
  job_ = CreateJobObjectA(nullptr, nullptr);
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  SetInformationJobObject(job_, JobObjectExtendedLimitInformation, &limits, sizeof limits);
  PROCESS_INFORMATION process{};
  if (!CreateProcessA(nullptr, command_line.data(), nullptr, nullptr, TRUE, CREATE_SUSPENDED,
                      nullptr, working_directory.empty() ? nullptr : working_directory.c_str(),
                      &startup, &process))
    throw std::runtime_error("CreateProcess failed: " + command_line);
  AssignProcessToJobObject(job_, process.hProcess);
  ResumeThread(process.hThread);
  CloseHandle(process.hThread);
  for (HANDLE theirs : {child_in, child_out, child_err})
    CloseHandle(theirs);
  process_ = process.hProcess;
  pid_ = process.dwProcessId;
  stdin_open_ = true;
  out_reader_ = std::thread([this] { drain(stdout_pipe_, out_, out_open_); });
  err_reader_ = std::thread([this] { drain(stderr_pipe_, err_, err_open_); });
  exit_watcher_ = std::thread([this] { watch_exit(); });
}

void Child::drain(pipe_t pipe, std::string& into, bool& open) {
  char buffer[65536];
  DWORD n = 0;
  while (ReadFile(pipe, buffer, sizeof buffer, &n, nullptr) && n > 0) {
    const std::lock_guard lock(mutex_);
    into.append(buffer, n);
    changed_.notify_all();
  }
  const std::lock_guard lock(mutex_);
  open = false;
  changed_.notify_all();
}

void Child::watch_exit() {
  WaitForSingleObject(process_, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(process_, &code);
  const std::lock_guard lock(mutex_);
  status_ = static_cast<int>(code);
  changed_.notify_all();
}

void Child::kill_now() {  // NOLINT(readability-make-member-function-const)
  TerminateProcess(process_, 137);
}

// What SIGINT and SIGTERM are on POSIX: the named event net::stop_on_signal
// waits for (a console's Ctrl-Break would need a console shared with the child).
void Child::signal(int /*signal_number*/) {
  const std::string name = "spoon-stop-" + std::to_string(pid_);
  HANDLE stop_event = OpenEventA(EVENT_MODIFY_STATE, FALSE, name.c_str());
  if (stop_event == nullptr) {
    ADD_FAILURE() << "no event " << name << ": does the program call net::stop_on_signal?";
    return;
  }
  SetEvent(stop_event);
  CloseHandle(stop_event);
}

void Child::write_stdin(std::string_view data) {  // NOLINT(readability-make-member-function-const)
  while (!data.empty() && stdin_open_) {
    DWORD written = 0;
    const auto size = static_cast<DWORD>(std::min<std::size_t>(data.size(), 1 << 16));
    if (!WriteFile(stdin_pipe_, data.data(), size, &written, nullptr)) break;
    data.remove_prefix(written);
  }
}

void Child::close_stdin() {
  if (stdin_open_) CloseHandle(stdin_pipe_);
  stdin_open_ = false;
}

Child::~Child() {
  const bool was_running = running();
  if (was_running) kill_now();
  close_stdin();
  for (std::thread* t : {&out_reader_, &err_reader_, &exit_watcher_})
    if (t->joinable()) t->join();
  report_if_checked(was_running);
  CloseHandle(stdout_pipe_);
  CloseHandle(stderr_pipe_);
  CloseHandle(process_);
  CloseHandle(job_);
}

#else  // POSIX

Terminal::Terminal() {
  if (openpty(&keyboard_side_, &program_side_, nullptr, nullptr, nullptr) != 0) {
    ADD_FAILURE() << "openpty: " << std::strerror(errno);
    throw std::runtime_error("no pseudo-terminal");
  }
  // The terminal's own echo of the keys (what a person sees as they type) is
  // not the program's output; switch it off, so nobody needs to read it.
  termios settings{};
  tcgetattr(program_side_, &settings);
  settings.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(program_side_, TCSANOW, &settings);
  end_of_input_ = static_cast<char>(settings.c_cc[VEOF]);
  for (const int side : {keyboard_side_, program_side_})
    fcntl(side, F_SETFD, FD_CLOEXEC);  // a child gets the program side as stdin only
}

Terminal::~Terminal() {
  ::close(keyboard_side_);
  ::close(program_side_);
}

void Terminal::type(std::string_view keys) const {
  EXPECT_EQ(::write(keyboard_side_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
}

void Terminal::press_end_of_input() const { type({&end_of_input_, 1}); }

Child::Child(std::string_view lesson_program, std::vector<std::string> args,
             const std::string& working_directory, const std::string& user) {
  start(lesson_program, std::move(args), working_directory, user, -1);
}

Child::Child(const Terminal& terminal, std::string_view lesson_program,
             std::vector<std::string> args) {
  start(lesson_program, std::move(args), {}, {}, terminal.program_side());
}

void Child::start(std::string_view lesson_program, std::vector<std::string> args,
                  const std::string& working_directory, const std::string& user, int terminal) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test
  checked_ = lesson_program == checked_program_;
  std::vector<std::string> command = command_for(lesson_program, std::move(args));
  const std::string path = command.front();
  // Looked up before fork: after it, only async-signal-safe calls are safe.
  const passwd* const account = user.empty() || getuid() != 0 ? nullptr : getpwnam(user.c_str());
  if (!user.empty() && getuid() == 0 && account == nullptr)
    throw std::runtime_error("no user " + user);
  const uid_t uid = account != nullptr ? account->pw_uid : 0;
  const gid_t gid = account != nullptr ? account->pw_gid : 0;
  int in[2];
  int out[2];
  int err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  std::vector<char*> argv;
  argv.reserve(command.size() + 1);
  for (std::string& arg : command)
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
    dup2(terminal >= 0 ? terminal : in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    if (!working_directory.empty() && chdir(working_directory.c_str()) != 0) _exit(126);
    if (account != nullptr && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
      _exit(126);
    execvp(path.c_str(), argv.data());  // a learner's `python3 echo.py` is found on PATH
    // Only async-signal-safe calls here: write() of fixed texts.
    const char* const why = errno == ENOENT ? ": no such file (or not on PATH)\n"
                            : errno == EACCES ? ": permission denied (chmod +x it?)\n"
                                              : ": exec failed\n";
    const char* const start = "error: cannot start ";
    (void)!::write(STDERR_FILENO, start, std::strlen(start));
    (void)!::write(STDERR_FILENO, path.c_str(), path.size());
    (void)!::write(STDERR_FILENO, why, std::strlen(why));
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_pipe_ = in[1];
  stdout_pipe_ = out[0];
  stderr_pipe_ = err[0];
  stdin_open_ = true;
  if (terminal >= 0) close_stdin();  // the terminal is its stdin: nobody reads the pipe
  out_reader_ = std::thread([this] { drain(stdout_pipe_, out_, out_open_); });
  err_reader_ = std::thread([this] { drain(stderr_pipe_, err_, err_open_); });
  exit_watcher_ = std::thread([this] { watch_exit(); });
}

void Child::drain(pipe_t pipe, std::string& into, bool& open) {
  char buffer[65536];
  ssize_t n = 0;
  while ((n = ::read(pipe, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n < 0) continue;
    const std::lock_guard lock(mutex_);
    into.append(buffer, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  const std::lock_guard lock(mutex_);
  open = false;
  changed_.notify_all();
}

void Child::watch_exit() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  const std::lock_guard lock(mutex_);
  // The exit code, or 128+signal like a shell.
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  changed_.notify_all();
}

void Child::kill_now() {  // NOLINT(readability-make-member-function-const)
  ::kill(pid_, SIGKILL);
}

void Child::signal(int signal_number) {
  const std::lock_guard lock(mutex_);
  if (!status_) ::kill(pid_, signal_number);  // not yet reaped: the pid is still its own
}

void Child::write_stdin(std::string_view data) {  // NOLINT(readability-make-member-function-const)
  while (!data.empty() && stdin_open_) {
    const ssize_t n = ::write(stdin_pipe_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its stdin or died
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void Child::close_stdin() {
  if (stdin_open_) ::close(stdin_pipe_);
  stdin_open_ = false;
}

Child::~Child() {
  const bool was_running = running();
  if (was_running) kill_now();
  close_stdin();
  for (std::thread* t : {&out_reader_, &err_reader_, &exit_watcher_})
    if (t->joinable()) t->join();
  report_if_checked(was_running);
  ::close(stdout_pipe_);
  ::close(stderr_pipe_);
}

#endif

std::optional<std::string> Child::read_line(std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  std::size_t end = std::string::npos;
  changed_.wait_for(lock, patience, [&] {
    end = out_.find('\n', out_read_);
    return end != std::string::npos || !out_open_;
  });
  if (end == std::string::npos) return std::nullopt;
  std::string line = out_.substr(out_read_, end - out_read_);
  out_read_ = end + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();  // Windows' line ends
  return line;
}

std::optional<std::string> Child::wait_for_line(std::string_view text,
                                                std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  while (auto line = read_line(std::chrono::milliseconds(remaining_ms(deadline)))) {
    if (line->find(text) != std::string::npos) return line;
  }
  return std::nullopt;
}

std::uint16_t Child::port() {
  if (port_ != 0) return port_;
  static const std::regex port_line(R"(\bport (\d+)\b)");
  const auto deadline = Clock::now() + kPatience;
  while (auto line = read_line(std::chrono::milliseconds(remaining_ms(deadline)))) {
    std::smatch match;
    if (std::regex_search(*line, match, port_line)) {
      const int port = std::stoi(match[1]);
      if (port > 0 && port <= 65535) return port_ = static_cast<std::uint16_t>(port);
    }
  }
  // Why not, in a learner's words: it exited, or it said nothing in time.
  std::string why = "within " + std::to_string(kPatience.count() / 1000) + " s";
  if (const auto code = wait(100ms)) why = "before it exited with code " + std::to_string(*code);
  ADD_FAILURE() << "the program printed no line with 'port N' (N: the port it listens on, "
                << "read back with getsockname) " << why << "\nits stdout: " << visible(out())
                << "\nits stderr:\n"
                << err();
  throw std::runtime_error("the program printed no port");
}

bool Child::wait_for_err(std::string_view text, std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, patience, [&] {
    return err_.find(text) != std::string::npos || (!err_open_ && !out_open_);
  }) && err_.find(text) != std::string::npos;
}

void Child::report_if_checked(bool was_running) {
  if (!checked_ || !testing::Test::HasFailure()) return;
  std::string report =
      was_running ? "the program was still running (the checker stopped it)"
                  : "the program had exited with code " + std::to_string(status_.value_or(-1));
  const std::string errors = err();
  if (!errors.empty()) {
    // Its last lines: a Python traceback ends with the line that matters.
    std::size_t start = errors.size();
    for (int lines = 0; start > 0 && lines < 16;)
      if (errors[--start] == '\n' && start + 1 < errors.size()) ++lines;
    report += "; its stderr" + std::string(start > 0 ? " ended" : "") + ":\n" +
              errors.substr(start > 0 ? start + 1 : 0);
  }
  checked_report_ = report;
}

#ifdef __linux__
bool Child::limit_open_files(int spare) {
  // RLIMIT_NOFILE caps descriptor numbers, and a new descriptor takes the
  // lowest free number: the cap is the number above the first `spare` free ones.
  std::vector<int> open;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", error))
    open.push_back(std::stoi(entry.path().filename().string()));
  int cap = 0;
  for (int free_below = 0;; ++cap) {
    const bool taken = std::find(open.begin(), open.end(), cap) != open.end();
    if (!taken && free_below++ == spare) break;
  }
  rlimit limit{};
  if (error || prlimit(pid_, RLIMIT_NOFILE, nullptr, &limit) != 0) return false;
  open_files_limit_ = static_cast<long long>(limit.rlim_cur);
  limit.rlim_cur = static_cast<rlim_t>(cap);
  return prlimit(pid_, RLIMIT_NOFILE, &limit, nullptr) == 0;
}

void Child::restore_open_files() const {
  rlimit limit{};
  if (open_files_limit_ < 0 || prlimit(pid_, RLIMIT_NOFILE, nullptr, &limit) != 0) return;
  limit.rlim_cur = static_cast<rlim_t>(open_files_limit_);
  if (prlimit(pid_, RLIMIT_NOFILE, &limit, nullptr) != 0) ADD_FAILURE() << "prlimit failed";
}

std::optional<double> Child::cpu_seconds() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(name_end + 2));  // after "PID (name) ", field 3 on
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i >= 14) ticks += std::stod(field);  // 14: utime, 15: stime, in clock ticks
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}
#else
bool Child::limit_open_files(int /*spare*/) { return false; }
void Child::restore_open_files() const {}
std::optional<double> Child::cpu_seconds() const { return std::nullopt; }
#endif

std::optional<int> Child::wait(std::chrono::milliseconds patience) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, patience, [&] { return status_ && !out_open_ && !err_open_; }))
    return std::nullopt;
  return status_;
}

bool Child::running() {
  const std::lock_guard lock(mutex_);
  return !status_;
}

std::string Child::out() const {
  const std::lock_guard lock(mutex_);
  return out_;
}

std::string Child::err() const {
  const std::lock_guard lock(mutex_);
  return err_;
}

Result run(std::string_view lesson_program, std::vector<std::string> args, std::string_view input,
           std::chrono::milliseconds patience) {
  Child child(lesson_program, std::move(args));
  if (!input.empty()) child.write_stdin(input);
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
    if (ready == 0 || net::last_error() != EINTR) return false;
  }
}

bool wait_writable(net::socket_t s, Clock::time_point deadline) {
  while (true) {
    pollfd fd{s, POLLOUT, 0};
    const int ready = ::poll(&fd, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0 || net::last_error() != EINTR) return false;
  }
}

bool Connection::send_all(std::string_view data, std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  const std::size_t total = data.size();
  // Non-blocking while it sends: a blocking send of more than the socket has
  // room for waits until all of it went, past any deadline. Here only poll
  // waits, until there is room again (a peer reading) or the deadline.
  net::set_nonblocking(socket_.get());
  bool sent_all = true;
  while (!data.empty()) {
    const auto sent = ::send(socket_.get(), data.data(), static_cast<int>(data.size()), 0);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && net::last_error() == EINTR) continue;
    if (sent == 0 || !net::would_block(net::last_error())) {
      sent_all = false;  // reset, or hung up: the test checks what it expected
      break;
    }
    if (!wait_writable(socket_.get(), deadline)) {
      ADD_FAILURE() << "send_all: the peer took " << total - data.size() << " of " << total
                    << " bytes, then no more until the deadline (" << patience.count() << " ms)";
      sent_all = false;
      break;
    }
  }
  net::set_nonblocking(socket_.get(), false);  // a Connection blocks, as it did before
  return sent_all;
}

std::string Connection::receive_some(std::chrono::milliseconds patience) {
  if (!buffered_.empty()) return std::exchange(buffered_, {});
  if (!wait_readable(socket_.get(), Clock::now() + patience)) return {};
  char buffer[65536];
  const auto n = ::recv(socket_.get(), buffer, static_cast<int>(sizeof buffer), 0);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

std::string Connection::receive_exactly(std::size_t count, std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  std::string data = std::exchange(buffered_, {});
  char buffer[65536];
  while (data.size() < count && wait_readable(socket_.get(), deadline)) {
    const auto n = ::recv(socket_.get(), buffer,
                          static_cast<int>(std::min(sizeof buffer, count - data.size())), 0);
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
    const auto n = ::recv(socket_.get(), buffer, static_cast<int>(sizeof buffer), 0);
    if (n <= 0) return std::nullopt;
    buffered_.append(buffer, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> Connection::receive_until_close(std::chrono::milliseconds patience) {
  const auto deadline = Clock::now() + patience;
  std::string data = std::exchange(buffered_, {});
  char buffer[65536];
  while (wait_readable(socket_.get(), deadline)) {
    const auto n = ::recv(socket_.get(), buffer, static_cast<int>(sizeof buffer), 0);
    if (n == 0 || (n < 0 && is_reset(net::last_error()))) return data;
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
  setsockopt(socket_.get(), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&abort_on_close),
             sizeof abort_on_close);
  net::close_socket(socket_.get());
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
    ADD_FAILURE() << "cannot connect to " << host << ":" << port << ": " << net::error_text();
    throw std::runtime_error("connect failed");
  }
  return Connection(std::move(s));
}

std::string reason(int posix_error) {
#ifdef _WIN32
  if (posix_error == EADDRINUSE) return net::error_text(WSAEADDRINUSE);
  if (posix_error == ECONNREFUSED) return net::error_text(WSAECONNREFUSED);
#endif
  return net::error_text(posix_error);
}

bool is_refused(int code) {
#ifdef _WIN32
  return code == WSAECONNREFUSED;
#else
  return code == ECONNREFUSED;
#endif
}

net::Socket bound_to_loopback(int type, std::uint16_t& port) {
  net::Socket s{::socket(AF_INET, type, 0)};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(s.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  port = net::port_of(bound);
  return s;
}

Listener::Listener() : s(bound_to_loopback(SOCK_STREAM, port)) {
  EXPECT_EQ(::listen(s.get(), 4), 0);
}

Connection Listener::accept() const {
  EXPECT_TRUE(wait_readable(s.get(), Clock::now() + kPatience));
  return Connection(net::Socket{::accept(s.get(), nullptr, nullptr)});
}

std::filesystem::path temp_dir(std::string_view lesson) {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(lesson) + "-" + info->test_suite_name() + "-" + info->name() +
                     "-" + std::to_string(std::random_device{}());
  std::replace(name.begin(), name.end(), '/', '-');  // parameterised tests' names hold '/'
  auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);  // as text: a log's "\r\n" on Windows reads as "\n"
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

bool has_ipv6_loopback() {
  net::Socket s{::socket(AF_INET6, SOCK_STREAM, 0)};
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  return s && ::bind(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

#ifdef SETSOCKOPT_REFUSED
RefusedSetsockopt::RefusedSetsockopt(const char* option) {
  const char* const asan_set = std::getenv("ASAN_OPTIONS");
  asan_options_ = asan_set != nullptr ? asan_set : "";
  setenv("LD_PRELOAD", SETSOCKOPT_REFUSED, 1);
  setenv("REFUSE_SETSOCKOPT", option, 1);
  // AddressSanitizer wants to be the first library loaded; here it need not be.
  setenv("ASAN_OPTIONS", (asan_options_ + ":verify_asan_link_order=0").c_str(), 1);
}
RefusedSetsockopt::~RefusedSetsockopt() {
  unsetenv("LD_PRELOAD");
  unsetenv("REFUSE_SETSOCKOPT");
  setenv("ASAN_OPTIONS", asan_options_.c_str(), 1);
}
bool RefusedSetsockopt::available() { return true; }
#else
RefusedSetsockopt::RefusedSetsockopt(const char* /*option*/) {}
RefusedSetsockopt::~RefusedSetsockopt() = default;
bool RefusedSetsockopt::available() { return false; }
#endif

void hint(std::string_view where) { testing::Test::RecordProperty("hint", std::string(where)); }
void by_hand(std::string_view command) {
  testing::Test::RecordProperty("by_hand", std::string(command));
}

std::string visible(std::string_view bytes) {
  std::string shown = "\"";
  for (const char c : bytes) {
    switch (c) {
      case '\r':
        shown += "\\r";
        break;
      case '\n':
        shown += "\\n";
        break;
      case '\t':
        shown += "\\t";
        break;
      case '\\':
        shown += "\\\\";
        break;
      case '"':
        shown += "\\\"";
        break;
      default:
        if (c >= ' ' && c < 0x7f) {
          shown += c;
        } else {
          static const char digits[] = "0123456789abcdef";
          const auto byte = static_cast<unsigned char>(c);
          shown += {'\\', 'x', digits[byte >> 4], digits[byte & 15]};
        }
    }
  }
  return shown + "\"";
}

testing::AssertionResult same_bytes(std::string_view sent, std::string_view expected,
                                    std::string_view got) {
  if (got == expected) return testing::AssertionSuccess();
  const auto differ = std::mismatch(expected.begin(), expected.end(), got.begin(), got.end());
  const auto at = static_cast<std::size_t>(differ.first - expected.begin());
  // Long data is shown around the first difference only.
  const std::size_t from = at > 24 ? at - 16 : 0;
  const auto excerpt = [&](std::string_view bytes) {
    const std::string_view part = bytes.substr(std::min(from, bytes.size()), 48);
    return (from > 0 ? "..." : "") + visible(part) +
           (from + part.size() < bytes.size() ? "..." : "") + " (" + std::to_string(bytes.size()) +
           " bytes)";
  };
  const std::string prefix = "  got       ";
  const std::string shown_before =
      (from > 0 ? "..." : "") + visible(got.substr(std::min(from, got.size()), at - from));
  std::string message;
  if (!sent.empty()) message += "  sent      " + excerpt(sent) + "\n";
  message += "  expected  " + excerpt(expected) + "\n";
  message += prefix + excerpt(got) + "\n";
  // visible() opens a quote that shown_before closes: the caret goes where that quote is.
  message += std::string(prefix.size() + shown_before.size() - 1, ' ') +
             "^ first difference, at byte " + std::to_string(at);
  if (at == got.size()) message += " (nothing more came back)";
  return testing::AssertionFailure() << message;
}

// The contract's bad command lines (an unknown option, a missing value, a port
// that is not a number from 0 to 65535, a stray word): each prints one
// `error:` line and a hint naming --help on stderr, nothing on stdout, exits 2.
std::vector<std::vector<std::string>> bad_port_command_lines() {
  return {{"--bogus"},       {"--port"},       {"--port", "70000"},
          {"--port", "abc"}, {"--port", "-1"}, {"stray"}};
}

void refuses_bad_command_lines(const std::string& program) {
  refuses_bad_command_lines(program, bad_port_command_lines(), "--port abc");
}

void refuses_bad_command_lines(const std::string& program,
                               const std::vector<std::vector<std::string>>& bad,
                               const std::string& shown) {
  hint(
      "a bad command line prints 'error: ...' and a hint to use --help on stderr, nothing on "
      "stdout, and exits 2, before it binds or connects anything (the program's --help says "
      "which options it takes)");
  by_hand(shown_command(program) + (shown.empty() ? "" : " " + shown) + "; echo \"exit $?\"");
  for (const auto& args : bad) {
    const auto result = run(program, args);
    std::string given;
    for (const std::string& arg : args)
      given += " " + (arg.empty() ? std::string("''") : arg);
    if (given.empty()) given = " nothing";
    if (result.exit_code != 2 || !result.err.starts_with("error: ") ||
        result.err.find("--help") == std::string::npos || !result.out.empty())
      ADD_FAILURE() << "given" << given << ":\n  exit code "
                    << (result.exit_code ? std::to_string(*result.exit_code) : "none in 10 s")
                    << " (expected 2)\n  stderr    " << visible(result.err)
                    << " (expected 'error: ...' and a hint naming --help)\n  stdout    "
                    << visible(result.out) << " (expected nothing)";
  }
}

void exits_one_when_refused(const std::string& program) {
  std::uint16_t port = 0;
  {
    const Listener closed_again;  // a port that was free a moment ago, and is closed now
    port = closed_again.port;
  }
  const std::string port_text = std::to_string(port);
  hint(
      "connect() fails with 'Connection refused' when nothing listens: say "
      "'error: cannot connect to HOST:PORT: REASON' on stderr and exit 1");
  by_hand(shown_command(program) + " --port " + port_text + "; echo \"exit $?\"");
  const auto result = run(program, {"--port", port_text});
  const std::string expected = "error: cannot connect to 127.0.0.1:" + port_text + ": ";
  if (result.exit_code != 1) ADD_FAILURE() << exit_text(result.exit_code) << " (expected 1)";
  if (own_build(program)) {
    STAGE_EXPECT(same_bytes({}, expected + reason(ECONNREFUSED) + "\n", result.err))
        << "\n(its stderr)";
  } else if (!result.err.starts_with(expected)) {
    ADD_FAILURE() << "stderr " << visible(result.err) << "\n  expected to start "
                  << visible(expected) << " and then the system's reason";
  }
}

std::string exit_text(const std::optional<int>& code) {
  if (!code) return "it had not exited in time";
  if (*code > 128) return "it was killed by signal " + std::to_string(*code - 128);
  return "it exited with code " + std::to_string(*code);
}

std::vector<std::pair<std::string, std::string>>& stages_suites() {
  static std::vector<std::pair<std::string, std::string>> suites;
  return suites;
}

StagesOf::StagesOf(const std::string& program, const std::string& suite) {
  stages_suites().emplace_back(suite, program);
}

void Stages::skip_if_unreachable() {
  if (gate_failed_) GTEST_SKIP() << "skipped: the first stage failed";
}

}  // namespace harness
