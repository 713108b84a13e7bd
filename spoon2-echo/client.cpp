// spoon2-echo/client.cpp — Spoon 2: the first client.
//
// Connects to the server, prints whatever it says until the server closes.
// The client only ever uses a "client" socket: connect, then talk.
//
// Try it:  ./workshop run spoon2-echo/server      (in one terminal)
//          ./workshop run spoon2-echo/client      (in another)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

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

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: client [--host ADDR] [--port N]\n"
                       "Connects to the server and prints what it says until it closes.\n"
                       "  --host ADDR  server name or address (default 127.0.0.1)\n"
                       "  --port N     server port (default 12345)\n");
  const std::string host = options.text("--host", "127.0.0.1");
  const std::uint16_t port = options.port(12345);
  options.done();
  const net::Startup startup;

  // region: recv-loop
  const net::Socket s = connect_to(host, port);
  std::array<char, 1024> buffer{};
  bool line_open = false;
  while (true) {
    const auto received = recv(s.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
    if (received < 0) cli::fail("recv");
    // Fact: recv returns 0 when the other side has closed. Never anything more.
    if (received == 0) break;
    // Fact: there is no EOT on a socket. One recv may hold part of a message,
    // or several; only the close tells us the server has said everything.
    std::fwrite(buffer.data(), 1, static_cast<std::size_t>(received), stdout);
    std::fflush(stdout);
    line_open = buffer[static_cast<std::size_t>(received) - 1] != '\n';
  }
  // endregion
  if (line_open) fmt::print("\n");
  return 0;
}
