// tests/spoon2_echo_test.cpp — Spoon 2's six programs, held to the contract.
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>
#ifndef _WIN32
#include <sys/ioctl.h>
#endif

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using harness::Child;
using harness::connect_to;
using harness::exit_text;
using harness::exits_one_when_refused;
using harness::Listener;
using harness::own_build;
using harness::refuses_bad_command_lines;
using harness::Result;
using harness::same_bytes;
using harness::shown_command;
using harness::visible;
using namespace std::chrono_literals;

namespace {

std::filesystem::path temp_dir() { return harness::temp_dir("spoon2"); }
using harness::read_file;

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t word = generator();
    std::memcpy(&bytes[i], &word, 8);
  }
  for (std::size_t i = size - size % 8; i < size; ++i)
    bytes[i] = static_cast<char>(generator());
  return bytes;
}

// A plain UDP socket of the test's own, on loopback, with its port.
struct UdpPeer {
  std::uint16_t port = 0;
  net::Socket s = harness::bound_to_loopback(SOCK_DGRAM, port);
  // Receives one datagram (or nothing by the deadline) and who sent it.
  std::optional<std::string> receive(sockaddr_storage& from,
                                     std::chrono::milliseconds patience) const {
    if (!harness::wait_readable(s.get(), harness::Clock::now() + patience)) return std::nullopt;
    char buffer[65536];
    socklen_t length = sizeof from;
    const auto n = ::recvfrom(s.get(), buffer, static_cast<int>(sizeof buffer), 0,
                              reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }
};

const std::vector<std::string> kAllPrograms = {"spoon2-echo/server",      "spoon2-echo/client",
                                               "spoon2-echo/echo_server", "spoon2-echo/echo_client",
                                               "spoon2-echo/udp_server",  "spoon2-echo/udp_client"};

// --- What the stages share ------------------------------------------------
//
// Each program's stages are the suite <Program>Stages (see harness.hpp), which
// ./workshop check runs against a learner's program: what the talk's program
// does first, then what makes it right. A stage holds a program to the
// contract only (its options, its output), so a program in any language can
// pass; our own wording (log lines, error texts) is checked in our build only.

std::string port_text(std::uint16_t port) { return std::to_string(port); }

// SIGTERM while a client is connected: stops, closes, exits 0 within 1 s.
void exits_zero_on_sigterm(Child& server) {
  harness::hint(
      "SIGINT or SIGTERM: stop accepting, close every connection, exit 0 within "
      "one second (the README's 'What we fixed': stopping with Ctrl-C)");
  const auto port = server.port();
  harness::by_hand("start it, connect with nc 127.0.0.1 " + port_text(port) +
                   ", then kill -TERM its pid and echo $?");
  auto client = connect_to(port);
  ASSERT_TRUE(client.send_all("hi\n"));
  client.receive_some(100ms);  // an echo server echoes: it is serving this client now
  server.signal(SIGTERM);
  const auto code = server.wait(1s);
  if (code != 0)
    ADD_FAILURE() << "after SIGTERM " << exit_text(code) << " (expected: exit 0 within 1 s)";
}

}  // namespace

// --- Every program: --help, and bad command lines --------------------------

class EveryProgram : public testing::TestWithParam<std::string> {};

