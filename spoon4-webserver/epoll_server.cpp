// spoon4-webserver/epoll_server.cpp — Spoon 4: poll_server, with poll() replaced by epoll.
//
// poll() hands the kernel every socket on every turn, and the loop then looks
// at every connection: 10,000 idle ones for one that is ready. epoll (Linux's;
// macOS and the BSDs have kqueue) keeps the list in the kernel: a socket is
// added once, changed when what it waits for changes, and epoll_wait() returns
// the ready ones alone. Level-triggered, as Python's selectors: a socket stays
// ready until we have read it all. Deadlines wait in order, soonest first.
//
// Try it:  ./workshop run spoon4-webserver/epoll_server --root spoon4-webserver
//          curl -v http://127.0.0.1:8888/README.md      (or open it in a browser)
#include "common/cli.hpp"
#include "common/net.hpp"
#include "connection.hpp"
#include "http.hpp"

#include <fmt/core.h>
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

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

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: epoll_server [--host ADDR] [--port N] [--root DIR] [--timeout S]\n"
                       "One thread serving many HTTP clients at once with epoll.\n"
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
  // epoll_wait(): a write() for every line would cost more than the answers.
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
  fmt::print("Serving HTTP with epoll on port {} ...\n", net::port_of(bound));

  // The kernel's list of the sockets we watch: each added once, with what we
  // wait for (EPOLLIN: bytes to read; EPOLLOUT: room to send).
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) cli::fail("epoll_create1");
  const auto watch = [epoll](int operation, net::socket_t s, std::uint32_t wanted) {
    epoll_event event{.events = wanted, .data = {.fd = s}};  // the event will name its socket
    return epoll_ctl(epoll, operation, s, &event);
  };
  if (watch(EPOLL_CTL_ADD, listen_socket.get(), EPOLLIN) != 0) cli::fail("epoll_ctl");
  // connections[fd] is the connection on descriptor fd (a small number, reused once closed).
  std::vector<Connection> connections;
  // region: deadlines
  // Every connection, filed by its deadline, soonest first: a turn looks only at
  // those whose time has come. Deadlines move on with every request; an entry
  // stays where it was filed (no tree work per request), and when that time
  // comes, a connection whose deadline has moved on is filed again, once.
  std::set<std::pair<Clock::time_point, net::socket_t>> deadlines;
  // endregion
  std::array<epoll_event, 512> events{};
  std::array<char, 65536> buffer{};  // one for all: a recv copies out of it at once
  const auto patience =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
  auto accept_again = Clock::time_point::max();  // while accept() is paused: when to try again
  bool accept_failing = false;                   // and we said so

  // region: serve-socket
  // serve() one connection; then tell epoll if what it waits for changed, or close it.
  const auto serve_socket = [&](net::socket_t fd, std::uint32_t ready, Clock::time_point now) {
    Connection& c = connections[fd];
    const bool was_reading = c.reading;
    const bool was_sending = c.sending;
    // Readable — or hung up, or failed, which recv() then reports.
    const bool readable = (ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
    if (serve(c, readable, (ready & EPOLLOUT) != 0, now, patience, root, buffer)) {
      if ((c.reading != was_reading || c.sending != was_sending) &&
          watch(EPOLL_CTL_MOD, fd, (c.reading ? EPOLLIN : 0U) | (c.sending ? EPOLLOUT : 0U)) != 0)
        cli::fail("epoll_ctl");
      return;
    }
    fmt::print("{} closed\n", c.peer);
    deadlines.erase({c.filed, fd});
    c = Connection{};  // net::Socket: shutdown, then close; a closed socket leaves epoll by itself
    if (accept_again != Clock::time_point::max()) accept_again = now;  // a descriptor is free again
  };
  // endregion

  // region: epoll-loop
  while (!net::stop_requested()) {
    std::fflush(stdout);  // the last turn's log lines, before we sleep
    // Sleep until a socket is ready, or the first client's time runs out.
    auto first_deadline = accept_again;  // (or it is time to accept again)
    if (!deadlines.empty()) first_deadline = std::min(first_deadline, deadlines.begin()->first);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(first_deadline - Clock::now());
    const int ready =
        epoll_wait(epoll, events.data(), static_cast<int>(events.size()),
                   first_deadline == Clock::time_point::max()
                       ? -1
                       : static_cast<int>(std::clamp<long long>(wait.count(), 0, 60000)));
    if (ready < 0 && net::stop_requested()) break;  // Ctrl-C interrupted epoll_wait()
    if (ready < 0 && errno == EINTR) continue;  // Ctrl-Z, then fg: Linux's epoll_wait says EINTR
    if (ready < 0) cli::fail("epoll_wait");
    const Clock::time_point now = Clock::now();
    if (now >= accept_again) {
      if (watch(EPOLL_CTL_MOD, listen_socket.get(), EPOLLIN) != 0) cli::fail("epoll_ctl");
      accept_again = Clock::time_point::max();
    }

    // region: ready-and-due
    for (int i = 0; i < ready; ++i) {
      const net::socket_t fd = events[i].data.fd;
      if (fd != listen_socket.get()) {  // only the ready ones: never a look at the rest
        serve_socket(fd, events[i].events, now);
        continue;
      }
      // region: accept-all
      // The listening socket is readable: clients wait in its queue. Take them all.
      while (true) {
        sockaddr_storage address{};
        socklen_t address_length = sizeof address;
        net::Socket client_socket{
            accept(listen_socket.get(), reinterpret_cast<sockaddr*>(&address), &address_length)};
        if (!client_socket) {
          if (!net::would_block(net::last_error()) && !net::stop_requested()) {
            // Out of descriptors (EMFILE, ENFILE), say: the classic trap of an
            // event loop. The client stays queued, so the listening socket stays
            // readable and accept() fails again at once: retrying spins at 100%
            // CPU and floods stderr. Stop watching it for 0.1 s (or until a
            // connection closes and frees a descriptor), and say so once.
            if (!std::exchange(accept_failing, true))
              fmt::print(stderr, "accept: {} (pausing 0.1 s between tries)\n", net::error_text());
            if (watch(EPOLL_CTL_MOD, listen_socket.get(), 0) != 0) cli::fail("epoll_ctl");
            accept_again = now + std::chrono::milliseconds(100);
          }
          break;
        }
        accept_failing = false;
        if (net::set_nonblocking(client_socket.get()) != 0) {
          fmt::print(stderr, "set_nonblocking: {}\n", net::error_text());
          continue;
        }
        const net::socket_t fd = client_socket.get();
        if (watch(EPOLL_CTL_ADD, fd, EPOLLIN) != 0) {  // registered once, for its whole life
          fmt::print(stderr, "epoll_ctl: {}\n", net::error_text());
          continue;
        }
        connections.resize(std::max(connections.size(), static_cast<std::size_t>(fd) + 1));
        connections[fd] = {.socket = std::move(client_socket),
                           .peer = net::to_string(address),
                           .deadline = now + patience,
                           .filed = now + patience};
        deadlines.emplace(connections[fd].filed, fd);
        fmt::print("{} connected\n", connections[fd].peer);
      }
      // endregion
    }

    // The connections whose time has come, soonest first: out of time, or
    // (their deadline moved on since) filed again where it is now.
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      const net::socket_t fd = deadlines.begin()->second;
      deadlines.erase(deadlines.begin());
      if (connections[fd].deadline <= now) serve_socket(fd, 0, now);  // may close it
      Connection& c = connections[fd];
      if (c.socket) deadlines.emplace(c.filed = c.deadline, fd);
    }
    // endregion
  }
  // endregion
  close(epoll);
  fmt::print("server stopped\n");
  return 0;
}
