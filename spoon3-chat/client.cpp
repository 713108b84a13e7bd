// spoon3-chat/client.cpp — Spoon 3: the terminal chat's client.
//
// New since Spoon 2's client: two things at once. A thread (handle_messages)
// prints each line the server sends as it arrives, while the main thread sends
// each line you type. `quit` or the end of input (Ctrl-D) leaves the chat.
//
// Try it:  ./workshop run spoon3-chat/server       (in one terminal)
//          ./workshop run spoon3-chat/client       (in two or more others)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

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
    net::Socket s{socket(address->ai_family, address->ai_socktype, address->ai_protocol)};
    if (s && connect(s.get(), address->ai_addr, address->ai_addrlen) == 0) return s;
  }
  cli::fail("cannot connect to {}", where);  // the last address's reason
}

// send() may take fewer bytes than offered: loop until all went (Python's sendall).
bool send_all(net::socket_t s, std::string_view data) {
  while (!data.empty()) {
    const auto sent = send(s, data.data(), static_cast<int>(data.size()), 0);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

std::atomic<bool> leaving = false;  // we said quit: the server's close is expected

// The talk's handle_messages, on its own thread. Fact: there is no EOT — a recv
// may end mid-line, so we print only whole lines: an incoming message never
// breaks off in the middle, and the next one never starts there.
// region: handle_messages
void handle_messages(net::socket_t s) {
  std::array<char, 4096> buffer{};
  std::string pending;
  while (true) {
    const auto received = recv(s, buffer.data(), static_cast<int>(buffer.size()), 0);
    if (received <= 0) break;  // Fact: recv returns 0 — the server has closed
    pending.append(buffer.data(), static_cast<std::size_t>(received));
    const std::size_t end = pending.rfind('\n');
    if (end == std::string::npos) continue;
    std::fwrite(pending.data(), 1, end + 1, stdout);
    std::fflush(stdout);
    pending.erase(0, end + 1);
  }
  // region: server-went-away
  if (leaving) return;
  // The server went away while we were still chatting. The main thread waits
  // on the keyboard, which nothing can wake, so we end the program from here.
  fmt::print(stderr, "error: the server closed the connection\n");
  std::fflush(stderr);
  std::_Exit(1);
  // endregion
}
// endregion

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: client [--host ADDR] [--port N]\n"
                       "Joins the chat: prints every line from the server, sends each line\n"
                       "of standard input. 'quit' or the end of input leaves.\n"
                       "  --host ADDR  server name or address (default 127.0.0.1)\n"
                       "  --port N     server port (default 12000)\n");
  const std::string host = options.text("--host", "127.0.0.1");
  const std::uint16_t port = options.port(12000);
  options.done();
  const net::Startup startup;

  const net::Socket s = connect_to(host, port);
  fmt::print("Connected to chat!\n");
  std::thread receiver(handle_messages, s.get());  // the talk's threading.Thread(...).start()

  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    line += '\n';  // a message is a line: the server cuts the stream at each "\n"
    if (!send_all(s.get(), line)) cli::fail("send");
  }
  leaving = true;
  // Tip: shutdown, the half-close — "I have said everything". The server hangs
  // up in answer; until then we still print what was on its way to us.
  shutdown(s.get(), SHUT_WR);
  receiver.join();
  return 0;
}
