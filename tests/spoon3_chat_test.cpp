// tests/spoon3_chat_test.cpp — Spoon 3's chat server and client, held to the contract.
#include "tests/support/harness.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

using harness::Child;
using harness::connect_to;
using harness::Connection;
using harness::Listener;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kAllPrograms = {"spoon3-chat/server", "spoon3-chat/client"};

// How the server writes one of our connections: 127.0.0.1:PORT.
std::string peer(const Connection& c) { return "127.0.0.1:" + std::to_string(c.local_port()); }
// What every other client receives before a line of ours.
std::string from(const Connection& c) { return "From " + peer(c) + " - "; }

// A chat server on a free port. join() returns once the server has put the new
// client in its list (it says "Got connection from IP:PORT" then), so a line
// sent after it reaches that client.
struct Room {
  Child server;
  std::uint16_t port;
  explicit Room(std::vector<std::string> args = {})
      : server("spoon3-chat/server", with_free_port(std::move(args))), port(server.port()) {}
  Connection join() { return admitted(connect_to(port)); }
  Connection admitted(Connection c) {
    EXPECT_TRUE(server.wait_for_line("Got connection from " + peer(c))) << server.out();
    return c;
  }
  static std::vector<std::string> with_free_port(std::vector<std::string> args) {
    args.insert(args.begin(), {"--port", "0"});
    return args;
  }
};

// A client that never reads, with a small receive buffer: the server's sends
// to it back up after a few kilobytes.
Connection connect_never_reading(std::uint16_t port) {
  net::Socket s{::socket(AF_INET, SOCK_STREAM, 0)};
  const int small = 4096;
  EXPECT_EQ(setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&small),
                       sizeof small),
            0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_EQ(::connect(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  return Connection(std::move(s));
}

// Sends without waiting until the socket takes no more (the server stopped reading us).
void send_until_full(const Connection& c, const std::string& line) {
  net::set_nonblocking(c.get());
  while (::send(c.get(), line.data(), static_cast<int>(line.size()), 0) > 0) {
  }
  net::set_nonblocking(c.get(), false);
}

}  // namespace

// --- Both programs: --help, and bad command lines ----------------------------

class EveryProgram : public testing::TestWithParam<std::string> {};

