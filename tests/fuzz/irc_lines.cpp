// tests/fuzz/irc_lines.cpp — libFuzzer target: the IRC bot's line reader
// (read_line), its parser (message_checker) and its PING answer (ping_checker).
//
// bot.cpp is compiled in whole (its main renamed by -Dmain=...), so the code
// fuzzed is the lesson's own. The bytes reach read_line through a real socket
// pair — twice: in 4 KiB records, and cut into pieces at places the input
// chooses (SOCK_SEQPACKET keeps each piece one recv). The lines must be the
// same either way, none longer than IRC allows or holding its "\r\n"; each is
// parsed, and a PING is answered with one line, ended "\r\n", nothing more.
#include "spoon1-irc/bot.cpp"

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

// The lines read_line makes of these pieces, sent one record each.
std::vector<std::string> lines_of(const std::vector<std::string_view>& pieces) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0) __builtin_trap();
  const int big = 4 << 20;  // room for every piece before the first is read
  setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  setsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  for (const std::string_view piece : pieces)
    if (send(pair[1], piece.data(), piece.size(), 0) != static_cast<ssize_t>(piece.size()))
      __builtin_trap();
  shutdown(pair[1], SHUT_WR);  // then recv returns 0: the server has closed
  std::vector<std::string> lines;
  Lines reader;
  while (const std::optional<std::string> line = read_line(pair[0], reader))
    lines.push_back(*line);
  close(pair[0]);
  close(pair[1]);
  return lines;
}

void check_message(const std::string& line, int sink, int source) {
  if (line.size() > max_line - 2 || line.find("\r\n") != std::string::npos) __builtin_trap();
  const Message message = message_checker(line);
  if (message.command.find(' ') != std::string::npos) __builtin_trap();
  ping_checker(sink, message);
  std::string sent(1024, '\0');
  const auto got = recv(source, sent.data(), sent.size(), MSG_DONTWAIT);
  if (message.command != "PING") {
    if (got > 0) __builtin_trap();  // only a PING is answered
    return;
  }
  if (got <= 0) __builtin_trap();
  sent.resize(static_cast<std::size_t>(got));
  // One line: "PONG ...\r\n", no other CR or LF in it, at most 512 bytes.
  if (!sent.starts_with("PONG") || !sent.ends_with("\r\n") || sent.size() > max_line ||
      sent.find_first_of("\r\n") != sent.size() - 2)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = std::freopen("/dev/null", "w", stdout) != nullptr;  // the bot prints
  (void)quiet;
  if (size < 2 || size > 16384) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> whole;
  for (std::size_t at = 0; at < stream.size(); at += 4096)
    whole.push_back(stream.substr(at, 4096));
  std::vector<std::string_view> pieces;
  unsigned cut = data[0];
  for (std::size_t at = 0; at < stream.size();) {
    cut = cut * 1103515245U + 12345U;  // a small generator: pieces of 1 to 600 bytes
    const std::size_t length = 1 + (cut >> 16) % 600;
    pieces.push_back(stream.substr(at, length));
    at += length;
  }
  const std::vector<std::string> lines = lines_of(whole);
  if (lines != lines_of(pieces)) __builtin_trap();  // where TCP cuts must not matter
  int pong[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pong) != 0) __builtin_trap();
  for (const std::string& line : lines)
    check_message(line, pong[0], pong[1]);
  close(pong[0]);
  close(pong[1]);
  return 0;
}
