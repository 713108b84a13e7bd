// tests/support/harness.hpp — what the integration tests share.
//
// A test starts a real lesson program as a child process, reads its output
// line by line (the "port N" line first), talks to it over loopback, and
// stops it. Every wait is on an event (a line, a connection, a byte, an
// exit) with a deadline; nothing sleeps. A child never outlives its test.
#pragma once

#include "common/cli.hpp"
#include "common/net.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace harness {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Long enough for a loaded CI machine under a sanitizer; a passing test never waits it out.
inline constexpr std::chrono::milliseconds kPatience = 10s;

// build/<lesson>/<program> of the tree these tests were built in (an
// absolute path, such as /usr/bin/prlimit, is taken as it is).
std::string program_path(std::string_view lesson_program);

#ifndef _WIN32
// A pseudo-terminal, to be a child's stdin the way a person's keyboard is:
// the terminal's line discipline hands the program one line per read() when
// Enter is pressed, and the end-of-input key (VEOF, Ctrl-D) at the start of
// a line makes read() return 0. POSIX only (openpty); Windows consoles differ.
class Terminal {
 public:
  Terminal();  // fails the test without a pseudo-terminal
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;
  ~Terminal();
  void type(std::string_view keys) const;  // as if typed, "\n" being Enter
  void press_end_of_input() const;         // the VEOF key, Ctrl-D by default
  [[nodiscard]] int program_side() const { return program_side_; }

 private:
  int keyboard_side_ = -1;  // the pty's master: what the person types goes in here
  int program_side_ = -1;   // its slave: what the program reads as stdin
  char end_of_input_ = '\x04';
};
#endif

// A running lesson program with pipes on its stdin, stdout and stderr.
class Child {
 public:
  // `user` (POSIX, when the test runs as root): the child runs as that user,
  // so that a file mode can keep it out.
  explicit Child(std::string_view lesson_program, std::vector<std::string> args = {},
                 const std::string& working_directory = {}, const std::string& user = {});
#ifndef _WIN32
  // The same, with stdin on `terminal` instead of a pipe (write_stdin does nothing).
  Child(const Terminal& terminal, std::string_view lesson_program,
        std::vector<std::string> args = {});
#endif
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // kills and reaps a child still running

  // The next whole line of stdout (without "\n"), or nothing at the deadline or at EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds patience = kPatience);
  // Reads stdout lines until one contains `text`; returns it (or nothing).
  std::optional<std::string> wait_for_line(std::string_view text,
                                           std::chrono::milliseconds patience = kPatience);
  // Reads until the contract's "port N" line (once: later calls return the
  // same port); fails the test without one, saying why (it exited, or was silent).
  std::uint16_t port();
  // Waits until stderr holds `text` (or the deadline).
  bool wait_for_err(std::string_view text, std::chrono::milliseconds patience = kPatience);

  // Linux: lets the child open only `spare` descriptors more than it holds now
  // (RLIMIT_NOFILE, as `prlimit --pid PID --nofile=N` does); false elsewhere.
  // restore_open_files() gives it its old limit back.
  bool limit_open_files(int spare);
  void restore_open_files() const;
  // Linux: the user plus system CPU time it has used so far, in seconds (from
  // /proc/PID/stat): how a test tells waiting from spinning. Nothing elsewhere.
  [[nodiscard]] std::optional<double> cpu_seconds() const;

  // Writes all of `data` to stdin. Other threads drain stdout and stderr
  // meanwhile, so a child that echoes what it reads cannot deadlock it.
  void write_stdin(std::string_view data);
  void close_stdin();
  // SIGINT or SIGTERM on POSIX; on Windows both become a Ctrl-Break event.
  void signal(int signal_number);
  // Waits for the exit, collecting all output. Exit code, or 128+N for death
  // by signal N, or nothing if it did not exit in time.
  std::optional<int> wait(std::chrono::milliseconds patience = kPatience);
  [[nodiscard]] bool running();
  // Its process id: for /proc/PID on Linux, or prlimit --pid.
  [[nodiscard]] long pid() const { return static_cast<long>(pid_); }

  // Everything read so far (stdout also holds lines read_line returned).
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;