TEST_P(EveryProgram, HelpPrintsUsageWithTheTalksPortToStdoutAndExitsZero) {
  const auto result = harness::run(GetParam(), {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("usage:"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--port"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("12000"), std::string::npos) << result.out;
  EXPECT_EQ(result.err, "");
}

TEST_P(EveryProgram, BadCommandLinesPrintOneErrorLineAndExitTwo) {
  std::vector<std::vector<std::string>> bad = {
      {"--bogus"}, {"--port"}, {"--port", "70000"}, {"--port", "abc"}, {"stray"}};
  if (GetParam() == "spoon3-chat/server")
    bad.insert(bad.end(), {{"--timeout", "0"}, {"--timeout", "soon"}, {"--timeout"}});
  for (const auto& args : bad) {
    const auto result = harness::run(GetParam(), args);
    EXPECT_EQ(result.exit_code, 2) << args[0];
    EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");  // nothing bound, nothing connected, nothing said
  }
}

INSTANTIATE_TEST_SUITE_P(Spoon3, EveryProgram, testing::ValuesIn(kAllPrograms),
                         [](const auto& info) {
                           return info.param.substr(info.param.find('/') + 1);
                         });

// --- server: the room ----------------------------------------------------------

TEST(ChatServer, SendsEachLineToEveryOtherClientButNotBackToItsSender) {
  Room room;
  auto a = room.join();
  auto b = room.join();
  auto c = room.join();
  ASSERT_TRUE(a.send_all("hello\n"));
  EXPECT_EQ(b.receive_line(), from(a) + "hello\n");
  EXPECT_EQ(c.receive_line(), from(a) + "hello\n");
  ASSERT_TRUE(b.send_all("hi a\n"));
  EXPECT_EQ(a.receive_line(), from(b) + "hi a\n");  // not its own "hello" first
  EXPECT_EQ(c.receive_line(), from(b) + "hi a\n");
  EXPECT_TRUE(room.server.wait_for_line(peer(a) + " - hello"));  // the talk's log line
}

TEST(ChatServer, CutsTheStreamIntoLinesWhateverPiecesTheyArriveIn) {
  Room room;
  auto a = room.join();
  auto b = room.join();
  // Fact: there is no EOT. Half a line, then a line and a half, then two in one send.
  ASSERT_TRUE(a.send_all("one, and"));
  ASSERT_TRUE(a.send_all(" more\ntw"));
  ASSERT_TRUE(a.send_all("o\n\nthree\n"));
  EXPECT_EQ(b.receive_line(), from(a) + "one, and more\n");
  EXPECT_EQ(b.receive_line(), from(a) + "two\n");
  EXPECT_EQ(b.receive_line(), from(a) + "\n");  // an empty line is a line too
  EXPECT_EQ(b.receive_line(), from(a) + "three\n");
}

TEST(ChatServer, AnUnfinishedLineIsNotSentWhenItsClientLeaves) {
  Room room;
  auto a = room.join();
  auto b = room.join();
  auto c = room.join();
  const std::string a_peer = peer(a);
  ASSERT_TRUE(a.send_all("no newline, so no message"));
  a = Connection(net::Socket{});  // a closes
  EXPECT_TRUE(room.server.wait_for_line("Removed " + a_peer + ": left"));
  ASSERT_TRUE(c.send_all("after\n"));
  EXPECT_EQ(b.receive_line(), from(c) + "after\n");  // the next thing b hears
}

TEST(ChatServer, RemovesAClientThatDisconnectsAndTheRoomGoesOn) {
  Room room;
  auto a = room.join();
  auto b = room.join();
  {
    auto leaver = room.join();
    ASSERT_TRUE(leaver.send_all("bye\n"));
    EXPECT_EQ(a.receive_line(), from(leaver) + "bye\n");
    EXPECT_EQ(b.receive_line(), from(leaver) + "bye\n");
    const std::string leaver_peer = peer(leaver);
    leaver = Connection(net::Socket{});
    EXPECT_TRUE(room.server.wait_for_line("Removed " + leaver_peer + ": left"));
  }
  ASSERT_TRUE(a.send_all("still here?\n"));
  EXPECT_EQ(b.receive_line(), from(a) + "still here?\n");
  auto late = room.join();  // and a newcomer is heard
  ASSERT_TRUE(late.send_all("me too\n"));
  EXPECT_EQ(a.receive_line(), from(late) + "me too\n");
  EXPECT_TRUE(room.server.running());
}

// The heart of the lesson: 20 threads of the server broadcasting at once
// (more clients than the talk's listen(4), which is no cap on the room).
TEST(ChatServer, TwentyClientsSendingFiftyLinesEachAtOnceGetEveryLineOnceInOrderAndWhole) {
  constexpr int kClients = 20;
  constexpr int kLines = 50;
  Room room;
  std::vector<Connection> clients;
  std::map<std::string, int> sender_of;  // "From 127.0.0.1:PORT - " → client number
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(room.join());
    sender_of[from(clients.back())] = i;
  }
  // Lines of different lengths, each naming its sender and number: a line torn
  // or glued to another cannot pass for one of these.
  const auto text = [](int sender, int number) {
    return fmt::format(
        "c{} l{} {}", sender, number,
        std::string(1 + (sender * 7 + number) % 60, static_cast<char>('a' + sender)));
  };
  std::vector<std::string> failures(kClients);
  std::atomic<int> finished = 0;
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Connection& me = clients[static_cast<std::size_t>(i)];
      std::string& failure = failures[static_cast<std::size_t>(i)];
      for (int n = 0; n < kLines && failure.empty(); ++n)  // one send per line
        if (!me.send_all(text(i, n) + "\n")) failure = "a send failed";
      std::vector<int> next(kClients, 0);  // the number we expect next from each sender
      for (int got = 0; failure.empty() && got < (kClients - 1) * kLines; ++got) {
        const auto line = me.receive_line();
        const auto dash = line ? line->find(" - ") : std::string::npos;
        const auto sender =
            dash == std::string::npos ? sender_of.end() : sender_of.find(line->substr(0, dash + 3));
        if (!line)
          failure = fmt::format("client {}: only {} lines arrived", i, got);
        else if (sender == sender_of.end() || sender->second == i)
          failure = fmt::format("client {}: a line not for it: {}", i, *line);
        else if (*line != sender->first + text(sender->second, next[sender->second]++) + "\n")
          failure = fmt::format("client {}: from c{} expected line {}, got: {}", i, sender->second,
                                next[sender->second] - 1, *line);
      }
      ++finished;
    });
  }
  while (finished < kClients)  // meanwhile, keep reading the server's log so it never blocks
    room.server.read_line(50ms);
  for (auto& thread : threads)
    thread.join();
  for (const auto& failure : failures)
    EXPECT_EQ(failure, "");
  // Nothing more is on its way: the next line everyone hears is this one.
  ASSERT_TRUE(clients[0].send_all("the end\n"));
  for (std::size_t i = 1; i < clients.size(); ++i)
    EXPECT_EQ(clients[i].receive_line(), from(clients[0]) + "the end\n") << "client " << i;
}

