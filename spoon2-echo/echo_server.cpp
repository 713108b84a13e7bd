// spoon2-echo/echo_server.cpp — Spoon 2: the talk's `with` echo server.
//
// Sends back every byte it receives, unchanged, until the client closes its
// side; then closes too. One client at a time, so a client that goes silent
// (or stops reading) is dropped after --timeout seconds: the next one waits.
//
// Try it:  ./workshop run spoon2-echo/echo_server --timeout 60    (a person pauses)
//          nc -N 127.0.0.1 50007         (type lines; Ctrl-D to close; -N: see the README)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

// socket → bind → listen. No HOST means every local address: we ask for the
// IPv6 "any" address (::) first, because with IPV6_V6ONLY off that one socket
// takes IPv4 clients too (dual stack). Only where IPv6 is off: 0.0.0.0.
net::Socket listen_on(const std::string& host, std::uint16_t port, int backlog) {
  for (const int family : {AF_INET6, AF_INET}) {
    addrinfo hints{};
    hints.ai_family = host.empty() ? family : AF_UNSPEC;  // AF_UNSPEC: IPv4 or IPv6
    hints.ai_socktype = SOCK_STREAM;                      // TCP
    hints.ai_flags = AI_PASSIVE;                          // an address to listen on
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc =
            getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
        rc != 0)
      cli::fail_because(gai_strerror(rc), fmt::format("cannot resolve '{}'", host));
    const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

    net::Socket listen_socket{socket(found->ai_family, found->ai_socktype, found->ai_protocol)};
    if (!listen_socket && host.empty() && family == AF_INET6) continue;  // no IPv6 here
    if (!listen_socket) cli::fail("socket");
    fmt::print("Socket successfully created\n");
    const int off = 0;
    const int on = 1;
    // A system that will not turn IPV6_V6ONLY off (OpenBSD) would leave :: to
    // IPv6 clients alone, and refuse every 127.0.0.1: then 0.0.0.0 instead.
    if (found->ai_family == AF_INET6 &&
        setsockopt(listen_socket.get(), IPPROTO_IPV6, IPV6_V6ONLY,
                   reinterpret_cast<const char*>(&off), sizeof off) != 0) {
      if (host.empty()) continue;
      cli::fail("setsockopt IPV6_V6ONLY");
    }
    if (setsockopt(listen_socket.get(), SOL_SOCKET, net::reuse_address,
                   reinterpret_cast<const char*>(&on), sizeof on) != 0)
      cli::fail("setsockopt SO_REUSEADDR");
    if (bind(listen_socket.get(), found->ai_addr, found->ai_addrlen) != 0)
      cli::fail("cannot bind to port {}", port);
    if (listen(listen_socket.get(), backlog) != 0) cli::fail("listen");
    return listen_socket;
  }
  cli::fail("socket");
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

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: echo_server [--host ADDR] [--port N] [--timeout SECONDS]\n"
                       "Sends back every byte each client sends, until it closes its side.\n"
                       "  --host ADDR        listen on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N           port to listen on (default 50007; 0: any free port)\n"
                       "  --timeout SECONDS  drop a client silent or not reading that long "
                       "(default 5)\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(50007);
  const double timeout = options.seconds("--timeout", 5);
  options.done();
  const net::Startup startup;

  const net::Socket listen_socket = listen_on(host, port, 5);
  net::stop_on_signal(listen_socket.get());
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(listen_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("echo server listening on port {}\n", net::port_of(bound));

  while (!net::stop_requested()) {
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    net::Socket client_socket{
        accept(listen_socket.get(), reinterpret_cast<sockaddr*>(&address), &address_length)};
    if (!client_socket) {
      if (!net::stop_requested()) fmt::print(stderr, "accept: {}\n", net::error_text());
      continue;
    }
    const std::string peer = net::to_string(address);
    fmt::print("Connected by {}\n", peer);
    // We serve one client at a time: a recv or send that waits longer than
    // this fails, so a stuck client cannot keep the others waiting forever.
    // A client we cannot give that guard is not served at all.
    if (net::set_timeouts(client_socket.get(), timeout) != 0) {
      fmt::print(stderr, "set_timeouts for {}: {}\n", peer, net::error_text());
      continue;
    }
    const net::WakeOnStop wake{client_socket.get()};  // Ctrl-C must not wait for this client

    // region: echo-loop
    std::array<char, 65536> buffer{};
    std::size_t echoed = 0;
    while (!net::stop_requested()) {
      const auto received =
          recv(client_socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
      if (received == 0) break;  // Fact: recv returns 0 — the client has closed its side
      if (received < 0 ||
          !send_all(client_socket.get(), {buffer.data(), static_cast<std::size_t>(received)})) {
        const int error = net::last_error();
        fmt::print("dropped {}: {}\n", peer,
                   net::is_timeout(error) ? "timed out" : net::error_text(error));
        break;
      }
      echoed += static_cast<std::size_t>(received);
    }
    // endregion
    fmt::print("Closed {} after echoing {} bytes\n", peer, echoed);
  }
  fmt::print("echo server stopped\n");
  return 0;
}
