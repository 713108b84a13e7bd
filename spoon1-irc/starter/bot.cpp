// spoon1-irc/bot.cpp — Spoon 1: the IRC bot that opens the talk.
//
// Connects, registers (NICK, USER), identifies to NickServ, joins a channel,
// then lives in a loop: answer every PING, log every PRIVMSG and NOTICE, and
// say hello to whoever writes "!hello". New compared with the talk's Python:
// a line reader (there is no EOT on a socket), a real parser for IRC lines,
// JOIN after the server's welcome instead of after a sleep(3), and a QUIT.
//
// Try it:  ./workshop run spoon1-irc/bot --nick YourBotName
//          then, in any IRC client on irc.libera.chat, join ##bottestingmu
//          and say !hello
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// TODO: your homework. This is spoon1-irc/bot.cpp with its socket calls taken
// out: each TODO below says which call to write, and which Fact it shows. Until
// you write one, todo() stands in for it and fails as the call would (-1, the
// reason "Function not implemented"), so the file builds and runs as it is, and
// the checker shows how far it gets:
//     ./workshop check spoon1-irc/bot -- ./homework/spoon1-irc/bot
// todo() takes what the call would take, so nothing goes unused meanwhile.
int todo(const auto&... /*what the call would take*/) {
  net::set_last_error(ENOSYS);
  return -1;
}

// The talk's constants. The freenode it knew ended in 2021; its people moved to
// Libera.Chat.
const std::string BOT_IRC_SERVER = "irc.libera.chat";
const std::string BOT_IRC_CHANNEL = "##bottestingmu";
constexpr std::uint16_t BOT_IRC_PORT = 6667;
const std::string BOT_NICKNAME = "appinventormuBot";
// RFC 1459 §2.3: a line is at most 512 bytes, its "\r\n" included.
constexpr std::size_t max_line = 512;

// getaddrinfo → socket → connect, trying each address HOST has (a name like
// localhost may have an IPv6 and an IPv4 one) until one answers.
net::Socket connect_to(const std::string& host, std::uint16_t port) {
  const std::string where = host.find(':') == std::string::npos
                                ? fmt::format("{}:{}", host, port)
                                : fmt::format("[{}]:{}", host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;      // Tip: AF_UNSPEC takes IPv4 and IPv6 alike
  hints.ai_socktype = SOCK_STREAM;  // TCP
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    cli::fail_because(gai_strerror(rc), fmt::format("cannot connect to {}", where));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    // TODO socket(): a socket of this address's family, type and protocol
    // (address->ai_family, ai_socktype, ai_protocol). Then, if it was made,
    // TODO connect() it to address->ai_addr (ai_addrlen bytes long): TCP's
    // handshake. 0 means we are in a conversation with the server.
    net::Socket s{static_cast<net::socket_t>(todo())};
    if (s && todo(address) == 0) return s;
  }
  cli::fail("cannot connect to {}", where);  // the last address's reason
}

