// tests/spoon1_irc_test.cpp — Spoon 1's IRC bot, held to the contract.
//
// Two kinds of peer. A scripted IRC server inside this test (a listening
// socket of the test's own) that checks every line the bot sends, byte for
// byte, and drives every case: split lines, many lines in one read, the
// password, 433, a close, a signal. And a real one: Debian's ngircd, started
// here on a free loopback port with a temporary config, with a scripted user.
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>
#ifndef _WIN32
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using harness::Child;
using harness::Clock;
using harness::Connection;
using namespace std::chrono_literals;

namespace {

std::filesystem::path temp_dir() { return harness::temp_dir("spoon1"); }
using harness::read_file;

// The test's own IRC server: it listens; the bot connects to it.
struct ScriptedServer {
  std::uint16_t port = 0;
  net::Socket listen_socket = harness::bound_to_loopback(SOCK_STREAM, port);
  ScriptedServer() { EXPECT_EQ(::listen(listen_socket.get(), 1), 0); }
  [[nodiscard]] Connection accept_bot() const {
    if (!harness::wait_readable(listen_socket.get(), Clock::now() + harness::kPatience))
      throw std::runtime_error("the bot never connected");
    return Connection(net::Socket{::accept(listen_socket.get(), nullptr, nullptr)});
  }
};

// The environment variable the bot reads its password from, for one test.
// IRC_PASSWORD in the environment the bot inherits (nullptr: none).
void set_password(const char* value) {
#ifdef _WIN32
  _putenv_s("IRC_PASSWORD", value != nullptr ? value : "");
#else
  if (value != nullptr)
    setenv("IRC_PASSWORD", value, 1);
  else
    unsetenv("IRC_PASSWORD");
#endif
}

struct Password {
  explicit Password(const char* value) { set_password(value); }
  ~Password() { set_password(nullptr); }
  Password(const Password&) = delete;
  Password& operator=(const Password&) = delete;
};

}  // namespace

// --- the command line ---------------------------------------------------------