TEST_P(EveryProgram, HelpPrintsUsageToStdoutAndExitsZero) {
  const auto result = harness::run(GetParam(), {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("usage:"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--port"), std::string::npos) << result.out;
  EXPECT_EQ(result.err, "");
}

// Beyond the contract's (each program's stage refuses_a_bad_command_line):
// what our parser refuses too.
TEST_P(EveryProgram, BadCommandLinesPrintOneErrorLineAndExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"--port=12x"},
      // Given twice, empty, or with the next option where its value should be.
      {"--port", "1", "--port", "2"},
      {"--port", ""},
      {"--port", "--help"},
      {"--port="},
      {"--host", ""}};
  for (const auto& args : bad) {
    const auto result = harness::run(GetParam(), args);
    EXPECT_EQ(result.exit_code, 2) << testing::PrintToString(args);
    EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");  // nothing bound, nothing connected, nothing said
  }
}

TEST(EveryProgramCommandLine, SaysWhichOptionWasGivenTwiceOrLacksItsValue) {
  const auto twice = harness::run("spoon2-echo/server", {"--port", "1", "--port", "2"});
  EXPECT_TRUE(twice.err.starts_with("error: --port was given twice\n")) << twice.err;
  const auto missing = harness::run("spoon2-echo/server", {"--log", "--help"});
  EXPECT_TRUE(missing.err.starts_with("error: --log needs a value\n")) << missing.err;
  EXPECT_EQ(missing.out, "");  // not the usage: --help was where the value should be
}

// A time-out too small to express would become 0, which setsockopt reads as
// "never time out": refused instead.
TEST(EveryProgramCommandLine, ATimeoutTooSmallToExpressIsRefusedNotTurnedIntoForever) {
  for (const char* program : {"spoon2-echo/echo_server", "spoon2-echo/udp_client"}) {
    for (const char* tiny : {"1e-7", "0.0001", "0"}) {
      const auto result = harness::run(program, {"--timeout", tiny});
      EXPECT_EQ(result.exit_code, 2) << program << " --timeout " << tiny;
      EXPECT_TRUE(result.err.starts_with("error: --timeout wants a number of seconds"))
          << result.err;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Spoon2, EveryProgram, testing::ValuesIn(kAllPrograms),
                         [](const auto& info) {
                           std::string name = info.param.substr(info.param.find('/') + 1);
                           std::erase(name, '_');
                           return name;
                         });

// --- server: the talk's first server ---------------------------------------

// A folder for the server's log file, gone with the test.
struct LogFolder {
  std::filesystem::path dir = temp_dir();
  std::filesystem::path log = dir / "file.txt";
  LogFolder() = default;
  LogFolder(const LogFolder&) = delete;
  LogFolder& operator=(const LogFolder&) = delete;
  ~LogFolder() { std::filesystem::remove_all(dir); }
};

class Server : public testing::Test, public LogFolder {};
class ServerStages : public harness::Stages, public LogFolder {};

const std::string kThanks = "Thank you for connecting";

TEST_F(ServerStages, prints_port) {
  harness::hint(
      "spoon2-echo/README.md, 'The socket's life, in server.cpp': bind to --port 0, "
      "listen, read the real port back with getsockname, print 'port N' and flush");
  harness::by_hand(shown_command("spoon2-echo/server") + " --port 0 --log file.txt");
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  server.port();
}

TEST_F(ServerStages, thanks_and_closes) {
  harness::hint(
      "send all of 'Thank you for connecting' (no newline), then shutdown and close: "
      "the client reads until recv returns 0 (spoon2-echo/README.md, 'The socket's life')");
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  const auto port = server.port();
  harness::by_hand("nc -N 127.0.0.1 " + port_text(port) + " </dev/null");
  auto client = connect_to(port);
  const auto received = client.receive_until_close();
  if (!received)
    ADD_FAILURE() << "the server did not close the connection within 10 s: after its thanks it "
                     "should shut down and close";
  else
    STAGE_EXPECT(same_bytes({}, kThanks, *received));
}

TEST_F(ServerStages, logs_each_connection) {
  harness::hint(
      "append 'Got connection from IP:PORT' to the --log file, flushed, and print it; "
      "127.0.0.1, not ::ffff:127.0.0.1 (spoon2-echo/README.md, 'What we fixed')");
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  auto client = connect_to(server.port());
  harness::by_hand("nc -N 127.0.0.1 " + port_text(server.port()) + " </dev/null; cat file.txt");
  const std::string expected =
      "Got connection from 127.0.0.1:" + std::to_string(client.local_port());
  EXPECT_TRUE(client.closed_by_peer());
  const auto printed = server.wait_for_line("Got connection");
  STAGE_EXPECT(same_bytes({}, expected, printed.value_or("")))
      << "\n(the line it prints)";                               // IPv4, not ::ffff:127.0.0.1
  STAGE_EXPECT(same_bytes({}, expected + "\n", read_file(log)))  // flushed before the thanks
      << "\n(the --log file)";
}

TEST_F(ServerStages, appends_to_the_log) {
  harness::hint("open the log for appending (\"a\"), not for writing: earlier lines stay");
  std::ofstream(log) << "an earlier line\n";
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  auto client = connect_to(server.port());
  EXPECT_TRUE(client.closed_by_peer());
  ASSERT_TRUE(server.wait_for_line("Got connection")) << "no 'Got connection' line printed";
  const std::string content = read_file(log);
  if (!content.starts_with("an earlier line\nGot connection from 127.0.0.1:"))
    ADD_FAILURE()
        << "the log file holds " << visible(content)
        << "\n  expected \"an earlier line\\n\" kept, then \"Got connection from 127.0.0.1:...\"";
}

TEST_F(ServerStages, serves_many_clients_in_a_row) {
  harness::hint(
      "Fact: a server uses both kinds of socket: the listening one stays open and "
      "accept() gives a new socket per client (spoon2-echo/README.md, 'The talk's Facts')");
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  const auto port = server.port();
  harness::by_hand("for i in 1 2 3; do nc -N 127.0.0.1 " + port_text(port) +
                   " </dev/null; echo; done");
  for (int i = 0; i < 50; ++i) {
    auto client = connect_to(port);
    ASSERT_EQ(client.receive_until_close(), kThanks) << "client " << i;
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0);
  std::istringstream lines(read_file(log));
  int count = 0;
  for (std::string line; std::getline(lines, line);)
    count += line.starts_with("Got connection");
  EXPECT_EQ(count, 50) << "lines 'Got connection' in the log, after 50 clients";
}

TEST_F(ServerStages, survives_a_client_that_resets) {
  harness::hint(
      "a send to a client that has gone fails with EPIPE or ECONNRESET, or kills the "
      "program with SIGPIPE unless it is ignored (spoon2-echo/README.md, 'What we fixed')");
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  const auto port = server.port();
  connect_to(port).reset();
  auto next = connect_to(port);
  STAGE_EXPECT(same_bytes({}, kThanks, next.receive_until_close().value_or("")));
  EXPECT_TRUE(server.running()) << "the server is no longer running";
}

TEST_F(ServerStages, serves_ipv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  harness::hint(
      "listen on :: with IPV6_V6ONLY off: IPv4 and IPv6 clients both; an IPv6 peer is "
      "written [IP]:PORT (spoon2-echo/README.md, 'The talk's Facts': AF_INET6)");
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  harness::by_hand("nc -N ::1 " + port_text(server.port()) + " </dev/null");
  auto client = connect_to(server.port(), "::1");
  STAGE_EXPECT(same_bytes({}, kThanks, client.receive_until_close().value_or("")));
  const auto line = server.wait_for_line("Got connection");
  STAGE_EXPECT(same_bytes({}, "Got connection from [::1]:" + std::to_string(client.local_port()),
                          line.value_or("")));
}

TEST_F(Server, ListensOnlyWhereHostSays) {
  Child server("spoon2-echo/server", {"--host", "127.0.0.1", "--port", "0", "--log", log.string()});
  const auto port = server.port();
  EXPECT_EQ(connect_to(port).receive_until_close(), "Thank you for connecting");
  if (!harness::has_ipv6_loopback()) return;
  net::Socket probe{::socket(AF_INET6, SOCK_STREAM, 0)};
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  address.sin6_port = htons(port);
  EXPECT_NE(::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_TRUE(harness::is_refused(net::last_error())) << net::error_text();
}

TEST_F(ServerStages, exits_zero_on_sigterm_and_sigint) {
  harness::hint(
      "SIGINT or SIGTERM: stop accepting, close, exit 0 within one second "
      "(spoon2-echo/README.md, 'What we fixed': stopping with Ctrl-C)");
  for (const int signal_number : {SIGTERM, SIGINT}) {
    Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
    server.port();
    server.signal(signal_number);
    const auto code = server.wait(1s);
    if (code != 0)
      ADD_FAILURE() << "after " << (signal_number == SIGTERM ? "SIGTERM " : "SIGINT ")
                    << exit_text(code) << " (expected: exit 0 within 1 s)";
  }
}

TEST_F(ServerStages, refuses_a_bad_command_line) {
  refuses_bad_command_lines("spoon2-echo/server");
}

TEST_F(Server, PortInUseExitsOneNamingThePortAndTheReason) {
  const Listener holder;  // a server of the test's own has the port
  const std::string port = std::to_string(holder.port);
  for (const char* program : {"spoon2-echo/server", "spoon2-echo/echo_server"}) {
    std::vector<std::string> args = {"--port", port};
    if (std::string_view(program) == "spoon2-echo/server")
      args.insert(args.end(), {"--log", log.string()});
    const auto result = harness::run(program, args);
    EXPECT_EQ(result.exit_code, 1) << program;
    EXPECT_EQ(result.err,
              "error: cannot bind to port " + port + ": " + harness::reason(EADDRINUSE) + "\n");
  }
}

// Where IPV6_V6ONLY cannot be turned off, :: would take IPv6 clients only and
// refuse every 127.0.0.1 client: the server takes 0.0.0.0 instead, and says
// so. Asked for :: by name, it fails, naming the call.
TEST_F(Server, FallsBackToIpv4WhereIpv6OnlyCannotBeTurnedOff) {
  if (!harness::RefusedSetsockopt::available()) GTEST_SKIP() << "needs LD_PRELOAD (Linux)";
  const std::vector<std::string> args = {"--port", "0", "--log", log.string()};
  Child server = [&] {
    const harness::RefusedSetsockopt refusing("IPV6_V6ONLY");
    return Child("spoon2-echo/server", args);
  }();
  const auto bound = server.wait_for_line("socket bound to ");
  const auto port = server.port();
  EXPECT_EQ(bound, "socket bound to 0.0.0.0:" + std::to_string(port));
  auto client = connect_to(port, "127.0.0.1");
  EXPECT_EQ(client.receive_until_close(), "Thank you for connecting");

  if (!harness::has_ipv6_loopback()) return;
  const harness::RefusedSetsockopt refusing("IPV6_V6ONLY");
  const auto named =
      harness::run("spoon2-echo/server", {"--host", "::", "--port", "0", "--log", log.string()});
  EXPECT_EQ(named.exit_code, 1);
  EXPECT_EQ(named.err, "error: setsockopt IPV6_V6ONLY: " + harness::reason(ENOPROTOOPT) + "\n");
}

TEST_F(Server, AReuseAddressItCannotSetExitsOneNamingTheCall) {
  if (!harness::RefusedSetsockopt::available()) GTEST_SKIP() << "needs LD_PRELOAD (Linux)";
  const harness::RefusedSetsockopt refusing("SO_REUSEADDR");
  const auto result = harness::run("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "error: setsockopt SO_REUSEADDR: " + harness::reason(ENOPROTOOPT) + "\n");
}

TEST_F(Server, UnopenableLogFileExitsOneBeforeListening) {
  const auto result =
      harness::run("spoon2-echo/server", {"--port", "0", "--log", (dir / "no/such/dir").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("error: cannot open log file")) << result.err;
  EXPECT_EQ(result.out.find("port"), std::string::npos);
}

TEST_F(Server, AnswersNetcatLikeAnyOtherClient) {
#ifdef _WIN32
  GTEST_SKIP() << "nc is a POSIX tool; Windows has no nc to test with";
#endif
  if (std::system("command -v nc >/dev/null 2>&1") != 0)
    GTEST_FAIL() << "nc is missing: ./workshop test installs netcat-openbsd";
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  const auto result = std::system(("nc -w 5 127.0.0.1 " + std::to_string(server.port()) +
                                   " </dev/null >" + (dir / "nc.out").string())
                                      .c_str());
  EXPECT_EQ(result, 0);
  EXPECT_EQ(read_file(dir / "nc.out"), "Thank you for connecting");
}

// --- client ----------------------------------------------------------------

class ClientStages : public harness::Stages {};

// The client's output: everything the server sent, and (our decision) a
// newline at the end, so the prompt starts on a line of its own; another
// program may leave that newline out.
void prints_what_came(const Result& result, const std::string& sent) {
  if (result.exit_code != 0) ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0)";
  if (!own_build("spoon2-echo/client") && result.out == sent) return;
  STAGE_EXPECT(same_bytes(sent, sent + "\n", result.out)) << "\n(its stdout)";
}

TEST_F(ClientStages, prints_the_thanks) {
  harness::hint(
      "connect to --host and --port, print what the server sends, exit 0 "
      "(spoon2-echo/README.md, 'The socket's life')");
  LogFolder folder;
  Child server("spoon2-echo/server", {"--port", "0", "--log", folder.log.string()});
  harness::by_hand(shown_command("spoon2-echo/client") + " --port " + port_text(server.port()));
  prints_what_came(harness::run("spoon2-echo/client", {"--port", port_text(server.port())}),
                   kThanks);
}

TEST_F(ClientStages, reads_until_the_server_closes) {
  harness::hint(
      "Fact: there is no EOT on a socket: one recv is not one message; read until "
      "recv returns 0 (spoon2-echo/README.md, 'What we fixed': print(s.recv(1024)))");
  Listener listener;
  Child client("spoon2-echo/client", {"--port", port_text(listener.port)});
  {
    auto connection = listener.accept();
    // Two sends, then the close: the client cannot know where a message ends.
    // A client that takes one recv as the message has exited by the second.
    connection.send_all("Thank you ");
    client.wait(200ms);
    connection.send_all("for connecting");
  }
  const auto code = client.wait();
  prints_what_came(Result{code, client.out(), client.err()}, kThanks);
}

TEST_F(ClientStages, exits_one_when_refused) { exits_one_when_refused("spoon2-echo/client"); }

TEST_F(ClientStages, refuses_a_bad_command_line) {
  refuses_bad_command_lines("spoon2-echo/client");
}

TEST(Client, UnresolvableHostExitsOne) {
  const auto result = harness::run("spoon2-echo/client", {"--host", "no-such-host.invalid"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("error: cannot connect to no-such-host.invalid:12345: "))
      << result.err;
}

// --- echo_server and echo_client: the talk's `with` echo pair ---------------

// How many received bytes wait unread in our socket.
std::size_t unread(net::socket_t s) {
#ifdef _WIN32
  u_long count = 0;
  ioctlsocket(s, FIONREAD, &count);
#else
  int count = 0;
  ioctl(s, FIONREAD, &count);
#endif
  return static_cast<std::size_t>(count);
}

// Fills both directions' buffers without ever reading the echo (with a small
// receive buffer, so that this is soon), until the server's send is blocked:
// we cannot send, and no more echo arrives, for a while.
void fill_until_the_server_blocks(const harness::Connection& hog) {
  const int small = 4096;
  setsockopt(hog.get(), SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&small), sizeof small);
  net::set_nonblocking(hog.get());
  const std::string chunk(65536, 'x');
  for (int rounds = 0; rounds < 100000;
       ++rounds) {  // (a bound, should the server read without end)
    if (::send(hog.get(), chunk.data(), static_cast<int>(chunk.size()), 0) > 0) continue;
    const std::size_t echoed = unread(hog.get());
    pollfd room{hog.get(), POLLOUT, 0};
    if (::poll(&room, 1, 200) == 0 && unread(hog.get()) == echoed) return;
  }
}

class EchoServerStages : public harness::Stages {};

TEST_F(EchoServerStages, prints_port) {
  harness::hint(
      "spoon2-echo/README.md, 'The socket's life, in server.cpp': bind to --port 0, "
      "listen, read the real port back with getsockname, print 'port N' and flush");
  harness::by_hand(shown_command("spoon2-echo/echo_server") + " --port 0");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  server.port();
}

TEST_F(EchoServerStages, echoes_a_line) {
  harness::hint(
      "the talk's `with` echo server: send back what each recv returned "
      "(spoon2-echo/README.md, 'server.cpp → echo_server.cpp')");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  const auto port = server.port();
  harness::by_hand("printf 'hello\\n' | nc -N 127.0.0.1 " + port_text(port));
  auto client = connect_to(port);
  ASSERT_TRUE(client.send_all("hello\n"));
  STAGE_EXPECT(same_bytes("hello\n", "hello\n", client.receive_exactly(6)));
}

// One recv is not one message: a server that answers the first piece and
// closes gets the second piece wrong.
TEST_F(EchoServerStages, echoes_until_the_client_closes) {
  harness::hint(
      "Fact: there is no EOT on a socket: keep receiving and echoing until recv returns "
      "0 (the client's half-close), then close (spoon2-echo/README.md, 'The talk's Facts')");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  const auto port = server.port();
  harness::by_hand("(printf 'one '; sleep 1; printf 'two\\n') | nc -N 127.0.0.1 " +
                   port_text(port));
  auto client = connect_to(port);
  for (const std::string piece : {"one ", "two\n"}) {
    ASSERT_TRUE(client.send_all(piece)) << "the server reset the connection";
    STAGE_ASSERT(same_bytes(piece, piece, client.receive_exactly(piece.size())));
  }
  client.shutdown_write();
  const auto rest = client.receive_until_close();
  if (!rest)
    ADD_FAILURE() << "after our half-close (shutdown of our sending side) the server did not close "
                     "the connection within 10 s: its recv returns 0 there, and it should close";
  else
    STAGE_EXPECT(same_bytes({}, "", *rest)) << "\n(after our half-close)";
}

TEST_F(EchoServerStages, serves_one_client_after_another) {
  harness::hint(
      "after one client closes, go back to accept() for the next "
      "(spoon2-echo/README.md, 'What we fixed': the talk's echo server serves one client)");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  const auto port = server.port();
  harness::by_hand("for i in 1 2 3; do echo $i | nc -N 127.0.0.1 " + port_text(port) + "; done");
  for (int i = 1; i <= 3; ++i) {
    const std::string line = "client " + std::to_string(i) + "\n";
    auto client = connect_to(port);
    ASSERT_TRUE(client.send_all(line));
    client.shutdown_write();
    STAGE_ASSERT(same_bytes(line, line, client.receive_until_close().value_or("")));
  }
}

TEST_F(EchoServerStages, echoes_every_byte_of_a_mebibyte) {
  harness::hint(
      "binary safe, any size: send back exactly what came, all of it (sendall), "
      "zero bytes included (spoon2-echo/README.md, 'What we fixed': send's return value)");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  harness::by_hand("head -c 1048576 /dev/urandom > in; nc -N 127.0.0.1 " +
                   port_text(server.port()) + " <in >out; cmp in out");
  auto client = connect_to(server.port());
  const std::string data = random_bytes(1 << 20, 1) + std::string("\0\r\n\0", 4);
  // Send and read at once (the test is its own echo_client): see echo_client.cpp.
  std::string echoed;
  std::string_view rest = data;
  while (!rest.empty()) {
    const std::size_t piece = std::min<std::size_t>(rest.size(), 65536);
    ASSERT_TRUE(client.send_all(rest.substr(0, piece))) << "the server reset the connection";
    rest.remove_prefix(piece);
    echoed += client.receive_exactly(data.size() - rest.size() - echoed.size());
  }
  client.shutdown_write();
  const auto tail = client.receive_until_close();
  ASSERT_TRUE(tail) << "the server did not close after our half-close";
  STAGE_EXPECT(same_bytes(data, data, echoed + *tail));
}

// A reset while the echoes are on their way: the server's sends meet a socket
// that has gone, which kills a program that lets SIGPIPE kill it.
TEST_F(EchoServerStages, survives_a_client_that_resets) {
  harness::hint(
      "a send to a client that reset fails (EPIPE, ECONNRESET) — and by default "
      "kills the program with SIGPIPE: ignore it (spoon2-echo/README.md, 'What we fixed')");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  const auto port = server.port();
  auto rude = connect_to(port);
  ASSERT_TRUE(rude.send_all("first"));
  ASSERT_EQ(rude.receive_exactly(5), "first") << "no echo of the first piece";
  // Much more, never read, until the server is stuck sending us its echo; then
  // the reset: that send fails, and any send after the failed one raises SIGPIPE.
  fill_until_the_server_blocks(rude);
  rude.reset();
  auto next = connect_to(port);
  ASSERT_TRUE(next.send_all("ok"));
  STAGE_EXPECT(same_bytes("ok", "ok", next.receive_exactly(2))) << "\n(the next client)";
  EXPECT_TRUE(server.running()) << "the server is no longer running";
}

TEST_F(EchoServerStages, drops_a_silent_client_after_the_timeout) {
  harness::hint(
      "one client at a time: give each recv --timeout seconds (SO_RCVTIMEO), then drop "
      "the client and serve the next (spoon2-echo/README.md, 'What we fixed')");
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "0.2"});
  const auto port = server.port();
  auto silent = connect_to(port);
  auto next = connect_to(port);  // queued in the backlog behind the silent one
  EXPECT_TRUE(silent.closed_by_peer()) << "the silent client was not dropped within 10 s";
  if (own_build("spoon2-echo/echo_server")) {
    EXPECT_TRUE(server.wait_for_line("timed out"));
  }
  ASSERT_TRUE(next.send_all("still there?"));
  STAGE_EXPECT(same_bytes("still there?", "still there?", next.receive_exactly(12)))
      << "\n(the client queued behind it)";
}

TEST_F(EchoServerStages, drops_a_client_that_never_reads) {
  harness::hint(
      "a client that never reads blocks your send: give sending back each piece "
      "--timeout seconds too, then drop it (spoon2-echo/README.md, 'What we fixed')");
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "0.2"});
  const auto port = server.port();
  auto hog = connect_to(port);
  // Fill both directions' buffers without ever reading the echo: our send
  // blocks once they are full, and gives up after its own time-out.
  const std::string chunk(65536, 'x');
  net::set_timeouts(hog.get(), 0.5);
  while (::send(hog.get(), chunk.data(), static_cast<int>(chunk.size()), 0) > 0) {
  }
  if (own_build("spoon2-echo/echo_server")) {
    EXPECT_TRUE(server.wait_for_line("timed out"));
  }
  auto next = connect_to(port);
  ASSERT_TRUE(next.send_all("hello"));
  STAGE_EXPECT(same_bytes("hello", "hello", next.receive_exactly(5)))
      << "\n(the client queued behind it)";
}

TEST_F(EchoServerStages, serves_ipv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  harness::hint(
      "listen on :: with IPV6_V6ONLY off: IPv4 and IPv6 clients both "
      "(spoon2-echo/README.md, 'The talk's Facts': AF_INET6)");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  harness::by_hand("printf 'six' | nc -N ::1 " + port_text(server.port()));
  auto client = connect_to(server.port(), "::1");
  ASSERT_TRUE(client.send_all("six"));
  STAGE_EXPECT(same_bytes("six", "six", client.receive_exactly(3)));
  if (own_build("spoon2-echo/echo_server")) {
    EXPECT_TRUE(server.wait_for_line("Connected by [::1]:"));
  }
}

TEST_F(EchoServerStages, exits_zero_on_sigterm) {
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  exits_zero_on_sigterm(server);  // while it serves a client
}

TEST_F(EchoServerStages, refuses_a_bad_command_line) {
  refuses_bad_command_lines("spoon2-echo/echo_server");
}

// One client at a time, so a client without time-outs could hold everyone:
// where they cannot be set, it is not served, and the server says why.
TEST(EchoServer, AClientWhoseTimeoutsCannotBeSetIsNotServedAndTheServerSaysWhy) {
  if (!harness::RefusedSetsockopt::available()) GTEST_SKIP() << "needs LD_PRELOAD (Linux)";
  Child server = [] {
    const harness::RefusedSetsockopt refusing("SO_RCVTIMEO");
    return Child("spoon2-echo/echo_server", {"--port", "0"});
  }();
  auto client = connect_to(server.port());
  EXPECT_TRUE(client.closed_by_peer());
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0);
  EXPECT_NE(server.err().find("set_timeouts for 127.0.0.1:" + std::to_string(client.local_port()) +
                              ": " + harness::reason(ENOPROTOOPT) + "\n"),
            std::string::npos)
      << server.err();
}