 private:
#ifdef _WIN32
  using pipe_t = void*;  // a HANDLE
  void* process_ = nullptr;
  void* job_ = nullptr;  // kills the child when the test process dies
  unsigned long pid_ = 0;
#else
  using pipe_t = int;
  int pid_ = -1;
#endif
#ifndef _WIN32
  void start(std::string_view lesson_program, std::vector<std::string> args,
             const std::string& working_directory, const std::string& user, int terminal);
#endif
  void drain(pipe_t pipe, std::string& into, bool& open);  // a reader thread's loop
  void watch_exit();                                       // the exit watcher's
  void kill_now();
  void report_if_checked(bool was_running);  // for the checker, under a failed test
  bool checked_ = false;
  std::uint16_t port_ = 0;  // from its "port N" line, once read  // the program the homework
                            // checker checks (see checked_program)
  long long open_files_limit_ = -1;  // the soft RLIMIT_NOFILE before limit_open_files
  pipe_t stdin_pipe_{};
  pipe_t stdout_pipe_{};
  pipe_t stderr_pipe_{};
  bool stdin_open_ = false;

  // Filled by the threads below; read by the test's thread.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_;
  std::string err_;
  bool out_open_ = true;
  bool err_open_ = true;
  std::optional<int> status_;
  std::size_t out_read_ = 0;  // how much of out_ read_line has handed out
  std::thread out_reader_;
  std::thread err_reader_;
  std::thread exit_watcher_;
};

// Runs a program to its end with the given stdin; the usual check for options.
struct Result {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};
Result run(std::string_view lesson_program, std::vector<std::string> args,
           std::string_view input = {}, std::chrono::milliseconds patience = kPatience);

// A test's own TCP connection, with deadlines on every wait.
class Connection {
 public:
  explicit Connection(net::Socket s) : socket_(std::move(s)) {}
  [[nodiscard]] net::socket_t get() const { return socket_.get(); }
  // Sends all of `data`, waiting for room as needed; false if the peer reset or
  // hung up, and a failed test besides if it took no more until the deadline.
  bool send_all(std::string_view data, std::chrono::milliseconds patience = kPatience);
  // Whatever arrives next (empty when the peer has closed or the deadline passed).
  std::string receive_some(std::chrono::milliseconds patience = kPatience);
  // Reads until `count` bytes have come (or EOF, or the deadline).
  std::string receive_exactly(std::size_t count, std::chrono::milliseconds patience = kPatience);
  // Reads up to and including the next "\n" (or nothing).
  std::optional<std::string> receive_line(std::chrono::milliseconds patience = kPatience);
  // Reads until the peer closes; nothing if it did not close in time.
  std::optional<std::string> receive_until_close(std::chrono::milliseconds patience = kPatience);
  // Did the peer close (recv returned 0, or a reset) within the patience?
  bool closed_by_peer(std::chrono::milliseconds patience = kPatience);
  void shutdown_write();
  void reset();  // close with SO_LINGER 0: the peer gets RST, not FIN
  [[nodiscard]] std::uint16_t local_port() const;

 private:
  net::Socket socket_;
  std::string buffered_;
};

// A socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound to 127.0.0.1 on a free
// port, which it sets: the test's own server or peer starts here.
net::Socket bound_to_loopback(int type, std::uint16_t& port);

// A one-shot TCP listener of the test's own on 127.0.0.1, to play a server.
struct Listener {
  std::uint16_t port = 0;  // before s: s's initialiser sets it
  net::Socket s;
  Listener();
  [[nodiscard]] Connection accept() const;  // waits for the next client (or fails the test)
};

// A fresh folder for the current test's files, named after the test.
std::filesystem::path temp_dir(std::string_view lesson);
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);  // and its folders

// Connects to host:port (a numeric address), or fails the test.
Connection connect_to(std::uint16_t port, const std::string& host = "127.0.0.1");
// Is there IPv6 on loopback here? Tests on ::1 skip without it.
bool has_ipv6_loopback();
// The system's text for a POSIX error (EADDRINUSE, ECONNREFUSED, ...), in the
// words this system uses: on Windows, the text of the matching WSAE... code.
std::string reason(int posix_error);
// Was that error code (net::last_error()) a refused connection?
bool is_refused(int code);
// Waits until `s` is readable (or the deadline): the event every read waits on.
bool wait_readable(net::socket_t s, Clock::time_point deadline);
// Waits until `s` has room to send more (or the deadline).
bool wait_writable(net::socket_t s, Clock::time_point deadline);

// While one lives, every child started gets a setsockopt() that refuses
// `option` (IPV6_V6ONLY, SO_REUSEADDR, SO_RCVTIMEO) with ENOPROTOOPT
// (tests/setsockopt_refused.cpp, preloaded): how a lesson copes with a system
// that lacks it. Linux only: available() says whether it works here.
class RefusedSetsockopt {
 public:
  explicit RefusedSetsockopt(const char* option);
  ~RefusedSetsockopt();
  RefusedSetsockopt(const RefusedSetsockopt&) = delete;
  RefusedSetsockopt& operator=(const RefusedSetsockopt&) = delete;
  static bool available();