TEST(BotCommandLine, HelpPrintsUsageNamingEveryOptionAndThePasswordVariable) {
  const auto result = harness::run("spoon1-irc/bot", {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* word : {"usage: bot", "--server", "--port", "--nick", "--channel", "--log",
                           "IRC_PASSWORD", "irc.libera.chat", "##bottestingmu", "irc.log"})
    EXPECT_NE(result.out.find(word), std::string::npos) << word << " in\n" << result.out;
  EXPECT_EQ(result.err, "");
}

TEST(BotCommandLine, BadCommandLinesPrintOneErrorLineAndExitTwo) {
  const std::vector<std::vector<std::string>> bad = {{"--bogus"},
                                                     {"--port"},
                                                     {"--port", "70000"},
                                                     {"--port", "abc"},
                                                     {"--nick"},
                                                     {"stray"},
                                                     {"--port", "1", "--port", "2"},
                                                     {"--nick", "--help"},
                                                     {"--log", ""}};
  for (const auto& args : bad) {
    const auto result = harness::run("spoon1-irc/bot", args);
    EXPECT_EQ(result.exit_code, 2) << args[0];
    EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");  // nothing connected, nothing said
  }
}

TEST(BotCommandLine, RefusedConnectionExitsOneNamingServerAndPort) {
  std::uint16_t port = 0;
  {
    const net::Socket closed_again = harness::bound_to_loopback(SOCK_STREAM, port);
  }  // free a moment ago, closed now
  const auto result = harness::run("spoon1-irc/bot", {"--server", "127.0.0.1", "--port",
                                                      std::to_string(port), "--log", "/dev/null"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "error: cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                            harness::reason(ECONNREFUSED) + "\n");
}

TEST(BotCommandLine, ALogFileItCannotOpenExitsOneBeforeConnecting) {
  const ScriptedServer server;
  const auto result = harness::run(
      "spoon1-irc/bot", {"--server", "127.0.0.1", "--port", std::to_string(server.port), "--log",
                         "/no/such/dir/irc.log"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(result.err.starts_with("error: cannot open log file '/no/such/dir/irc.log': "))
      << result.err;
  EXPECT_FALSE(harness::wait_readable(server.listen_socket.get(), Clock::now()));  // no connect
}

// --- against the scripted server: every line checked --------------------------

class Bot : public testing::Test {
 protected:
  std::filesystem::path dir = temp_dir();
  std::filesystem::path log = dir / "irc.log";
  ScriptedServer server;
  std::unique_ptr<Child> bot;
  std::optional<Connection> irc;  // the server's side of the bot's connection

  void SetUp() override { set_password(nullptr); }  // a developer's own must not leak in
  void TearDown() override {
    bot.reset();  // first: Windows cannot remove a log file the bot still holds open
    std::filesystem::remove_all(dir);
  }

  void start(const std::string& nick = "tester") {
    bot = std::make_unique<Child>(
        "spoon1-irc/bot",
        std::vector<std::string>{"--server", "127.0.0.1", "--port", std::to_string(server.port),
                                 "--nick", nick, "--channel", "#spoon", "--log", log.string()});
    irc.emplace(server.accept_bot());
  }
  // The bot's next line on the wire, without its "\r\n" (which it must have).
  std::string said() {
    const auto line = irc->receive_line(5s);
    if (!line) return "(nothing)";
    EXPECT_TRUE(line->ends_with("\r\n")) << *line;
    EXPECT_LE(line->size(), 512U) << "RFC 1459: 512 bytes at most, \\r\\n included";
    return line->substr(0, line->size() - std::min<std::size_t>(2, line->size()));
  }
  void say(const std::string& bytes) { ASSERT_TRUE(irc->send_all(bytes)); }
  // Lines are handled in order: once the PONG for `tag` comes, the bot has
  // read and acted on everything sent before it — and said nothing else.
  void in_sync(const std::string& tag) {
    say("PING :" + tag + "\r\n");
    EXPECT_EQ(said(), "PONG :" + tag);
  }
  // USER's parameters are ours: another bot's USER line need only be one.
  void expect_user_line() {
    const std::string user = said();
    if (harness::own_build("spoon1-irc/bot")) {
      EXPECT_EQ(user, "USER tester 0 * :tester IRC");
    } else {
      EXPECT_TRUE(user.starts_with("USER "))
          << "expected a USER line, got " << harness::visible(user);
    }
  }
  void register_bot() {
    start();
    EXPECT_EQ(said(), "NICK tester");
    expect_user_line();
    say(":irc.test 001 tester :Welcome to the test network, tester\r\n");
    EXPECT_EQ(said(), "JOIN #spoon");
  }
};

// The bot's stages (./workshop check spoon1-irc/bot): this file's IRC server
// plays the network, the bot is the program checked.
class BotStages : public Bot {
 protected:
  void SetUp() override {
    Bot::SetUp();
    harness::Stages::skip_if_unreachable();
  }
};

TEST_F(BotStages, registers) {
  harness::hint(
      "NICK, then USER; JOIN the channel only after the server's welcome (numeric 001), not after "
      "a sleep (spoon1-irc/README.md)");
  start();
  EXPECT_EQ(said(), "NICK tester");
  expect_user_line();
  // What a real server says before the welcome. The bot must not JOIN yet.
  say(":irc.test NOTICE * :*** Looking up your hostname...\r\n"
      ":irc.test NOTICE * :*** Found your hostname\r\n");
  in_sync("before-welcome");
  in_sync("still-before-welcome");
  const auto welcomed = Clock::now();
  say(":irc.test 001 tester :Welcome to the test network, tester\r\n");
  EXPECT_EQ(said(), "JOIN #spoon");  // no password: no NickServ line first
  EXPECT_LT(Clock::now() - welcomed, 2s)
      << "the JOIN follows the welcome, not a three-second wait as in the talk";
  say(":irc.test 002 tester :Your host is irc.test\r\n");
  in_sync("after-join");  // one JOIN only
}

TEST_F(BotStages, answers_ping_with_pong) {
  harness::hint(
      "answer every 'PING <token>' with 'PONG <token>', the token exactly (RFC 1459, 4.6.2; "
      "spoon1-irc/README.md)");
  register_bot();
  say("PING :irc.test\r\n");
  EXPECT_EQ(said(), "PONG :irc.test");
  say("PING 1234567890\r\n");  // no colon: a middle parameter, sent back as one
  EXPECT_EQ(said(), "PONG 1234567890");
  say("PING :two words\r\n");
  EXPECT_EQ(said(), "PONG :two words");
  say(":irc.test PING :with-a-prefix\r\n");
  EXPECT_EQ(said(), "PONG :with-a-prefix");
  say("PING\r\n");
  EXPECT_EQ(said(), "PONG");
  say("PING a\tb\r\n");  // words are cut at spaces only: a tab is part of the token
  EXPECT_EQ(said(), "PONG a\tb");
  say("PING  x   y\r\n");  // one or more spaces between parameters (RFC 1459)
  EXPECT_EQ(said(), "PONG x y");
}

TEST_F(BotStages, pong_only_to_a_ping_command) {
  harness::hint(
      "a PING inside someone's message is not a PING: look at the line's command, not for 'PING' "
      "anywhere (spoon1-irc/README.md)");
  register_bot();
  say(":alice!a@h PRIVMSG #spoon :PING :gotcha\r\n"
      ":alice!a@h PRIVMSG #spoon :PING\r\n"
      ":alice!a@h NOTICE tester :PING 42\r\n"
      ":PING!a@h PRIVMSG #spoon :my nick is PING\r\n");
  in_sync("nothing-before-me");
}

TEST_F(BotStages, a_line_split_over_many_reads) {
  harness::hint(
      "Fact: there is no EOT on a socket: keep what recv gave and cut it at each \\r\\n; a line "
      "may come in many pieces (spoon1-irc/README.md)");
  register_bot();
  const std::string ping = "PING :split-token\r\n";
  for (std::size_t cut = 1; cut < ping.size(); ++cut) {
    // The first piece rides behind a whole PING: its PONG proves the bot has
    // read the piece too (one send on loopback arrives as one), so the rest
    // comes in a later recv.
    const std::string tag = "before-" + std::to_string(cut);
    say("PING :" + tag + "\r\n" + ping.substr(0, cut));
    EXPECT_EQ(said(), "PONG :" + tag);
    say(ping.substr(cut));
    EXPECT_EQ(said(), "PONG :split-token") << "cut after " << cut << " bytes";
  }
}

TEST_F(BotStages, answers_hello) {
  harness::hint(
      "'!hello' in the channel is answered in the channel: PRIVMSG <channel> :Hello, <sender's "
      "nick>!");
  register_bot();
  say(":alice!alice@example.org PRIVMSG #spoon :!hello\r\n");
  EXPECT_EQ(said(), "PRIVMSG #spoon :Hello, alice!");
  say(":bob!b@h PRIVMSG #spoon !hello\r\n");  // a one-word text may come without the colon
  EXPECT_EQ(said(), "PRIVMSG #spoon :Hello, bob!");
}

TEST_F(BotStages, refuses_a_bad_command_line) {
  harness::refuses_bad_command_lines("spoon1-irc/bot");
}

TEST_F(Bot, IdentifiesToNickServWithThePasswordFromTheEnvironmentThenJoins) {
  const Password password("s3cret-Pa55");
  start();
  EXPECT_EQ(said(), "NICK tester");
  EXPECT_EQ(said(), "USER tester 0 * :tester IRC");
  in_sync("no-identify-before-the-welcome");
  say(":irc.test 001 tester :Welcome\r\n");
  EXPECT_EQ(said(), "PRIVMSG NickServ :IDENTIFY tester s3cret-Pa55");
  EXPECT_EQ(said(), "JOIN #spoon");
}

TEST_F(Bot, NeverPrintsNorLogsThePassword) {
  const Password password("s3cret-Pa55");
  start();
  said();
  said();
  say(":irc.test 001 tester :Welcome\r\n");
  said();
  said();
  say(":NickServ!NickServ@services. NOTICE tester :You are now identified for tester.\r\n"
      ":alice!a@h PRIVMSG #spoon :hi\r\n");
  in_sync("logged");
  bot->signal(SIGTERM);
  EXPECT_EQ(bot->wait(), 0);
  EXPECT_NE(bot->out().find(">> PRIVMSG NickServ :IDENTIFY tester ********\n"), std::string::npos)
      << bot->out();
  for (const std::string& where : {bot->out(), bot->err(), read_file(log)})
    EXPECT_EQ(where.find("s3cret"), std::string::npos) << where;
}

TEST_F(Bot, RetriesWithAnUnderscoreWhileTheNickIsInUse) {
  start();
  EXPECT_EQ(said(), "NICK tester");
  EXPECT_EQ(said(), "USER tester 0 * :tester IRC");
  say(":irc.test 433 * tester :Nickname is already in use\r\n");
  EXPECT_EQ(said(), "NICK tester_");
  say(":irc.test 433 * tester_ :Nickname is already in use\r\n");
  EXPECT_EQ(said(), "NICK tester__");
  say(":irc.test 001 tester__ :Welcome\r\n");
  EXPECT_EQ(said(), "JOIN #spoon");
}

// NickServ knows the bot by the nick it asked for: after a 433 it is
// "tester_" on the network, but it still identifies as "tester".
TEST_F(Bot, IdentifiesAsItsOwnNickEvenAfterTakingAnotherOn433) {
  const Password password("sekrit");
  start();
  EXPECT_EQ(said(), "NICK tester");
  EXPECT_EQ(said(), "USER tester 0 * :tester IRC");
  say(":irc.test 433 * tester :Nickname is already in use\r\n");
  EXPECT_EQ(said(), "NICK tester_");
  say(":irc.test 001 tester_ :Welcome\r\n");
  EXPECT_EQ(said(), "PRIVMSG NickServ :IDENTIFY tester sekrit");
  EXPECT_EQ(said(), "JOIN #spoon");
}

TEST_F(Bot, AnswersEachOfManyPingsArrivingInOneRead) {
  register_bot();
  std::string burst;
  for (int i = 0; i < 100; ++i)
    burst += "PING :token-" + std::to_string(i) + "\r\n";
  say(burst);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(said(), "PONG :token-" + std::to_string(i));
}

TEST_F(Bot, AppendsPrivmsgAndNoticeLinesToTheLogFlushedAtOnce) {
  std::ofstream(log) << "an earlier line\n";
  register_bot();
  say(":irc.test 002 tester :Your host is irc.test\r\n"
      ":alice!a@h PRIVMSG #spoon :hello, bot\r\n"
      ":alice!a@h JOIN #spoon\r\n"
      ":irc.test NOTICE tester :a notice\r\n");
  in_sync("logged");
  // Read while the bot still runs: each line must be flushed as it comes.
  EXPECT_EQ(read_file(log),
            "an earlier line\n"
            ":alice!a@h PRIVMSG #spoon :hello, bot\n"
            ":irc.test NOTICE tester :a notice\n");
}

TEST_F(Bot, AnswersHelloInPrivateToTheSender) {
  register_bot();
  say(":alice!alice@example.org PRIVMSG tester :!hello\r\n");
  EXPECT_EQ(said(), "PRIVMSG alice :Hello, alice!");
}

TEST_F(Bot, AnswersOnlyTheHelloCommandItself) {
  register_bot();
  say(":alice!a@h PRIVMSG #spoon :I said !hello yesterday\r\n"
      ":alice!a@h NOTICE #spoon :!hello\r\n"  // bots never answer notices (RFC 1459 §4.4.2)
      ":alice!a@h TOPIC #spoon :!hello\r\n");
  in_sync("no-hello");
}

TEST_F(Bot, PrintsEveryLineItReceivesAndSendsAndWhoSaidWhat) {
  register_bot();
  say(":alice!a@h PRIVMSG #spoon :!hello\r\n");
  EXPECT_EQ(said(), "PRIVMSG #spoon :Hello, alice!");
  say(":irc.test NOTICE tester :server news\r\n");
  in_sync("printed");
  bot->signal(SIGTERM);
  EXPECT_EQ(bot->wait(), 0);
  EXPECT_EQ(bot->out(),
            ">> NICK tester\n"
            ">> USER tester 0 * :tester IRC\n"
            "<< :irc.test 001 tester :Welcome to the test network, tester\n"
            ">> JOIN #spoon\n"
            "<< :alice!a@h PRIVMSG #spoon :!hello\n"
            "[#spoon] <alice> !hello\n"
            ">> PRIVMSG #spoon :Hello, alice!\n"
            "<< :irc.test NOTICE tester :server news\n"
            "[tester] -irc.test- server news\n"
            "<< PING :printed\n"
            ">> PONG :printed\n"
            ">> QUIT :Bye\n");
}

TEST_F(Bot, NeverSendsALineLongerThan512Bytes) {
  register_bot();
  // In private the answer holds the nick twice: 918 bytes, from a line of 478.
  const std::string nick(450, 'n');
  say(":" + nick + "!a@h PRIVMSG tester :!hello\r\n");
  const std::string answer = said();
  EXPECT_EQ(answer.size(), 510U);  // cut to 510, and the \r\n makes 512
  EXPECT_TRUE(answer.starts_with("PRIVMSG " + nick + " :Hello, nnnn")) << answer;
  in_sync("still-fine");
}

TEST_F(Bot, TurnsALineBreakInAStrangersNickIntoASpace) {
  register_bot();
  // A lone \n is not a line end for IRC; a server that took it for one would
  // run "QUIT" as the bot's own command if the bot echoed it back unchanged.
  say(":evil\nQUIT!a@h PRIVMSG #spoon :!hello\r\n");
  EXPECT_EQ(said(), "PRIVMSG #spoon :Hello, evil QUIT!");
  in_sync("one-line-only");
}

TEST_F(Bot, DropsAReceivedLineOver512BytesWholeAndReadsOn) {
  register_bot();
  const std::string longest = "PING :" + std::string(504, 'a');  // 510 bytes + \r\n: allowed
  say(longest + "\r\n");
  EXPECT_EQ(said(), "PONG :" + std::string(504, 'a'));
  // Too long, even by one byte; the end that follows must not count as a line.
  // Too long by one byte, all in one read; then one longer than the bot's
  // 4096-byte buffer, whose end must not pass for a line of its own.
  say("PING :" + std::string(505, 'b') + "\r\n" + "PING :" + std::string(10000, 'c') +
      " PING :d\r\n");
  in_sync("after-the-long-ones");
  ASSERT_TRUE(bot->wait_for_line(">> PONG :after-the-long-ones"));
  const std::string note = "<< (a line over 512 bytes, dropped)\n";
  std::size_t dropped = 0;
  for (auto at = bot->out().find(note); at != std::string::npos; at = bot->out().find(note, at + 1))
    ++dropped;
  EXPECT_EQ(dropped, 2U) << bot->out();
}

// A server that stops reading fills the bot's send buffer, and a blocking
// send then waits for ever — also after a stop, unless the bot looks at the
// stop flag while it waits. The QUIT gets a second at most, then the bot goes.
TEST_F(Bot, ExitsZeroOnSigtermThatArrivesJustBeforeASendThatBlocks) {
#ifndef STOP_BEFORE_BLOCKING_SEND
  GTEST_SKIP() << "needs LD_PRELOAD (Linux) to place the signal just before the blocking send";
#else
  const char* const asan_set = std::getenv("ASAN_OPTIONS");
  const std::string asan_options = asan_set != nullptr ? asan_set : "";
  // A small receive buffer from the start (set before accept, so the
  // connection never offers a big window): the bot's PONGs back up at once.
  const int small = 4096;
  setsockopt(server.listen_socket.get(), SOL_SOCKET, SO_RCVBUF,
             reinterpret_cast<const char*>(&small), sizeof small);
  setenv("LD_PRELOAD", STOP_BEFORE_BLOCKING_SEND, 1);  // for the child about to start
  setenv("ASAN_OPTIONS", (asan_options + ":verify_asan_link_order=0").c_str(), 1);
  register_bot();
  unsetenv("LD_PRELOAD");
  setenv("ASAN_OPTIONS", asan_options.c_str(), 1);
  in_sync("registered");
  // From now on we only write: PINGs whose PONGs nobody reads, until both
  // sides' buffers are full; then we stop sending, as a stalled server would.
  // The bot's next PONG cannot go: the preloaded send raises SIGTERM just
  // before it blocks. Before the fix the bot then waited for ever.
  ASSERT_EQ(net::set_nonblocking(irc->get()), 0);
  const std::string ping = "PING :" + std::string(400, 'x') + "\r\n";
  const auto deadline = Clock::now() + harness::kPatience;
  while (::send(irc->get(), ping.data(), static_cast<int>(ping.size()), 0) > 0)
    ASSERT_LT(Clock::now(), deadline) << "the bot's buffers never filled";
  ASSERT_TRUE(net::would_block(net::last_error())) << net::error_text();
  EXPECT_EQ(bot->wait(5s), 0) << bot->err();
#endif
}

TEST_F(Bot, SaysConnectionClosedByServerAndExitsOneWhenTheServerCloses) {
  register_bot();
  say("ERROR :Closing Link: tester (Bye)\r\n");
  irc.reset();  // the server closes its side
  EXPECT_EQ(bot->wait(), 1);
  EXPECT_TRUE(
      bot->out().ends_with("<< ERROR :Closing Link: tester (Bye)\n"
                           "connection closed by server\n"))
      << bot->out();
}

TEST_F(Bot, SendsQuitThenExitsZeroWithinOneSecondOnSigtermAndSigint) {
#ifdef _WIN32
  GTEST_SKIP() << "Winsock wakes the bot's recv only by closing its socket: no QUIT can follow";
#endif
  for (const int signal_number : {SIGTERM, SIGINT}) {
    register_bot();
    in_sync("registered");
    bot->signal(signal_number);
    EXPECT_EQ(said(), "QUIT :Bye") << "signal " << signal_number;
    EXPECT_TRUE(irc->closed_by_peer(1s));
    EXPECT_EQ(bot->wait(1s), 0) << "signal " << signal_number << "\n" << bot->err();
  }
}

// --- against a real IRC server: Debian's ngircd -------------------------------

#ifdef _WIN32
TEST(BotOnNgircd, RunsOnLinuxOnly) {
  GTEST_SKIP() << "ngircd is a Linux server; the Windows build runs the scripted-server tests";
}
#else

namespace {

std::string find_ngircd() {
  const char* path_variable = std::getenv("PATH");
  std::string dirs = path_variable != nullptr ? path_variable : "";
  dirs += ":/usr/sbin:/usr/local/sbin:/sbin";  // Debian puts daemons in sbin
  std::istringstream each(dirs);
  for (std::string dir; std::getline(each, dir, ':');) {
    std::string path = dir + "/ngircd";
    if (!dir.empty() && ::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// ngircd 26 allows no PING interval under 5 s: the ping test waits that long.
constexpr const char* kNgircdConfig = R"([Global]
  Name = irc.spoon.test
  Info = the spoon1 tests' own IRC server
  AdminInfo1 = spoon1 tests
  AdminInfo2 = loopback only
  AdminEMail = nobody@spoon.test
  Listen = 127.0.0.1
  Ports = {port}
  MotdPhrase = Spoon 1 test server
[Limits]
  PingTimeout = 5
  PongTimeout = 5
  MaxConnectionsIP = 0
  MaxNickLength = 30
  IdleTimeout = 30
[Options]
  DNS = no
  Ident = no
  PAM = no
  IncludeDir = {dir}
)";

// One ngircd in the foreground (-n), on a free loopback port, with a config of
// its own (-f) — never the system's service. IdleTimeout ends one a crashed
// test left behind; the destructor ends it at once.
class Ngircd {
 public:
  Ngircd(const std::string& binary, const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir / "conf.d");  // empty: no system includes
    for (int attempt = 0; attempt < 5 && port == 0; ++attempt) {
      std::uint16_t candidate = 0;
      {
        const net::Socket probe = harness::bound_to_loopback(SOCK_STREAM, candidate);
      }  // free a moment ago
      std::string config = kNgircdConfig;
      config.replace(config.find("{port}"), 6, std::to_string(candidate));
      config.replace(config.find("{dir}"), 5, (dir / "conf.d").string());
      const auto path = dir / "ngircd.conf";
      std::ofstream(path) << config;
      if (start(binary, path)) port = candidate;
    }
  }
  ~Ngircd() { stop(); }
  Ngircd(const Ngircd&) = delete;
  Ngircd& operator=(const Ngircd&) = delete;

  std::uint16_t port = 0;  // 0: it did not start
  std::string log;         // what it printed

 private:
  bool start(const std::string& binary, const std::filesystem::path& config) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(out[1], STDOUT_FILENO);
      dup2(out[1], STDERR_FILENO);
      execl(binary.c_str(), "ngircd", "-n", "-f", config.c_str(), nullptr);
      _exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    // It says "Now listening on [127.0.0.1]:PORT" once it accepts, or exits.
    const auto deadline = Clock::now() + harness::kPatience;
    char buffer[4096];
    while (harness::wait_readable(out_, deadline)) {
      const ssize_t n = ::read(out_, buffer, sizeof buffer);
      if (n <= 0) break;
      log.append(buffer, static_cast<std::size_t>(n));
      if (log.find("Now listening on") != std::string::npos) return true;
    }
    stop();
    return false;
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }
  pid_t pid_ = -1;
  int out_ = -1;
};

// A person in an IRC client, typed by the test: registers and reads lines,
// answering the server's PINGs itself.
struct User {
  Connection irc;
  User(std::uint16_t port, const std::string& nick) : irc(harness::connect_to(port)) {
    irc.send_all("NICK " + nick + "\r\nUSER " + nick + " 0 * :a test user\r\n");
  }
  // Reads lines until one contains `text`; returns it (or nothing).
  std::optional<std::string> wait_for(std::string_view text) {
    const auto deadline = Clock::now() + harness::kPatience;
    while (Clock::now() < deadline) {
      auto line = irc.receive_line(std::chrono::duration_cast<std::chrono::milliseconds>(
          std::max(deadline - Clock::now(), Clock::duration::zero())));
      if (!line) return std::nullopt;
      if (line->starts_with("PING ")) irc.send_all("PONG " + line->substr(5));
      if (line->find(text) != std::string::npos) return line;
    }
    return std::nullopt;
  }
};

}  // namespace

class BotOnNgircd : public testing::Test {
 protected:
  std::filesystem::path dir = temp_dir();
  std::unique_ptr<Ngircd> ngircd;

  void SetUp() override {
    set_password(nullptr);
    const std::string binary = find_ngircd();
    ASSERT_NE(binary, "") << "ngircd is not installed; ./workshop test installs it "
                             "(Debian: apt-get install ngircd)";
    ngircd = std::make_unique<Ngircd>(binary, dir);
    ASSERT_NE(ngircd->port, 0) << "ngircd did not start:\n" << ngircd->log;
  }
  void TearDown() override {
    ngircd.reset();
    std::filesystem::remove_all(dir);
  }
  std::unique_ptr<Child> start_bot(const std::string& nick) {
    return std::make_unique<Child>(
        "spoon1-irc/bot",
        std::vector<std::string>{"--server", "127.0.0.1", "--port", std::to_string(ngircd->port),
                                 "--nick", nick, "--channel", "#spoon", "--log",
                                 (dir / "irc.log").string()});
  }
  // A user joins the channel and says !hello, there and in private.
  static void expect_hello_answered(User& alice, const std::string& bot_nick) {
    alice.irc.send_all("PRIVMSG #spoon :!hello\r\n");
    const auto in_channel = alice.wait_for(" :Hello, alice!");
    ASSERT_TRUE(in_channel);
    EXPECT_TRUE(in_channel->starts_with(":" + bot_nick + "!")) << *in_channel;
    EXPECT_NE(in_channel->find(" PRIVMSG #spoon :Hello, alice!\r\n"), std::string::npos);
    alice.irc.send_all("PRIVMSG " + bot_nick + " :!hello\r\n");
    const auto in_private = alice.wait_for(" :Hello, alice!");
    ASSERT_TRUE(in_private);
    EXPECT_NE(in_private->find(" PRIVMSG alice :Hello, alice!\r\n"), std::string::npos);
  }
};

// The last stage: the same bot on a real network, Debian's ngircd. Its lines
// are the server's own (prefixes, numerics, the NAMES list), not a script's.
TEST_F(BotStages, joins_a_real_server_and_answers_hello) {
  harness::hint(
      "a real IRC server sends more than the script: notices before the welcome, a prefix on "
      "every line, NAMES after the JOIN; handle each line by its command, and append every "
      "PRIVMSG and NOTICE to the log (spoon1-irc/README.md)");
  const std::string binary = find_ngircd();
  if (binary.empty()) GTEST_FAIL() << "ngircd is missing: ./workshop test installs it";
  const Ngircd ngircd(binary, dir);
  ASSERT_NE(ngircd.port, 0) << "ngircd did not start:\n" << ngircd.log;
  harness::by_hand("/usr/sbin/ngircd -n -f ngircd.conf, then your bot --server 127.0.0.1 --port " +
                   std::to_string(ngircd.port) + " --channel '#spoon'");
  bot = std::make_unique<Child>(
      "spoon1-irc/bot",
      std::vector<std::string>{"--server", "127.0.0.1", "--port", std::to_string(ngircd.port),
                               "--nick", "spoonbot", "--channel", "#spoon", "--log", log.string()});
  // The server's echo of our JOIN, as the bot prints it ("<< :spoonbot!... JOIN :#spoon").
  ASSERT_TRUE(bot->wait_for_line(" JOIN :#spoon")) << "the bot never joined #spoon\n"
                                                   << bot->out() << bot->err();
  User alice(ngircd.port, "alice");
  ASSERT_TRUE(alice.wait_for(" 001 alice "));
  alice.irc.send_all("JOIN #spoon\r\n");
  const auto names = alice.wait_for(" 353 alice ");  // who is in the channel
  ASSERT_TRUE(names) << "no NAMES list for #spoon";
  EXPECT_NE(names->find("spoonbot"), std::string::npos) << "the bot is not in #spoon: " << *names;
  alice.irc.send_all("PRIVMSG #spoon :!hello\r\n");
  const auto answer = alice.wait_for(" :Hello, alice!");
  ASSERT_TRUE(answer) << "no answer to alice's '!hello' in #spoon";
  const auto command = answer->find(" PRIVMSG ");  // after the server's ":spoonbot!user@host"
  STAGE_EXPECT(harness::same_bytes("PRIVMSG #spoon :!hello", " PRIVMSG #spoon :Hello, alice!\r\n",
                                   answer->substr(std::min(command, answer->size()))));
  EXPECT_NE(harness::read_file(log).find(" PRIVMSG #spoon :!hello\n"), std::string::npos)
      << "the log has no line for alice's !hello";
  bot->signal(SIGTERM);
  EXPECT_TRUE(alice.wait_for(" QUIT :"));  // the server tells the channel we said goodbye
  EXPECT_EQ(bot->wait(), 0);
}

TEST_F(BotOnNgircd, TakesTheNickWithAnUnderscoreWhenARealServerSaysItIsInUse) {
  const auto first = start_bot("spoonbot");
  ASSERT_TRUE(first->wait_for_line("<< :spoonbot!~spoonbot@127.0.0.1 JOIN :#spoon"));
  const auto second = start_bot("spoonbot");
  EXPECT_TRUE(second->wait_for_line(" 433 "));
  EXPECT_EQ(second->read_line(), ">> NICK spoonbot_");
  EXPECT_TRUE(second->wait_for_line("<< :spoonbot_!~spoonbot@127.0.0.1 JOIN :#spoon"))
      << second->out();
}

TEST_F(BotOnNgircd, AnswersTheServersPingsAndStaysConnected) {
  const auto bot = start_bot("spoonbot");
  ASSERT_TRUE(bot->wait_for_line("<< :spoonbot!~spoonbot@127.0.0.1 JOIN :#spoon"));
  // After 5 s of silence ngircd asks "are you there?" (about 7 s after the
  // JOIN, by its clock); the answer must follow.
  EXPECT_EQ(bot->wait_for_line("<< PING ", 20s), "<< PING :irc.spoon.test");
  EXPECT_EQ(bot->read_line(), ">> PONG :irc.spoon.test");
  User alice(ngircd->port, "alice");
  ASSERT_TRUE(alice.wait_for(" 001 alice "));
  alice.irc.send_all("JOIN #spoon\r\n");
  ASSERT_TRUE(alice.wait_for(" 366 alice "));
  expect_hello_answered(alice, "spoonbot");
  EXPECT_TRUE(bot->running());
}
#endif  // _WIN32