// --timeout means "this long and no more" for a client that stopped reading:
// not once per send, which after a partial send starts again (twice as long).
TEST(EchoServer, AClientThatStopsReadingHoldsTheNextOnlyForTheTimeout) {
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "2"});
  const auto port = server.port();
  auto hog = connect_to(port);
  auto next = connect_to(port);  // queued behind the hog
  ASSERT_TRUE(next.send_all("next"));
  fill_until_the_server_blocks(hog);
  const auto blocked = harness::Clock::now();
  EXPECT_EQ(next.receive_exactly(4), "next");
  const auto waited = std::chrono::duration<double>(harness::Clock::now() - blocked).count();
  EXPECT_LT(waited, 2.0 + 1.0) << "the next client waited " << waited << " s";
  EXPECT_TRUE(server.wait_for_line("timed out")) << server.out();
}

// A stop must not wait for a send blocked on a client that does not read, and
// a send that has moved some bytes before the stop must not block again. The
// client reads once, a little, so that the server's blocked send makes some
// progress; then it reads no more, and the stop comes.
TEST(EchoServer, ExitsZeroWithinOneSecondOnSigtermWhileBlockedSendingToAClientThatDoesNotRead) {
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "60"});
  auto hog = connect_to(server.port());
  fill_until_the_server_blocks(hog);  // a small window: the server's sends block often, partly done
  ASSERT_FALSE(hog.receive_some().empty());  // room again: the blocked send moves on...
  ASSERT_TRUE(harness::wait_readable(hog.get(), harness::Clock::now() + harness::kPatience));
  server.signal(SIGTERM);  // ...and is blocked again, with part of its piece sent
  EXPECT_EQ(server.wait(1s), 0) << server.out() << server.err();
  // The stop is the server's own doing, and says so: not an error of the client's.
  EXPECT_EQ(server.out().find("Interrupted"), std::string::npos) << server.out();
}

