// spoon2-echo/udp_server.cpp — Spoon 2, beside TCP: the same echo over UDP.
//
// SOCK_DGRAM instead of SOCK_STREAM: no listen, no accept, no connection.
// Each recvfrom() returns exactly one datagram (message boundaries are kept,
// unlike TCP) and tells us who sent it, so sendto() can answer that sender.
//
// Try it:  ./workshop run spoon2-echo/udp_server
//          nc -u 127.0.0.1 50007           (each line you type is a datagram)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <array>
#include <memory>
#include <string>

// socket → bind. No HOST means every local address: we ask for the IPv6
// "any" address (::) first, because with IPV6_V6ONLY off that one socket
// takes IPv4 datagrams too (dual stack). Only where IPv6 is off: 0.0.0.0.
net::Socket bind_to(const std::string& host, std::uint16_t port) {
  for (const int family : {AF_INET6, AF_INET}) {
    addrinfo hints{};
    hints.ai_family = host.empty() ? family : AF_UNSPEC;  // AF_UNSPEC: IPv4 or IPv6
    hints.ai_socktype = SOCK_DGRAM;                       // UDP
    hints.ai_flags = AI_PASSIVE;                          // an address to receive on
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc =
            getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
        rc != 0)
      cli::fail_because(gai_strerror(rc), fmt::format("cannot resolve '{}'", host));
    const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

    net::Socket udp_socket{socket(found->ai_family, found->ai_socktype, found->ai_protocol)};
    if (!udp_socket && host.empty() && family == AF_INET6) continue;  // no IPv6 here
    if (!udp_socket) cli::fail("socket");
    const int off = 0;
    // A system that will not turn IPV6_V6ONLY off (OpenBSD) would leave :: to
    // IPv6 datagrams alone, and ignore every 127.0.0.1: then 0.0.0.0 instead.
    if (found->ai_family == AF_INET6 &&
        setsockopt(udp_socket.get(), IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&off),
                   sizeof off) != 0) {
      if (host.empty()) continue;
      cli::fail("setsockopt IPV6_V6ONLY");
    }
    if (bind(udp_socket.get(), found->ai_addr, found->ai_addrlen) != 0)
      cli::fail("cannot bind to port {}", port);
    return udp_socket;
  }
  cli::fail("socket");
}

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: udp_server [--host ADDR] [--port N]\n"
                       "Answers each UDP datagram with the same bytes.\n"
                       "  --host ADDR  receive on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N     port to receive on (default 50007; 0: any free port)\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(50007);
  options.done();
  const net::Startup startup;

  const net::Socket udp_socket = bind_to(host, port);
  net::stop_on_signal(udp_socket.get());
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(udp_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("udp echo server waiting for datagrams on port {}\n", net::port_of(bound));

  std::array<char, 65536> buffer{};  // the largest datagram there can be
  // region: datagram-loop
  while (!net::stop_requested()) {
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    const auto received = recvfrom(udp_socket.get(), buffer.data(), static_cast<int>(buffer.size()),
                                   0, reinterpret_cast<sockaddr*>(&address), &address_length);
    if (received < 0) {
      // Some systems report an earlier sendto's "port unreachable" here; it
      // concerns one old peer, not us, so go on waiting.
      if (!net::stop_requested()) fmt::print(stderr, "recvfrom: {}\n", net::error_text());
      continue;
    }
    if (net::stop_requested()) break;  // a shutdown wakes recvfrom with an empty read
    fmt::print("{} bytes from {}\n", received, net::to_string(address));
    // One datagram in, one out: sendto sends all of it or nothing.
    if (sendto(udp_socket.get(), buffer.data(), static_cast<int>(received), 0,
               reinterpret_cast<const sockaddr*>(&address), address_length) < 0)
      fmt::print(stderr, "sendto {}: {}\n", net::to_string(address), net::error_text());
  }
  // endregion
  fmt::print("udp echo server stopped\n");
  return 0;
}