TEST(ChatServer, AClientResettingInTheMiddleOfABroadcastCostsTheOthersNothing) {
  Room room;
  auto sender = room.join();
  auto victim = room.join();
  std::vector<Connection> others;
  others.reserve(5);
  for (int i = 0; i < 5; ++i)
    others.push_back(room.join());
  std::string lines;
  for (int n = 0; n < 500; ++n)
    lines += fmt::format("line {}\n", n);
  ASSERT_TRUE(sender.send_all(lines));  // one send, 500 broadcasts in a row
  EXPECT_EQ(victim.receive_line(), from(sender) + "line 0\n");
  const std::string victim_peer = peer(victim);
  victim.reset();  // RST while the server is still broadcasting to it
  for (auto& other : others)
    for (int n = 0; n < 500; ++n)
      ASSERT_EQ(other.receive_line(), from(sender) + fmt::format("line {}\n", n));
  EXPECT_TRUE(room.server.wait_for_line("Removed " + victim_peer + ": "));
  ASSERT_TRUE(others[0].send_all("carry on\n"));
  EXPECT_EQ(sender.receive_line(), from(others[0]) + "carry on\n");
  EXPECT_TRUE(room.server.running());
}

TEST(ChatServer, AClientThatNeverReadsIsDroppedAfterTheTimeoutAndTheOthersKeepGoing) {
  Room room({"--timeout", "0.2"});
  auto hog = room.admitted(connect_never_reading(room.port));
  auto talker = room.join();
  auto listener = room.join();
  const std::string hog_removed = "Removed " + peer(hog) + ": timed out";
  const std::string filler(4000, 'x');
  bool dropped = false;
  // Each line fills the hog's buffers a little more, until the server's send
  // to it waits --timeout and gives up. The listener gets every line meanwhile.
  for (int n = 0; n < 20000 && !dropped; ++n) {
    const std::string line = fmt::format("{} {}\n", n, filler);
    ASSERT_TRUE(talker.send_all(line));
    ASSERT_EQ(listener.receive_line(), from(talker) + line) << "line " << n;
    while (const auto said = room.server.read_line(0ms))
      dropped = dropped || *said == hog_removed;
  }
  ASSERT_TRUE(dropped) << "the hog was never dropped";
  ASSERT_TRUE(talker.send_all("on we go\n"));
  EXPECT_EQ(listener.receive_line(), from(talker) + "on we go\n");
  EXPECT_TRUE(hog.closed_by_peer());
}

// The slow-client rule rests on the send time-out: a client it cannot be set
// for could stall the room, so it is not let in, and the server says why.
TEST(ChatServer, AClientWhoseTimeoutsCannotBeSetIsNotLetInAndTheServerSaysWhy) {
  if (!harness::RefusedSetsockopt::available()) GTEST_SKIP() << "needs LD_PRELOAD (Linux)";
  Child server = [] {
    const harness::RefusedSetsockopt refusing("SO_RCVTIMEO");
    return Child("spoon3-chat/server", {"--port", "0"});
  }();
  auto client = connect_to(server.port());
  EXPECT_TRUE(client.closed_by_peer());
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0);
  EXPECT_NE(server.err().find("set_timeouts for 127.0.0.1:" + std::to_string(client.local_port()) +
                              ": " + harness::reason(ENOPROTOOPT) + "\n"),
            std::string::npos)
      << server.err();
  EXPECT_EQ(server.out().find("Got connection"), std::string::npos) << server.out();
}