// With no descriptor to spare, accept() fails at once, again and again: said
// once, with a pause before each try, and the client is served once
// descriptors are free again — for both of Spoon 2's TCP servers.
TEST(EchoServer, AnAcceptFailingForWantOfDescriptorsIsSaidOnceAndTheServerRecovers) {
  const auto dir = temp_dir();
  for (const std::string program : {"spoon2-echo/echo_server", "spoon2-echo/server"}) {
    std::vector<std::string> args = {"--port", "0"};
    if (program == "spoon2-echo/server") args.insert(args.end(), {"--log", (dir / "log").string()});
    Child server(program, args);
    const auto port = server.port();
    if (!server.limit_open_files(0)) GTEST_SKIP() << "prlimit is Linux's";
    // Two clients: an accept() already blocked holds a descriptor it took
    // before the limit, so the first is taken, and the next accept() fails.
    std::vector<harness::Connection> clients;
    for (int i = 0; i < 2; ++i) {
      clients.push_back(connect_to(port));  // the kernel completes the handshake
      ASSERT_TRUE(clients.back().send_all("back"));
      clients.back().shutdown_write();
    }
    ASSERT_TRUE(server.wait_for_err("accept: ")) << program << server.err();
    // Half a second out of descriptors, the last client unserved: a server
    // that retries at once spins through it (half a second of CPU, on a free
    // core); one that backs off spends hardly any.
    const auto cpu_before = server.cpu_seconds();
    EXPECT_EQ(clients.back().receive_some(500ms), "") << program;
    const auto cpu_after = server.cpu_seconds();
    ASSERT_TRUE(cpu_before && cpu_after) << "no /proc/" << server.pid() << "/stat";
    EXPECT_LT(*cpu_after - *cpu_before, 0.25) << program << ": seconds of CPU in half a second";
    server.restore_open_files();
    for (auto& client : clients)
      EXPECT_EQ(client.receive_until_close(),
                program == "spoon2-echo/server" ? "Thank you for connecting" : "back")
          << program;
    const std::string err = server.err();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1)
        << program << ": " << err.size() << " bytes:\n"
        << err.substr(0, 500);
    EXPECT_TRUE(err.starts_with("accept: " + harness::reason(EMFILE))) << err.substr(0, 500);
  }
  std::filesystem::remove_all(dir);
}

