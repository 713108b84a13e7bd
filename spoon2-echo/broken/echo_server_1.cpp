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

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

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

// accept() failed. Out of descriptors (EMFILE, ENFILE), say: the client still
// waits in the queue, so the next accept() fails at once too, and a loop that
// only tries again spins at 100% CPU and floods stderr. Say it once, then wait
// a moment before each try, until an accept() works again.
void back_off_after_failed_accept(bool& said_so) {
  if (net::stop_requested()) return;  // a stop woke accept(): no failure
  if (!std::exchange(said_so, true))
    fmt::print(stderr, "accept: {} (trying again every 0.1 s)\n", net::error_text());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// send() may take fewer bytes than offered: loop until all went (Python's
// sendall) — within `timeout` seconds for all of it, however many sends that
// takes. SO_SNDTIMEO alone times each send: one that moved a few bytes returns
// them at its time-out, and the next waits a whole time-out again, so a client
// that stopped reading would hold us (and everyone queued) twice as long.
// So each send may wait only what is left, and at most half a second: a stop
// is never kept waiting longer, on any system.
bool send_all_within(net::socket_t s, std::string_view data, double timeout) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  while (!data.empty() && !net::stop_requested()) {
    const double left =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (net::set_timeout(s, SO_SNDTIMEO, std::clamp(left, 0.001, 0.5)) != 0) return false;
    const auto sent = send(s, data.data(), static_cast<int>(data.size()), 0);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (sent < 0 && net::is_timeout(net::last_error()) && left > 0.5) continue;  // time is left
    return false;  // the time is up, or the client is gone
  }
  return data.empty();
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

  bool accept_failing = false;  // and we said so
  while (!net::stop_requested()) {
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    net::Socket client_socket{
        accept(listen_socket.get(), reinterpret_cast<sockaddr*>(&address), &address_length)};
    if (!client_socket) {
      back_off_after_failed_accept(accept_failing);
      continue;
    }
    accept_failing = false;
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
    const auto received =
        recv(client_socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
    if (received < 0 ||
        (received > 0 &&
         !send_all_within(client_socket.get(), {buffer.data(), static_cast<std::size_t>(received)},
                          timeout))) {
      const int error = net::last_error();
      const std::string why = net::stop_requested()    ? "server stopping"
                              : net::is_timeout(error) ? "timed out"
                                                       : net::error_text(error);
      fmt::print("dropped {}: {}\n", peer, why);
    } else {
      echoed += static_cast<std::size_t>(received);
    }
    // endregion
    fmt::print("Closed {} after echoing {} bytes\n", peer, echoed);
  }
  fmt::print("echo server stopped\n");
  return 0;
}