// Every line the bot says goes through here, ended by "\r\n" and never longer
// than 512 bytes. A CR or LF inside (in a nick the server sent us, say) would
// end our line early and start a second command, not ours: it becomes a space.
// `shown` is what we print instead when the line holds a secret.
void send_line(net::socket_t s, std::string line, std::string_view shown = {}) {
  for (char& c : line)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  if (line.size() > max_line - 2) line.resize(max_line - 2);
  fmt::print(">> {}\n", shown.empty() ? line : shown);
  line += "\r\n";
  // send() may take fewer bytes than offered: loop until all went (Python's
  // sendall). Each send waits at most a second (SO_SNDTIMEO, set at connect):
  // a server that is slow to read is waited for, but once we are asked to
  // stop, a server that does not read cannot keep us: we go without a goodbye.
  std::string_view rest = line;
  while (!rest.empty()) {
    // TODO send(): offer `rest` to socket s; it returns how many bytes it took.
    const auto sent = todo(s);
    if (sent > 0) {
      rest.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (net::stop_requested()) return;  // after a stop there is nothing left to lose
    if (sent < 0 && net::is_timeout(net::last_error())) continue;  // slow, not gone: wait on
    cli::fail("send");
  }
}

// Fact: there is no EOT on a socket. A recv hands over whatever bytes have
// come — half a line, or ten lines — so we keep them and cut at each "\r\n".
struct Lines {
  std::string pending;    // received, not yet a whole line
  bool too_long = false;  // inside a line over 512 bytes: not IRC, dropped whole
};

// The next whole line, without its "\r\n"; nothing once recv returns 0.
// region: read-line
std::optional<std::string> read_line(net::socket_t s, Lines& lines) {
  std::array<char, 4096> buffer{};  // the talk's recv(4096)
  while (!net::stop_requested()) {  // after Ctrl-C, stop even if the server talks on
    if (const auto end = lines.pending.find("\r\n"); end != std::string::npos) {
      std::string line = lines.pending.substr(0, end);
      lines.pending.erase(0, end + 2);
      if (!std::exchange(lines.too_long, false) && line.size() <= max_line - 2) return line;
      fmt::print("<< (a line over {} bytes, dropped)\n", max_line);
      continue;
    }
    // region: too-long
    if (lines.pending.size() >= max_line) {  // keep the last byte: it may be the '\r'
      lines.too_long = true;
      lines.pending.erase(0, lines.pending.size() - 1);
    }
    // endregion
    // TODO recv(): what the server sent, up to buffer.size() bytes (the talk's
    // recv(4096)) — part of a line, or many lines (Fact: there is no EOT on a socket).
    const auto received = todo(s);
    if (received < 0 && !net::stop_requested()) cli::fail("recv");
    if (received <= 0) return std::nullopt;  // Fact: recv returns 0 — the server has closed
    lines.pending.append(buffer.data(), static_cast<std::size_t>(received));
  }
  return std::nullopt;
}
// endregion

// One IRC line, as RFC 1459 §2.3.1 cuts it:
//   [":" prefix " "] command {" " middle} [" :" trailing]
struct Message {
  std::string prefix;               // who sent it: "nick!user@host", or a server's name
  std::string command;              // "PRIVMSG", "PING", "001", ...
  std::vector<std::string> params;  // the middle parameters, then the trailing one
  bool has_trailing = false;        // was the last parameter written ":like this"?
};

std::string_view nick_of(std::string_view prefix) { return prefix.substr(0, prefix.find('!')); }

// The talk's messagechecker: reads one line the way the RFC says, and prints
// who said what. (The talk searched a whole 4 KiB chunk for "PRIVMSG", and
// logged the chunk, however many lines it held.)
Message message_checker(std::string_view line) {
  Message message;
  if (line.starts_with(':')) {  // the prefix, up to the first space
    message.prefix = line.substr(1, line.find(' ') - 1);
    line.remove_prefix(std::min(line.find(' '), line.size()));
  }
  const auto colon = line.find(" :");  // the trailing parameter: the rest, spaces and all
  // The words before it are cut at spaces, and only spaces (RFC 1459: one or
  // more ' '): a tab is part of a word, so "PING a<TAB>b" is answered exactly.
  const std::string_view words = line.substr(0, colon);
  for (std::size_t start = 0; start < words.size();) {
    const std::size_t end = std::min(words.find(' ', start), words.size());
    if (end > start) {
      const std::string word{words.substr(start, end - start)};
      if (message.command.empty())
        message.command = word;
      else
        message.params.push_back(word);
    }
    start = end + 1;
  }
  if (colon != std::string_view::npos) {
    message.params.emplace_back(line.substr(colon + 2));
    message.has_trailing = true;
  }
  const bool notice = message.command == "NOTICE";
  if ((notice || message.command == "PRIVMSG") && message.params.size() == 2) {
    const std::string_view from = message.prefix.empty() ? "*" : nick_of(message.prefix);
    // Printed the way IRC clients show them: <nick> for a message, -nick- for a notice.
    fmt::print("[{}] {}{}{} {}\n", message.params[0], notice ? '-' : '<', from, notice ? '-' : '>',
               message.params[1]);
  }
  return message;
}

// The talk's pingChecker. The server's "are you there?": answer with the same
// token, or be disconnected. Every line whose command is PING, and no other —
// the talk answered only a 4 KiB chunk that began with "PING", so a PING behind
// another line, or cut in two by a recv, went unanswered.
// region: ping-checker
void ping_checker(net::socket_t s, const Message& message) {
  if (message.command != "PING") return;
  std::string pong = "PONG";
  for (std::size_t i = 0; i < message.params.size(); ++i) {
    const bool trailing = message.has_trailing && i + 1 == message.params.size();
    pong += (trailing ? " :" : " ") + message.params[i];
  }
  send_line(s, pong);
}
// endregion

int main(int argc, char** argv) {
  cli::Options options(
      argc, argv,
      "usage: bot [--server HOST] [--port N] [--nick NICK] [--channel CHAN] [--log FILE]\n"
      "An IRC bot: joins CHAN, answers PING and !hello, logs PRIVMSG and NOTICE lines.\n"
      "  --server HOST   IRC server (default irc.libera.chat)\n"
      "  --port N        its port (default 6667)\n"
      "  --nick NICK     the bot's nickname (default appinventormuBot)\n"
      "  --channel CHAN  the channel to join (default ##bottestingmu)\n"
      "  --log FILE      where PRIVMSG and NOTICE lines are appended (default irc.log)\n"
      "The NickServ password, if any, comes from the IRC_PASSWORD environment variable.\n");
  const std::string server = options.text("--server", BOT_IRC_SERVER);
  const std::uint16_t port = options.port(BOT_IRC_PORT);
  std::string nick = options.text("--nick", BOT_NICKNAME);
  const std::string account = nick;  // NickServ knows us by this, even as nick_ after a 433
  const std::string channel = options.text("--channel", BOT_IRC_CHANNEL);
  const std::string log_path = options.text("--log", "irc.log");
  options.done();
  // Never on the command line, where any user of the machine can read it (ps).
  const char* from_environment = std::getenv("IRC_PASSWORD");
  const std::string password = from_environment != nullptr ? from_environment : "";
  const net::Startup startup;

  std::FILE* log = std::fopen(log_path.c_str(), "a");
  if (log == nullptr) cli::fail("cannot open log file '{}'", log_path);
  const std::unique_ptr<std::FILE, decltype(&std::fclose)> log_file(log, std::fclose);

  // region: register
  const net::Socket irc = connect_to(server, port);
  net::stop_on_signal(irc.get());  // Ctrl-C wakes our recv; we still send QUIT
  if (net::set_timeout(irc.get(), SO_SNDTIMEO, 1) != 0) cli::fail("setsockopt SO_SNDTIMEO");

  // Registration: who we are. Then we wait for the welcome, as the RFC says.
  send_line(irc.get(), "NICK " + nick);
  send_line(irc.get(), fmt::format("USER {0} 0 * :{0} IRC", nick));
  // endregion

  // region: welcome
  Lines lines;
  while (const std::optional<std::string> line = read_line(irc.get(), lines)) {
    fmt::print("<< {}\n", *line);
    const Message message = message_checker(*line);
    ping_checker(irc.get(), message);
    if (message.command == "001") {  // welcome: registered, now we may speak
      if (!password.empty())
        send_line(irc.get(), fmt::format("PRIVMSG NickServ :IDENTIFY {} {}", account, password),
                  fmt::format("PRIVMSG NickServ :IDENTIFY {} ********", account));
      send_line(irc.get(), "JOIN " + channel);
    } else if (message.command == "433") {  // nickname in use: try another
      nick += '_';
      send_line(irc.get(), "NICK " + nick);
    } else if (message.command == "PRIVMSG" || message.command == "NOTICE") {
      // region: log-and-hello
      fmt::print(log, "{}\n", *line);
      std::fflush(log);  // the talk's target.flush(): `tail -f irc.log` sees it now
      if (message.command == "PRIVMSG" && message.params.size() == 2 &&
          message.params[1] == "!hello" && !message.prefix.empty()) {
        const std::string sender(nick_of(message.prefix));
        const std::string& to = message.params[0];  // a channel, or us (in private)
        const bool in_channel = std::string_view("#&+!").find(to.front()) != std::string::npos;
        send_line(irc.get(),
                  fmt::format("PRIVMSG {} :Hello, {}!", in_channel ? to : sender, sender));
      }
      // endregion
    }
  }
  // endregion
  if (net::stop_requested()) {  // Ctrl-C or SIGTERM: say goodbye (Windows can't), then close
    send_line(irc.get(), "QUIT :Bye");
    return 0;
  }
  fmt::print("connection closed by server\n");
  return 1;
}
