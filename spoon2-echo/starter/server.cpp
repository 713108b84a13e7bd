// spoon2-echo/server.cpp — Spoon 2: the first server.
//
// A server is a waiter: it waits for a customer (accept), says thank you
// (send), and is free for the next one. Each visitor is written to a log file.
//
// Try it:  ./workshop run spoon2-echo/server
//          nc -N 127.0.0.1 12345        (or ./workshop run spoon2-echo/client)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

// TODO: your homework. This is spoon2-echo/server.cpp with its socket calls
// taken out: each TODO below says which call to write, and which Fact it shows.
// Until you write one, todo() stands in for it and fails as the call would (-1,
// the reason "Function not implemented"), so the file builds and runs as it is,
// and the checker shows how far it gets:
//     ./workshop check spoon2-echo/server -- ./homework/spoon2-echo/server
// todo() takes what the call would take, so nothing goes unused meanwhile.
int todo(const auto&... /*what the call would take*/) {
  net::set_last_error(ENOSYS);
  return -1;
}

// socket → bind → listen. No HOST means every local address: we ask for the
// IPv6 "any" address (::) first, because with IPV6_V6ONLY off that one socket
// takes IPv4 clients too (dual stack). Only where IPv6 is off: 0.0.0.0.
// region: listen_on
net::Socket listen_on(const std::string& host, std::uint16_t port, int backlog) {
  for (const int family : {AF_INET6, AF_INET}) {
    // region: getaddrinfo
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
    // endregion

    // TODO socket(): ask the system for a socket of this address's family
    // (found->ai_family: AF_INET6 or AF_INET), type (found->ai_socktype:
    // SOCK_STREAM, TCP) and protocol (found->ai_protocol). A handle, no more:
    // no address and no peer yet.
    net::Socket listen_socket{static_cast<net::socket_t>(todo())};
    if (!listen_socket && host.empty() && family == AF_INET6) continue;  // no IPv6 here
    if (!listen_socket) cli::fail("socket");
    fmt::print("Socket successfully created\n");
    // region: socket-options
    const int off = 0;
    const int on = 1;
    // A system that will not turn IPV6_V6ONLY off (OpenBSD) would leave :: to
    // IPv6 clients alone, and refuse every 127.0.0.1: then 0.0.0.0 instead.
    if (found->ai_family == AF_INET6 &&
        setsockopt(listen_socket.get(), IPPROTO_IPV6, IPV6_V6ONLY,
                   reinterpret_cast<const char*>(&off), sizeof off) != 0) {
      // region: no-dual-stack
      if (host.empty()) continue;
      cli::fail("setsockopt IPV6_V6ONLY");
      // endregion
    }
    if (setsockopt(listen_socket.get(), SOL_SOCKET, net::reuse_address,
                   reinterpret_cast<const char*>(&on), sizeof on) != 0)
      cli::fail("setsockopt SO_REUSEADDR");
    // endregion
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
// endregion

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

// send() may take fewer bytes than offered: loop until all went (Python's sendall).
bool send_all(net::socket_t s, std::string_view data) {
  while (!data.empty()) {
    // TODO send(): offer `data` to socket s. It may take fewer bytes than
    // offered (it returns how many): that is why this loops, as Python's
    // sendall does.
    const auto sent = todo(s);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: server [--host ADDR] [--port N] [--log FILE]\n"
                       "Thanks every client that connects, and appends\n"
                       "'Got connection from IP:PORT' to FILE (default file.txt).\n"
                       "  --host ADDR  listen on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N     port to listen on (default 12345; 0: any free port)\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(12345);
  const std::string log_path = options.text("--log", "file.txt");
  options.done();
  const net::Startup startup;

  std::FILE* log = std::fopen(log_path.c_str(), "a");
  if (log == nullptr) cli::fail("cannot open log file '{}'", log_path);
  const std::unique_ptr<std::FILE, decltype(&std::fclose)> log_file(log, std::fclose);

  // The backlog (5) is how many connections the kernel queues while we serve one.
  const net::Socket listen_socket = listen_on(host, port, 5);
  net::stop_on_signal(listen_socket.get());
  // The talk prints a line after each step; we read back where the socket
  // is bound (with --port 0, the system chose).
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(listen_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("socket bound to {}\n", net::to_string(bound));
  fmt::print("socket is listening on port {}\n", net::port_of(bound));

  bool accept_failing = false;  // and we said so
  // region: accept-loop
  while (!net::stop_requested()) {
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    // accept() waits for the next client and gives it a socket of its own;
    // listen_socket goes on listening. This is the server's "client" socket.
    // TODO accept(): wait for the next client on listen_socket, its address
    // written into `address` (&address_length: its room, then its length).
    // Fact: the server has a socket of its own for each client — a "client"
    // socket — while listen_socket goes on listening.
    net::Socket client_socket{static_cast<net::socket_t>(todo(address_length))};
    if (!client_socket) {
      back_off_after_failed_accept(accept_failing);
      continue;
    }
    accept_failing = false;
    const std::string peer = net::to_string(address);
    fmt::print("Got connection from {}\n", peer);
    fmt::print(log, "Got connection from {}\n", peer);
    std::fflush(log);

    if (!send_all(client_socket.get(), "Thank you for connecting"))
      fmt::print(stderr, "send to {}: {}\n", peer, net::error_text());
    // client_socket ends here: net::Socket shuts it down, then closes it.
    // The client's recv() returns 0 — it knows we are done (there is no EOT).
  }
  // endregion
  fmt::print("server stopped\n");
  return 0;
}