// The README's by-hand command: nc -N half-closes at its end of input (Debian's
// nc does not without -N), so the server closes too and nc exits, echo received.
TEST(EchoServer, EchoesForNetcatWithDashNAndClosesAtItsEndOfInput) {
#ifdef _WIN32
  GTEST_SKIP() << "nc is a POSIX tool; Windows has no nc to test with";
#endif
  if (std::system("command -v nc >/dev/null 2>&1") != 0)
    GTEST_FAIL() << "nc is missing: ./workshop test installs netcat-openbsd";
  const auto dir = temp_dir();
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "60"});
  // `timeout 10` is the deadline: an nc that does not half-close waits for ever.
  const std::string command = "printf 'hello\\n' | timeout 10 nc -N 127.0.0.1 " +
                              std::to_string(server.port()) + " >" + (dir / "nc.out").string();
  EXPECT_EQ(std::system(command.c_str()), 0);
  EXPECT_EQ(read_file(dir / "nc.out"), "hello\n");
  EXPECT_TRUE(server.wait_for_line("after echoing 6 bytes"));
  std::filesystem::remove_all(dir);
}

class EchoClientStages : public harness::Stages {};

TEST_F(EchoClientStages, echoes_its_input) {
  harness::hint(
      "send standard input to the server, write what comes back to standard output "
      "(spoon2-echo/README.md, 'client.cpp → echo_client.cpp')");
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  harness::by_hand("printf 'hello\\n' | " + shown_command("spoon2-echo/echo_client") + " --port " +
                   port_text(server.port()));
  const auto result =
      harness::run("spoon2-echo/echo_client", {"--port", port_text(server.port())}, "hello\n");
  if (result.exit_code != 0) ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0)";
  STAGE_EXPECT(same_bytes("hello\n", "hello\n", result.out)) << "\n(its stdout)";
}

