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
using harness::Listener;
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

TEST_P(EveryProgram, BadCommandLinesPrintOneErrorLineAndExitTwo) {
  const std::vector<std::vector<std::string>> bad = {
      {"--bogus"},
      {"--port"},
      {"--port", "70000"},
      {"--port", "abc"},
      {"--port", "-1"},
      {"--port=12x"},
      {"stray"},
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

class Server : public testing::Test {
 protected:
  std::filesystem::path dir = temp_dir();
  std::filesystem::path log = dir / "file.txt";
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(Server, ThanksEachClientThenClosesTheConnection) {
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  auto client = connect_to(server.port());
  EXPECT_EQ(client.receive_until_close(), "Thank you for connecting");
}

TEST_F(Server, LogsEachConnectionWithTheClientsRealAddressAndPort) {
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  auto client = connect_to(server.port());
  const std::string expected =
      "Got connection from 127.0.0.1:" + std::to_string(client.local_port());
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_EQ(server.wait_for_line("Got connection"), expected);  // IPv4, not ::ffff:127.0.0.1
  EXPECT_EQ(read_file(log), expected + "\n");  // written and flushed before the thanks
}

TEST_F(Server, AppendsToTheLogRatherThanReplacingIt) {
  std::ofstream(log) << "an earlier line\n";
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  auto client = connect_to(server.port());
  EXPECT_TRUE(client.closed_by_peer());
  ASSERT_TRUE(server.wait_for_line("Got connection"));
  EXPECT_TRUE(read_file(log).starts_with("an earlier line\nGot connection from 127.0.0.1:"));
}

TEST_F(Server, ServesManyClientsInARow) {
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  const auto port = server.port();
  for (int i = 0; i < 50; ++i) {
    auto client = connect_to(port);
    ASSERT_EQ(client.receive_until_close(), "Thank you for connecting") << "client " << i;
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0);
  std::istringstream lines(read_file(log));
  int count = 0;
  for (std::string line; std::getline(lines, line);)
    count += line.starts_with("Got connection");
  EXPECT_EQ(count, 50);
}

TEST_F(Server, AcceptsIpv6ClientsAndWritesThemInBrackets) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  auto client = connect_to(server.port(), "::1");
  EXPECT_EQ(client.receive_until_close(), "Thank you for connecting");
  EXPECT_EQ(server.wait_for_line("Got connection"),
            "Got connection from [::1]:" + std::to_string(client.local_port()));
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

TEST_F(Server, SurvivesAClientThatResetsAndServesTheNext) {
  Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
  const auto port = server.port();
  connect_to(port).reset();
  EXPECT_EQ(connect_to(port).receive_until_close(), "Thank you for connecting");
  EXPECT_TRUE(server.running());
}

TEST_F(Server, ExitsZeroWithinOneSecondOnSigtermAndSigint) {
  for (const int signal_number : {SIGTERM, SIGINT}) {
    Child server("spoon2-echo/server", {"--port", "0", "--log", log.string()});
    server.port();
    server.signal(signal_number);
    EXPECT_EQ(server.wait(1s), 0) << "signal " << signal_number << "\n" << server.err();
  }
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

TEST(Client, PrintsEverythingItReceivesUntilTheServerCloses) {
  Listener listener;
  Child client("spoon2-echo/client", {"--port", std::to_string(listener.port)});
  {
    auto connection = listener.accept();
    // Two sends, then the close: the client cannot know where a message ends.
    connection.send_all("Thank you ");
    connection.send_all("for connecting");
  }
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(client.out(), "Thank you for connecting\n");
}

TEST(Client, TalksToTheServer) {
  const auto dir = temp_dir();
  {
    Child server("spoon2-echo/server", {"--port", "0", "--log", (dir / "file.txt").string()});
    const auto result =
        harness::run("spoon2-echo/client", {"--port", std::to_string(server.port())});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out, "Thank you for connecting\n");
  }  // the server has stopped: its log file can go (Windows keeps open files)
  std::filesystem::remove_all(dir);
}

TEST(Client, RefusedConnectionExitsOneNamingHostAndPort) {
  std::uint16_t port = 0;
  {
    Listener closed_again;  // a port that was free a moment ago, and is closed now
    port = closed_again.port;
  }
  for (const char* program : {"spoon2-echo/client", "spoon2-echo/echo_client"}) {
    const auto result = harness::run(program, {"--port", std::to_string(port)});
    EXPECT_EQ(result.exit_code, 1) << program;
    EXPECT_EQ(result.err, "error: cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                              harness::reason(ECONNREFUSED) + "\n");
  }
}

TEST(Client, UnresolvableHostExitsOne) {
  const auto result = harness::run("spoon2-echo/client", {"--host", "no-such-host.invalid"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("error: cannot connect to no-such-host.invalid:12345: "))
      << result.err;
}

// --- echo_server and echo_client: the talk's `with` echo pair ---------------

TEST(EchoServer, SendsBackEveryByteUntilThePeerCloses) {
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  auto client = connect_to(server.port());
  const std::string data = random_bytes(1 << 20, 1) + std::string("\0\r\n\0", 4);
  // Send and read at once (the test is its own echo_client): see echo_client.cpp.
  std::string echoed;
  std::string_view rest = data;
  while (!rest.empty()) {
    const std::size_t piece = std::min<std::size_t>(rest.size(), 65536);
    ASSERT_TRUE(client.send_all(rest.substr(0, piece)));
    rest.remove_prefix(piece);
    echoed += client.receive_exactly(data.size() - rest.size() - echoed.size());
  }
  client.shutdown_write();
  const auto tail = client.receive_until_close();
  ASSERT_TRUE(tail) << "the server did not close after our half-close";
  EXPECT_TRUE(echoed + *tail == data);
}

TEST(EchoServer, DropsASilentClientAfterTheTimeoutAndServesTheNext) {
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "0.2"});
  const auto port = server.port();
  auto silent = connect_to(port);
  auto next = connect_to(port);  // queued in the backlog behind the silent one
  EXPECT_TRUE(silent.closed_by_peer());
  EXPECT_TRUE(server.wait_for_line("timed out"));
  ASSERT_TRUE(next.send_all("still there?"));
  EXPECT_EQ(next.receive_exactly(12), "still there?");
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

TEST(EchoServer, DropsAClientThatNeverReadsAfterTheTimeout) {
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "0.2"});
  const auto port = server.port();
  auto hog = connect_to(port);
  // Fill both directions' buffers without ever reading the echo: our send
  // blocks once they are full, and gives up after its own time-out.
  const std::string chunk(65536, 'x');
  net::set_timeouts(hog.get(), 0.5);
  while (::send(hog.get(), chunk.data(), static_cast<int>(chunk.size()), 0) > 0) {
  }
  EXPECT_TRUE(server.wait_for_line("timed out"));
  auto next = connect_to(port);
  ASSERT_TRUE(next.send_all("hello"));
  EXPECT_EQ(next.receive_exactly(5), "hello");
}

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

TEST(EchoServer, SurvivesAClientThatResets) {
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  const auto port = server.port();
  auto rude = connect_to(port);
  ASSERT_TRUE(rude.send_all("partial"));
  rude.reset();
  auto next = connect_to(port);
  ASSERT_TRUE(next.send_all("ok"));
  EXPECT_EQ(next.receive_exactly(2), "ok");
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

TEST(EchoServer, ServesIpv6AndExitsZeroOnSigterm) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  Child server("spoon2-echo/echo_server", {"--port", "0"});
  auto client = connect_to(server.port(), "::1");
  ASSERT_TRUE(client.send_all("six"));
  EXPECT_EQ(client.receive_exactly(3), "six");
  EXPECT_TRUE(server.wait_for_line("Connected by [::1]:"));
  server.signal(SIGTERM);  // while it serves a client
  EXPECT_EQ(server.wait(1s), 0);
}

TEST(EchoClient, Moves100MiBThroughTheEchoServerUnchanged) {
  const std::string data = random_bytes(100u << 20, 2);  // before the clock of any time-out runs
  Child server("spoon2-echo/echo_server", {"--port", "0", "--timeout", "60"});
  Child client("spoon2-echo/echo_client", {"--port", std::to_string(server.port())});
  client.write_stdin(data);  // the harness reads the client's stdout meanwhile
  client.close_stdin();
  ASSERT_EQ(client.wait(60s), 0) << client.err();
  EXPECT_EQ(client.out().size(), data.size());
  EXPECT_TRUE(client.out() == data);
}

TEST(EchoClient, HalfClosesSoTheServerSeesTheEndAndCanStillAnswer) {
  Listener listener;
  Child client("spoon2-echo/echo_client", {"--port", std::to_string(listener.port)});
  client.write_stdin("ping\n");
  client.close_stdin();
  {
    auto connection = listener.accept();
    const auto everything = connection.receive_until_close();  // EOF: the client's shutdown
    EXPECT_EQ(everything, "ping\n");
    EXPECT_TRUE(connection.send_all("pong\n"));  // its read side is still open
  }
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(client.out(), "pong\n");
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

TEST(UdpServer, AnswersEachDatagramWithTheSameBytesBoundariesKept) {
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  const auto port = server.port();
  UdpPeer peer;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const std::vector<std::string> datagrams = {"one", std::string("t\0o", 3), "",
                                              random_bytes(60000, 3)};
  for (const auto& datagram : datagrams)
    ASSERT_EQ(::sendto(peer.s.get(), datagram.data(), static_cast<int>(datagram.size()), 0,
                       reinterpret_cast<sockaddr*>(&address), sizeof address),
              static_cast<int>(datagram.size()));
  for (const auto& datagram : datagrams) {
    sockaddr_storage from{};
    EXPECT_EQ(peer.receive(from, harness::kPatience), datagram);  // one recv, one datagram
    EXPECT_EQ(net::port_of(from), port);
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(1s), 0);
}

TEST(UdpClient, PrintsTheReplyToEachLine) {
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  const auto result = harness::run("spoon2-echo/udp_client",
                                   {"--port", std::to_string(server.port())}, "hello\nworld\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "hello\nworld\n");
}

TEST(UdpClient, WorksOverIpv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  Child server("spoon2-echo/udp_server", {"--port", "0"});
  const auto result = harness::run(
      "spoon2-echo/udp_client", {"--host", "::1", "--port", std::to_string(server.port())}, "v6\n");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "v6\n");
  EXPECT_TRUE(server.wait_for_line("from [::1]:"));
}

TEST(UdpClient, RetriesWhenNoReplyComesAndGivesUpAfterThreeTries) {
  UdpPeer silent;  // receives, never answers, and so never causes a refusal
  Child client("spoon2-echo/udp_client",
               {"--port", std::to_string(silent.port), "--timeout", "0.1"});
  client.write_stdin("anyone?\n");
  client.close_stdin();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    sockaddr_storage from{};
    EXPECT_EQ(silent.receive(from, harness::kPatience), "anyone?") << "attempt " << attempt;
  }
  EXPECT_EQ(client.wait(), 1);
  EXPECT_EQ(client.err(),
            "error: no reply from 127.0.0.1:" + std::to_string(silent.port) + " after 3 tries\n");
  sockaddr_storage from{};
  EXPECT_FALSE(silent.receive(from, 0ms)) << "a fourth try";
}

TEST(UdpClient, ALostReplyIsRecoveredByTheRetry) {
  UdpPeer flaky;  // ignores the first datagram, answers the second
  Child client("spoon2-echo/udp_client",
               {"--port", std::to_string(flaky.port), "--timeout", "0.1"});
  client.write_stdin("again\n");
  client.close_stdin();
  sockaddr_storage from{};
  ASSERT_EQ(flaky.receive(from, harness::kPatience), "again");
  ASSERT_EQ(flaky.receive(from, harness::kPatience), "again");
  ASSERT_EQ(::sendto(flaky.s.get(), "again", 5, 0, reinterpret_cast<sockaddr*>(&from),
                     sizeof(sockaddr_in)),
            5);
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(client.out(), "again\n");
}

// A retry means two answers may come back: the late one must not be taken
// for the next line's answer, shifting every later line by one.
TEST(UdpClient, DropsALateOrDuplicatedReplyInsteadOfTakingItForTheNextLine) {
  UdpPeer peer;  // answers each datagram twice, as a network may duplicate it
  Child client("spoon2-echo/udp_client", {"--port", std::to_string(peer.port)});
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
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "one\ntwo\nthree\n");
  EXPECT_NE(client.err().find("dropped a reply"), std::string::npos) << client.err();
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