TEST(ChatServer, ALineLongerThan4KiBDisconnectsOnlyThatClient) {
  Room room;
  auto a = room.join();
  auto b = room.join();
  const std::string longest(4096, 'x');
  ASSERT_TRUE(a.send_all(longest + "\n"));  // 4096 bytes: still a line
  EXPECT_EQ(b.receive_line(), from(a) + longest + "\n");

  auto rude = room.join();
  const std::string rude_peer = peer(rude);
  ASSERT_TRUE(rude.send_all(std::string(4097, 'y') + "\n"));
  EXPECT_TRUE(rude.closed_by_peer());
  EXPECT_TRUE(room.server.wait_for_line("Removed " + rude_peer + ": line longer than 4096 bytes"));

  auto endless = room.join();  // no newline at all: refused once 4 KiB have come
  const std::string endless_peer = peer(endless);
  ASSERT_TRUE(endless.send_all(std::string(5000, 'z')));
  EXPECT_TRUE(endless.closed_by_peer());
  EXPECT_TRUE(room.server.wait_for_line("Removed " + endless_peer + ": line longer"));

  ASSERT_TRUE(b.send_all("we are fine\n"));
  EXPECT_EQ(a.receive_line(), from(b) + "we are fine\n");  // and nothing of the refused lines
}

TEST(ChatServer, SignsIpv6ClientsLinesInBrackets) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  Room room;
  auto v4 = room.join();
  auto v6 = connect_to(room.port, "::1");
  const std::string v6_peer = "[::1]:" + std::to_string(v6.local_port());
  ASSERT_TRUE(room.server.wait_for_line("Got connection from " + v6_peer));
  ASSERT_TRUE(v6.send_all("over six\n"));
  EXPECT_EQ(v4.receive_line(), "From " + v6_peer + " - over six\n");
  ASSERT_TRUE(v4.send_all("over four\n"));
  EXPECT_EQ(v6.receive_line(), from(v4) + "over four\n");
}

TEST(ChatServer, ExitsZeroWithinOneSecondOnSigtermAndSigintClosingEveryConnection) {
#ifdef _WIN32
  GTEST_SKIP() << "Winsock wakes a send blocked on the hog only by closing its socket, which the "
                  "server leaves to the thread that owns it: there the stop waits out --timeout";
#endif
  for (const int signal_number : {SIGTERM, SIGINT}) {
    Room room({"--timeout", "30"});
    auto hog = room.admitted(connect_never_reading(room.port));
    auto talker = room.join();
    auto quiet = room.join();
    // A broadcast stuck on the hog (for up to 30 s) must not hold up the stop.
    send_until_full(talker, std::string(4000, 'x') + "\n");
    room.server.signal(signal_number);
    EXPECT_EQ(room.server.wait(1s), 0) << "signal " << signal_number << "\n" << room.server.err();
    EXPECT_NE(room.server.out().find("server stopped"), std::string::npos);
    EXPECT_TRUE(quiet.closed_by_peer(1s));
    EXPECT_TRUE(talker.closed_by_peer(1s));
    EXPECT_TRUE(hog.closed_by_peer(1s));
  }
}

TEST(ChatServer, PortInUseExitsOneNamingThePortAndTheReason) {
  Listener holder;
  const std::string port = std::to_string(holder.port);
  const auto result = harness::run("spoon3-chat/server", {"--host", "127.0.0.1", "--port", port});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err,
            "error: cannot bind to port " + port + ": " + harness::reason(EADDRINUSE) + "\n");
}

TEST(ChatServer, ChatsWithNetcat) {
#ifdef _WIN32
  GTEST_SKIP() << "nc is a POSIX tool; Windows has no nc to test with";
#endif
  if (std::system("command -v nc >/dev/null 2>&1") != 0)
    GTEST_FAIL() << "nc is missing: ./workshop test installs netcat-openbsd";
  Room room;
  auto a = room.join();
  // -N: shut down the writing side at the end of input; the server then hangs up.
  const auto result = std::system(
      ("printf 'hello from nc\\n' | nc -N 127.0.0.1 " + std::to_string(room.port) + " >/dev/null")
          .c_str());
  EXPECT_EQ(result, 0);
  const auto line = a.receive_line();
  ASSERT_TRUE(line);
  EXPECT_TRUE(line->starts_with("From 127.0.0.1:")) << *line;
  EXPECT_TRUE(line->ends_with(" - hello from nc\n")) << *line;
}

