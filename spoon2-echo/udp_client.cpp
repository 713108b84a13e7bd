// spoon2-echo/udp_client.cpp — Spoon 2, beside TCP: the UDP echo client.
//
// Sends each line of standard input as one datagram and prints the reply.
// UDP promises nothing: a datagram (or its reply) may be lost, so we wait
// --timeout seconds (default 1) for the reply and try again, 3 tries in all.
//
// Try it:  ./workshop run spoon2-echo/udp_server
//          ./workshop run spoon2-echo/udp_client       (type lines)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <array>
#include <cstddef>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: udp_client [--host ADDR] [--port N] [--timeout SECONDS]\n"
                       "Sends each line of standard input as a datagram, prints the reply.\n"
                       "  --host ADDR        server name or address (default 127.0.0.1)\n"
                       "  --port N           server port (default 50007)\n"
                       "  --timeout SECONDS  wait this long for a reply before a retry "
                       "(default 1)\n");
  const std::string host = options.text("--host", "127.0.0.1");
  const std::uint16_t port = options.port(50007);
  const double timeout = options.seconds("--timeout", 1);
  options.done();
  const net::Startup startup;
  const std::string where = host.find(':') == std::string::npos
                                ? fmt::format("{}:{}", host, port)
                                : fmt::format("[{}]:{}", host, port);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;     // IPv4 or IPv6, whichever HOST is
  hints.ai_socktype = SOCK_DGRAM;  // UDP
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    cli::fail_because(gai_strerror(rc), fmt::format("cannot resolve '{}'", host));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

  const net::Socket s{socket(found->ai_family, found->ai_socktype, found->ai_protocol)};
  if (!s) cli::fail("socket");
  // connect() on UDP sends nothing: it fixes the peer for send/recv, filters
  // out datagrams from anyone else, and lets the system report "port
  // unreachable" to us as a refused recv.
  if (connect(s.get(), found->ai_addr, found->ai_addrlen) != 0) cli::fail("connect to {}", where);
  if (net::set_timeouts(s.get(), timeout) != 0) cli::fail("set_timeouts");

  constexpr int tries = 3;  // the first send and two retries
  std::array<char, 65536> buffer{};
  std::string line;
  while (std::getline(std::cin, line)) {
    std::ptrdiff_t received = -1;  // no reply yet
    for (int attempt = 1; attempt <= tries && received < 0; ++attempt) {
      if (send(s.get(), line.data(), static_cast<int>(line.size()), 0) < 0)
        cli::fail("cannot send to {}", where);
      // One recv, one whole datagram: UDP keeps message boundaries.
      received = recv(s.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
      if (received < 0 && !net::is_timeout(net::last_error()))
        cli::fail("no reply from {}", where);  // e.g. refused: nobody on that port
    }
    if (received < 0) {
      fmt::print(stderr, "error: no reply from {} after {} tries\n", where, tries);
      return 1;
    }
    // A reply that comes after its time-out may still arrive later, and be
    // taken for the next line's: UDP leaves such bookkeeping (a sequence
    // number in each message) to the application.
    fmt::print("{}\n", std::string_view(buffer.data(), static_cast<std::size_t>(received)));
  }
  return 0;
}