TEST_F(EchoClientStages, half_closes_at_end_of_input) {
  harness::hint(
      "Tip: shutdown() before close(): at the end of input shut down the sending side "
      "only (SHUT_WR), then read until the server closes (spoon2-echo/README.md, "
      "'Why echo_client has two threads')");
  Listener listener;
  harness::by_hand("nc -l 127.0.0.1 " + port_text(listener.port) + " & printf 'ping\\n' | " +
                   shown_command("spoon2-echo/echo_client") + " --port " +
                   port_text(listener.port));
  Child client("spoon2-echo/echo_client", {"--port", port_text(listener.port)});
  client.write_stdin("ping\n");
  client.close_stdin();
  {
    auto connection = listener.accept();
    const auto everything = connection.receive_until_close();  // EOF: the client's shutdown
    if (!everything)
      ADD_FAILURE() << "at the end of its input the client did not half-close within 10 s "
                       "(our server saw no end: recv never returned 0)";
    else
      STAGE_EXPECT(same_bytes("ping\n", "ping\n", *everything)) << "\n(what our server received)";
    EXPECT_TRUE(connection.send_all("pong\n"));  // its read side is still open
  }
  const auto code = client.wait();
  if (code != 0) ADD_FAILURE() << exit_text(code) << " (expected 0)";
  STAGE_EXPECT(same_bytes("pong\n", "pong\n", client.out()))
      << "\n(its stdout: our server answered after the half-close)";
}

TEST_F(EchoClientStages, moves_100_mib_without_deadlock) {
  harness::hint(
      "send and receive at once (two threads, or poll): sending all first fills both "
      "directions' buffers and both sides wait for ever (spoon2-echo/README.md, "
      "'Why echo_client has two threads')");
  const std::string data = random_bytes(100u << 20, 2);  // before the clock of any time-out runs
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "60"});
  harness::by_hand("head -c 104857600 /dev/urandom > in; " +
                   shown_command("spoon2-echo/echo_client") + " --port " +
                   port_text(server.port()) + " <in >out; cmp in out");
  Child client("spoon2-echo/echo_client", {"--port", port_text(server.port())});
  client.write_stdin(data);  // the harness reads the client's stdout meanwhile
  client.close_stdin();
  const auto code = client.wait(60s);
  ASSERT_EQ(code, 0) << exit_text(code) << " within 60 s (expected 0); stderr:\n" << client.err();
  STAGE_EXPECT(same_bytes(data, data, client.out())) << "\n(its stdout)";
}

