// spoon4-webserver/poll_server.cpp — Spoon 4, the next step: one thread, many clients.
//
// The talk ends with "look into selectors, async server approach". This is
// that step, done with poll(), the portable call (Python's `selectors` offers
// it too, but its DefaultSelector is epoll on Linux and kqueue on macOS and
// the BSDs: poll and select are its fallbacks; epoll_server.cpp is next).
// New since server.cpp: every socket is non-blocking, so no call ever waits;
// one poll() waits for all of them at once and says which are ready; each
// connection keeps its own buffers (connection.hpp: what came in, what has
// yet to go out); a connection stays open for the next request (keep-alive),
// and requests sent back to back (pipelined) are answered in order.
// With --root DIR it serves the files under DIR, and nothing outside it.
//
// Try it:  ./workshop run spoon4-webserver/poll_server --root spoon4-webserver
//          curl -v http://127.0.0.1:8888/README.md      (or open it in a browser)
#include "common/cli.hpp"
#include "common/net.hpp"
#include "connection.hpp"
#include "http.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

// TODO: your homework. This is spoon4-webserver/poll_server.cpp with its socket
// calls taken out: each TODO below says which call to write, and which Fact it
// shows. Until you write one, todo() stands in for it and fails as the call
// would (-1, the reason "Function not implemented"), so the file builds and
// runs as it is, and the checker shows how far it gets:
//     ./workshop check spoon4-webserver/poll_server -- ./homework/spoon4-webserver/poll_server
// todo() takes what the call would take, so nothing goes unused meanwhile.
// (recv, send and shutdown are in connection.hpp, written: this step's new call is poll.)
int todo(const auto&... /*what the call would take*/) {
  net::set_last_error(ENOSYS);
  return -1;
}

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

    // TODO socket(): ask the system for a socket of this address's family
    // (found->ai_family: AF_INET6 or AF_INET), type (found->ai_socktype:
    // SOCK_STREAM, TCP) and protocol (found->ai_protocol). A handle, no more:
    // no address and no peer yet.
    net::Socket listen_socket{static_cast<net::socket_t>(todo())};
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
    // TODO bind(): give listen_socket its address and port (found->ai_addr,
    // found->ai_addrlen bytes long). One socket per port: a second one gets
    // "Address already in use".
    if (todo() != 0) cli::fail("cannot bind to port {}", port);
    // TODO listen(): make it a server's socket. `backlog` is how many finished
    // handshakes the kernel queues for accept() while we are busy: a queue,
    // not a cap on how many clients we serve.
    if (todo(backlog) != 0) cli::fail("listen");
    return listen_socket;
  }
  cli::fail("socket");
}

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: poll_server [--host ADDR] [--port N] [--root DIR] [--timeout S]\n"
                       "One thread serving many HTTP clients at once with poll().\n"
                       "Answers every GET with 'Hello, World!', or with --root the files\n"
                       "under DIR (index.html for a directory), never anything outside it.\n"
                       "  --host ADDR    listen on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N       port to listen on (default 8888; 0: any free port)\n"
                       "  --root DIR     serve the files under DIR\n"
                       "  --timeout S    drop a client silent S seconds (default 5)\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(8888);
  const std::string root_option = options.text("--root", "");
  const double timeout = options.seconds("--timeout", 5);
  options.done();
  const net::Startup startup;
  // The log's lines wait in stdout's buffer and go out together before each
  // poll(): a write() for every line would cost more than the answers.
  std::setvbuf(stdout, nullptr, _IOFBF, 1 << 16);

  std::filesystem::path root;  // canonical: every ".." and symlink in it resolved
  if (!root_option.empty()) {
    std::error_code error;
    root = std::filesystem::canonical(root_option, error);
    if (error || !std::filesystem::is_directory(root, error))
      cli::fail_because(error ? error.message() : "Not a directory",
                        fmt::format("cannot serve --root '{}'", root_option));
  }

  // A long backlog (SOMAXCONN): clients arrive faster than one round takes.
  const net::Socket listen_socket = listen_on(host, port, SOMAXCONN);
  if (net::set_nonblocking(listen_socket.get()) != 0) cli::fail("set_nonblocking");
  net::stop_on_signal(listen_socket.get());
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(listen_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("Serving HTTP with poll() on port {} ...\n", net::port_of(bound));

  // Slot i of `fds` (what poll() watches) belongs to connections[i]; slot 0
  // is the listening socket, and connections[0] is its unused partner.
  std::vector<pollfd> fds{{listen_socket.get(), POLLIN, 0}};
  std::vector<Connection> connections(1);
  std::array<char, 65536> buffer{};  // one for all: a recv copies out of it at once
  const auto patience =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
  auto accept_again = Clock::time_point::max();  // while accept() is paused: when to try again
  bool accept_failing = false;                   // and we said so

  // region: poll-loop
  while (!net::stop_requested()) {
    std::fflush(stdout);  // the last round's log lines, before we sleep
    // Sleep until a socket is ready, or the first client's time runs out.
    auto first_deadline = accept_again;  // (or it is time to accept again)
    for (std::size_t i = 1; i < connections.size(); ++i)
      first_deadline = std::min(first_deadline, connections[i].deadline);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(first_deadline - Clock::now());
    // TODO poll(): one wait for every socket in fds, until one is ready, or
    // until the first deadline: -1 (forever) when there is none, else
    // wait.count() milliseconds (kept between 0 and 60000). It returns how
    // many are ready, and each slot's revents says what happened to it.
    const int ready = todo(wait);
    if (ready < 0 && net::stop_requested()) break;  // Ctrl-C interrupted poll()
    if (ready < 0) cli::fail("poll");
    // region: serve-ready-sockets
    const Clock::time_point now = Clock::now();
    if (now >= accept_again) {
      fds[0].events = POLLIN;
      accept_again = Clock::time_point::max();
    }

    // The listening socket is readable: clients wait in its queue. Take them all.
    if ((fds[0].revents & POLLIN) != 0) {
      while (true) {
        sockaddr_storage address{};
        socklen_t address_length = sizeof address;
        // TODO accept(): the next client of the queue, its address written into
        // `address` (&address_length: its room, then its length). On this
        // non-blocking socket it never waits: an empty queue is EWOULDBLOCK.
        net::Socket client_socket{static_cast<net::socket_t>(todo(address_length))};
        if (!client_socket) {
          if (!net::would_block(net::last_error()) && !net::stop_requested()) {
            // Out of descriptors (EMFILE, ENFILE), say: the classic trap of an
            // event loop. The client stays queued, so the listening socket stays
            // readable and accept() fails again at once: retrying spins at 100%
            // CPU and floods stderr. Stop watching it for 0.1 s (or until a
            // connection closes and frees a descriptor), and say so once.
            if (!std::exchange(accept_failing, true))
              fmt::print(stderr, "accept: {} (pausing 0.1 s between tries)\n", net::error_text());
            fds[0].events = 0;
            accept_again = now + std::chrono::milliseconds(100);
          }
          break;
        }
        accept_failing = false;
        if (net::set_nonblocking(client_socket.get()) != 0) {
          fmt::print(stderr, "set_nonblocking: {}\n", net::error_text());
          continue;
        }
        // revents = 0: this slot was not in this round's poll(), and the loop
        // below will look at it. Garbage there is Beej's bug.
        fds.push_back(pollfd{client_socket.get(), POLLIN, 0});
        connections.push_back({.socket = std::move(client_socket),
                               .peer = net::to_string(address),
                               .deadline = now + patience});
        fmt::print("{} connected\n", connections.back().peer);
      }
    }

    for (std::size_t i = 1; i < fds.size();) {
      // Readable — or hung up, or failed, which recv() then reports. A hang-up can
      // come as POLLHUP alone, without POLLIN: look at all three (Beej's bug).
      const bool readable = (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
      Connection& c = connections[i];
      if (serve(c, readable, (fds[i].revents & POLLOUT) != 0, now, patience, root, buffer)) {
        fds[i].events = static_cast<short>((c.reading ? POLLIN : 0) | (c.sending ? POLLOUT : 0));
        ++i;
        continue;
      }
      fmt::print("{} closed\n", connections[i].peer);
      // Swap-remove: the last slot moves into slot i, and we do NOT ++i — slot i
      // now holds a connection this round has not served yet (Beej's bug).
      if (i + 1 < fds.size()) {
        fds[i] = fds.back();
        connections[i] = std::move(connections.back());
      }
      fds.pop_back();
      connections.pop_back();  // net::Socket: shutdown, then close
      fds[0].events = POLLIN;  // a descriptor is free again
    }
    // endregion
  }
  // endregion
  fmt::print("server stopped\n");
  return 0;
}