// --- client --------------------------------------------------------------------

TEST(ChatClient, SaysConnectedThenPrintsEachLineAsItArrives) {
  Listener listener;
  Child client("spoon3-chat/client", {"--port", std::to_string(listener.port)});
  auto server = listener.accept();
  EXPECT_EQ(client.read_line(), "Connected to chat!");
  ASSERT_TRUE(server.send_all("From 10.0.0.1:5 - hel"));  // a line in two pieces
  ASSERT_TRUE(server.send_all("lo\nFrom 10.0.0.2:6 - hi\n"));
  EXPECT_EQ(client.read_line(), "From 10.0.0.1:5 - hello");  // while its input is still open
  EXPECT_EQ(client.read_line(), "From 10.0.0.2:6 - hi");
  client.close_stdin();
  EXPECT_TRUE(server.closed_by_peer());
}

TEST(ChatClient, SendsEachInputLineAndLeavesOnQuit) {
  Listener listener;
  Child client("spoon3-chat/client", {"--port", std::to_string(listener.port)});
  client.write_stdin("one\ntwo\nquit\nthree\n");
  {
    auto server = listener.accept();
    EXPECT_EQ(server.receive_until_close(), "one\ntwo\n");  // then its half-close
  }  // we hang up in answer, as the chat server does
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(client.err(), "");
}

TEST(ChatClient, AtTheEndOfInputItHalfClosesAndStillPrintsWhatWasOnItsWay) {
  Listener listener;
  Child client("spoon3-chat/client", {"--port", std::to_string(listener.port)});
  client.write_stdin("bye\n");
  client.close_stdin();
  {
    auto server = listener.accept();
    EXPECT_EQ(server.receive_until_close(), "bye\n");
    EXPECT_TRUE(server.send_all("From 10.0.0.1:5 - see you\n"));  // its reading side is open
  }
  EXPECT_EQ(client.wait(), 0);
  EXPECT_EQ(client.out(), "Connected to chat!\nFrom 10.0.0.1:5 - see you\n");
}

TEST(ChatClient, TwoClientsChatThroughTheServer) {
  Room room;
  const std::string port = std::to_string(room.port);
  Child alice("spoon3-chat/client", {"--port", port});
  ASSERT_TRUE(room.server.wait_for_line("Got connection from"));
  Child bob("spoon3-chat/client", {"--port", port});
  ASSERT_TRUE(room.server.wait_for_line("Got connection from"));
  alice.write_stdin("Hi Bob!\n");
  const auto heard = bob.wait_for_line("Hi Bob!");
  ASSERT_TRUE(heard);
  EXPECT_TRUE(heard->starts_with("From 127.0.0.1:")) << *heard;
  bob.write_stdin("Hi Alice!\nquit\n");
  EXPECT_TRUE(alice.wait_for_line(" - Hi Alice!"));
  EXPECT_EQ(bob.wait(), 0);
  alice.close_stdin();
  EXPECT_EQ(alice.wait(), 0);
  EXPECT_EQ(alice.out().find("Hi Bob!"), std::string::npos);  // not its own line back
}

TEST(ChatClient, TheServerGoingAwayIsAnError) {
  Listener listener;
  Child client("spoon3-chat/client", {"--port", std::to_string(listener.port)});
  { auto server = listener.accept(); }  // closed at once; our input stays open
  EXPECT_EQ(client.wait(), 1);
  EXPECT_EQ(client.err(), "error: the server closed the connection\n");
}

TEST(ChatClient, RefusedConnectionExitsOneNamingHostAndPort) {
  std::uint16_t port = 0;
  {
    Listener closed_again;  // a port that was free a moment ago, and is closed now
    port = closed_again.port;
  }
  const auto result = harness::run("spoon3-chat/client", {"--port", std::to_string(port)});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "error: cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                            harness::reason(ECONNREFUSED) + "\n");
}