TEST_F(EchoClientStages, exits_one_when_refused) {
  exits_one_when_refused("spoon2-echo/echo_client");
}

TEST_F(EchoClientStages, refuses_a_bad_command_line) {
  refuses_bad_command_lines("spoon2-echo/echo_client");
}

// A person at a terminal: each line goes out (and its echo comes back) when
// Enter is pressed, and Ctrl-D on an empty line ends the input, once.
TEST(EchoClient, TypedIntoATerminalEchoesEachLineAtOnceAndEndsAtTheFirstCtrlD) {
#ifdef _WIN32
  GTEST_SKIP() << "a pseudo-terminal (openpty) is POSIX's; a Windows console is another thing";
#else
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "60"});  // as the README's
  const harness::Terminal keyboard;
  Child client(keyboard, "spoon2-echo/echo_client", {"--port", std::to_string(server.port())});
  keyboard.type("hello\n");
  EXPECT_EQ(client.read_line(), "hello") << "no echo before the end of input";
  keyboard.type("again\n");
  EXPECT_EQ(client.read_line(), "again");
  keyboard.press_end_of_input();  // on an empty line: the end
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.err(), "");
  EXPECT_EQ(client.out(), "hello\nagain\n");
  EXPECT_TRUE(server.wait_for_line("after echoing 12 bytes"));
#endif
}

// The person who pauses longer than the server's --timeout: the server hangs
// up, and the client says so — not that its input was lost on the way.
TEST(EchoClient, TypedIntoATerminalAPauseLongerThanTheServersTimeoutEndsWithAnError) {
#ifdef _WIN32
  GTEST_SKIP() << "a pseudo-terminal (openpty) is POSIX's; a Windows console is another thing";
#else
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "0.2"});
  const harness::Terminal keyboard;
  Child client(keyboard, "spoon2-echo/echo_client", {"--port", std::to_string(server.port())});
  keyboard.type("hello\n");
  EXPECT_EQ(client.read_line(), "hello");
  EXPECT_EQ(client.wait(), 1);  // no more typing: the server's time-out runs out
  EXPECT_EQ(client.err(), "error: the server closed the connection before the end of the input\n");
  EXPECT_TRUE(server.wait_for_line("timed out"));
#endif
}

TEST(EchoClient, ServerClosingBeforeTheEndOfTheInputIsAnErrorThatSaysSo) {
  Listener listener;
  Child client("spoon2-echo/echo_client", {"--port", std::to_string(listener.port)});
  { auto connection = listener.accept(); }  // closed at once; stdin stays open
  EXPECT_EQ(client.wait(), 1);
  EXPECT_EQ(client.err(), "error: the server closed the connection before the end of the input\n");
}

// --- udp_server and udp_client ----------------------------------------------

class UdpServerStages : public harness::Stages {};

// The test's own UDP socket sends to the server on 127.0.0.1.
void send_datagram(const UdpPeer& peer, std::uint16_t port, const std::string& datagram) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  ASSERT_EQ(::sendto(peer.s.get(), datagram.data(), static_cast<int>(datagram.size()), 0,
                     reinterpret_cast<sockaddr*>(&address), sizeof address),
            static_cast<int>(datagram.size()));
}

TEST_F(UdpServerStages, prints_port) {
  harness::hint(
      "bind a SOCK_DGRAM socket to --port 0, read the port back with getsockname, "
      "print 'port N' (spoon2-echo/README.md, 'echo_server.cpp → udp_server.cpp')");
  harness::by_hand(shown_command("spoon2-echo/udp_server") + " --port 0");
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  server.port();
}

TEST_F(UdpServerStages, answers_a_datagram) {
  harness::hint(
      "recvfrom tells who sent it: sendto that address the same bytes "
      "(spoon2-echo/README.md, 'UDP, in two paragraphs')");
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  const auto port = server.port();
  harness::by_hand("printf 'hello' | nc -u -w 1 127.0.0.1 " + port_text(port));
  UdpPeer peer;
  send_datagram(peer, port, "hello");
  sockaddr_storage from{};
  STAGE_EXPECT(same_bytes("hello", "hello", peer.receive(from, harness::kPatience).value_or("")));
}

TEST_F(UdpServerStages, keeps_datagram_boundaries) {
  harness::hint(
      "Fact: UDP keeps message boundaries: one recvfrom, one datagram, empty and "
      "binary ones too, each answered from the server's port (spoon2-echo/README.md, 'UDP')");
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  const auto port = server.port();
  UdpPeer peer;
  const std::vector<std::string> datagrams = {"one", std::string("t\0o", 3), "",
                                              random_bytes(60000, 3)};
  for (const auto& datagram : datagrams)
    send_datagram(peer, port, datagram);
  for (const auto& datagram : datagrams) {
    sockaddr_storage from{};
    const auto answer = peer.receive(from, harness::kPatience);  // one recv, one datagram
    STAGE_EXPECT(same_bytes(datagram, datagram, answer.value_or("")))
        << (answer ? "" : "\n(no answer within 10 s)");
    EXPECT_EQ(net::port_of(from), port) << "the answer came from another port";
  }
}

TEST_F(UdpServerStages, exits_zero_on_sigterm) {
  harness::hint("SIGINT or SIGTERM: exit 0 within one second, also while blocked in recvfrom");
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  server.port();
  server.signal(SIGTERM);
  const auto code = server.wait(1s);
  if (code != 0)
    ADD_FAILURE() << "after SIGTERM " << exit_text(code) << " (expected: exit 0 within 1 s)";
}

TEST_F(UdpServerStages, refuses_a_bad_command_line) {
  refuses_bad_command_lines("spoon2-echo/udp_server");
}

class UdpClientStages : public harness::Stages {};