 private:
  std::string asan_options_;
};

// --- The homework checker (./workshop check) ---------------------------------
//
// A program's stages are the tests of its suite `<Program>Stages` (echo_server:
// EchoServerStages), one test per stage, named after the stage, in the
// learner's order. Under ctest they are tests like any other. The checker
// runs the same binary with SPOON_CHECK_PROGRAM=LESSON/PROGRAM and, after
// `--`, a learner's COMMAND: every Child of that program then starts COMMAND
// with the test's arguments instead; peers and servers the test starts
// stay the repository's own. tests/support/checker_main.cpp prints the stages.

// The program under check ("" outside the checker) and the command that
// replaces it (empty: the repository's own build of it).
const std::string& checked_program();
const std::vector<std::string>& checked_command();
void set_checked(std::string program, std::vector<std::string> command);  // the main's
// Is a lesson program our own build (no learner's command in its place)?
// Stages check our own wording (log lines, error texts) only there.
bool own_build(std::string_view lesson_program);
// How to start that program by hand, for messages: the learner's COMMAND or build/P.
std::string shown_command(std::string_view lesson_program);

// What became of the checked program in the last failed test (its exit, its
// stderr), once: the checker prints it under the failure.
std::string take_checked_program_report();

// Where a stage's idea is explained (a Fact, a README section): said under a failure.
void hint(std::string_view where);
// The command that shows the same thing by hand (nc, curl), port filled in.
void by_hand(std::string_view command);

// Bytes as a learner reads them: "hi\r\n", "\x00", in quotes.
std::string visible(std::string_view bytes);
// Compares what came back with what was expected, and on a difference says
// what was sent, what was expected, what came back, and puts a caret under
// the first difference (around it only, for long data).
testing::AssertionResult same_bytes(std::string_view sent, std::string_view expected,
                                    std::string_view got);

// A stage's failure, worded for a learner (no "Value of:" around it).
#define STAGE_EXPECT(result)                                      \
  if (const ::testing::AssertionResult stage_result = (result)) { \
  } else                                                          \
    ADD_FAILURE() << stage_result.message()
#define STAGE_ASSERT(result)                                      \
  if (const ::testing::AssertionResult stage_result = (result)) { \
  } else                                                          \
    GTEST_FAIL() << stage_result.message()

// Stages every program shares. A bad command line (an unknown option, a
// missing value, a port not from 0 to 65535, a stray word): `error:` and a
// hint naming --help on stderr, nothing on stdout, exit 2.
void refuses_bad_command_lines(const std::string& program);
// The same for a program's own list of bad command lines (resolve has no
// --port; the sensor refuses a --drop above 1 too). `shown` is the one the
// by-hand command tries.
void refuses_bad_command_lines(const std::string& program,
                               const std::vector<std::vector<std::string>>& bad,
                               const std::string& shown);
// The contract's bad command lines of a program with --port.
std::vector<std::vector<std::string>> bad_port_command_lines();
// A client whose connection is refused: `error: cannot connect to
// 127.0.0.1:PORT: REASON` on stderr (REASON exactly the system's in our build), exit 1.
void exits_one_when_refused(const std::string& program);
// An exit code in words, for a failure's message: "it exited with code 3",
// "it was killed by signal 13", "it had not exited in time".
std::string exit_text(const std::optional<int>& code);

// A Stages suite named otherwise than <Program>Stages says whose stages it
// holds, so that suite names stay unique across lessons (ctest's names are
// the suites'): `const harness::StagesOf chat_server("spoon3-chat/server",
// "ChatServerStages");`. stages_suites() maps each such suite to its program.
struct StagesOf {
  StagesOf(const std::string& program, const std::string& suite);
};
std::vector<std::pair<std::string, std::string>>& stages_suites();  // (suite, program)

// The base of every Stages suite: in the checker, once `prints_port` has
// failed nothing else can be reached, so the later stages are skipped.
class Stages : public testing::Test {
 protected:
  void SetUp() override { skip_if_unreachable(); }

 public:
  // The first stage of a server (prints_port) or of the bot (registers): once
  // it fails, the checker skips the rest. A fixture of its own calls
  // skip_if_unreachable() in its SetUp.
  static bool is_gate(std::string_view stage) {
    return stage == "prints_port" || stage == "registers";
  }
  static void gate_failed() { gate_failed_ = true; }
  static void skip_if_unreachable();

 private:
  static inline bool gate_failed_ = false;
};

}  // namespace harness