// Our build waits 0.1 s for a reply (fast tests); another program, the
// contract's 1 s, since --timeout is ours.
std::vector<std::string> udp_client_args(std::uint16_t port) {
  std::vector<std::string> args = {"--port", port_text(port)};
  if (own_build("spoon2-echo/udp_client")) args.insert(args.end(), {"--timeout", "0.1"});
  return args;
}

TEST_F(UdpClientStages, prints_the_reply_to_each_line) {
  harness::hint(
      "each line of standard input, without its newline, is one datagram; print each "
      "reply on a line (spoon2-echo/README.md, 'echo_client.cpp → udp_client.cpp')");
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  harness::by_hand("printf 'hello\\nworld\\n' | " + shown_command("spoon2-echo/udp_client") +
                   " --port " + port_text(server.port()));
  const auto result = harness::run("spoon2-echo/udp_client", {"--port", port_text(server.port())},
                                   "hello\nworld\n");
  if (result.exit_code != 0)
    ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0); stderr:\n" << result.err;
  STAGE_EXPECT(same_bytes("hello\nworld\n", "hello\nworld\n", result.out)) << "\n(its stdout)";
}

TEST_F(UdpClientStages, retries_then_gives_up_after_three_tries) {
  harness::hint(
      "UDP may lose a datagram: without a reply in time, send it again; 3 tries in all, "
      "then 'error: no reply from HOST:PORT after 3 tries', exit 1 (spoon2-echo/README.md, 'UDP')");
  UdpPeer silent;  // receives, never answers, and so never causes a refusal
  Child client("spoon2-echo/udp_client", udp_client_args(silent.port));
  client.write_stdin("anyone?\n");
  client.close_stdin();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    sockaddr_storage from{};
    const auto datagram = silent.receive(from, harness::kPatience);
    ASSERT_TRUE(datagram) << "try " << attempt << " of 3 did not come within 10 s";
    STAGE_EXPECT(same_bytes("anyone?\n", "anyone?", *datagram)) << "\n(try " << attempt << ")";
  }
  const auto code = client.wait();
  if (code != 1) ADD_FAILURE() << exit_text(code) << " (expected 1)";
  STAGE_EXPECT(same_bytes(
      {}, "error: no reply from 127.0.0.1:" + port_text(silent.port) + " after 3 tries\n",
      client.err()))
      << "\n(its stderr)";
  sockaddr_storage from{};
  EXPECT_FALSE(silent.receive(from, 0ms)) << "a fourth try came";
}

TEST_F(UdpClientStages, recovers_a_lost_reply) {
  harness::hint("a retry is how a lost datagram is recovered: the second try's reply counts");
  UdpPeer flaky;  // ignores the first datagram, answers the second
  Child client("spoon2-echo/udp_client", udp_client_args(flaky.port));
  client.write_stdin("again\n");
  client.close_stdin();
  sockaddr_storage from{};
  ASSERT_EQ(flaky.receive(from, harness::kPatience), "again") << "no first try";
  ASSERT_EQ(flaky.receive(from, harness::kPatience), "again") << "no second try";
  ASSERT_EQ(::sendto(flaky.s.get(), "again", 5, 0, reinterpret_cast<sockaddr*>(&from),
                     sizeof(sockaddr_in)),
            5);
  const auto code = client.wait();
  if (code != 0) ADD_FAILURE() << exit_text(code) << " (expected 0)";
  STAGE_EXPECT(same_bytes("again\n", "again\n", client.out())) << "\n(its stdout)";
}

// A retry means two answers may come back: the late one must not be taken
// for the next line's answer, shifting every later line by one.
TEST_F(UdpClientStages, drops_a_late_or_duplicated_reply) {
  harness::hint(
      "after a retry two replies may come: match a reply to its line, drop the extra "
      "one (spoon2-echo/README.md, 'UDP')");
  UdpPeer peer;  // answers each datagram twice, as a network may duplicate it
  Child client("spoon2-echo/udp_client", {"--port", port_text(peer.port)});
  client.write_stdin("one\ntwo\nthree\n");
  client.close_stdin();
  for (const std::string expected : {"one", "two", "three"}) {
    sockaddr_storage from{};
    ASSERT_EQ(peer.receive(from, harness::kPatience), expected);
    for (int copy = 0; copy < 2; ++copy)
      ASSERT_EQ(::sendto(peer.s.get(), expected.data(), static_cast<int>(expected.size()), 0,
                         reinterpret_cast<sockaddr*>(&from), sizeof(sockaddr_in)),
                static_cast<int>(expected.size()));
  }
  const auto code = client.wait();
  if (code != 0) ADD_FAILURE() << exit_text(code) << " (expected 0); stderr:\n" << client.err();
  STAGE_EXPECT(same_bytes("one\ntwo\nthree\n", "one\ntwo\nthree\n", client.out()))
      << "\n(its stdout)";
  if (own_build("spoon2-echo/udp_client")) {
    EXPECT_NE(client.err().find("dropped a reply"), std::string::npos) << client.err();
  }
}

TEST_F(UdpClientStages, works_over_ipv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  harness::hint("resolve --host with getaddrinfo (AF_UNSPEC) and use the family it returns");
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  const auto result = harness::run("spoon2-echo/udp_client",
                                   {"--host", "::1", "--port", port_text(server.port())}, "v6\n");
  if (result.exit_code != 0)
    ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0); stderr:\n" << result.err;
  STAGE_EXPECT(same_bytes("v6\n", "v6\n", result.out)) << "\n(its stdout)";
  EXPECT_TRUE(server.wait_for_line("from [::1]:"));
}

TEST_F(UdpClientStages, refuses_a_bad_command_line) {
  refuses_bad_command_lines("spoon2-echo/udp_client");
}

TEST(UdpClient, ARefusalEndsItEarlyWithAnError) {
  std::uint16_t port = 0;
  {
    UdpPeer gone;  // a port that was free a moment ago: ICMP port unreachable
    port = gone.port;
  }
  const auto result =
      harness::run("spoon2-echo/udp_client", {"--port", std::to_string(port)}, "hello?\n", 2s);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
}
