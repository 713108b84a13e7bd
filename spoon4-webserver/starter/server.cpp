// spoon4-webserver/server.cpp — Spoon 4: the talk's web server, done right.
//
// The talk's last slide of code: port 8888, SO_REUSEADDR, listen(1), one
// client at a time, print what the browser sends, answer "Hello, World!".
// New since Spoon 2: a protocol on top of the bytes. HTTP says where a request
// ends (an empty line), so we read until then, however the bytes were split,
// and answer in HTTP's own format: "\r\n" line ends and a Content-Length.
//
// Try it:  ./workshop run spoon4-webserver/server
//          open http://127.0.0.1:8888/ in a browser, or: curl -v http://127.0.0.1:8888/
#include "common/cli.hpp"
#include "common/net.hpp"
#include "http.hpp"

#include <fmt/core.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

// TODO: your homework. This is spoon4-webserver/server.cpp with its socket
// calls taken out: each TODO below says which call to write, and which Fact it
// shows. Until you write one, todo() stands in for it and fails as the call
// would (-1, the reason "Function not implemented"), so the file builds and
// runs as it is, and the checker shows how far it gets:
//     ./workshop check spoon4-webserver/server -- ./homework/spoon4-webserver/server
// todo() takes what the call would take, so nothing goes unused meanwhile.
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
                       "usage: server [--host ADDR] [--port N] [--timeout SECONDS]\n"
                       "Answers every HTTP GET with 'Hello, World!', one client at a time,\n"
                       "and prints each request it receives.\n"
                       "  --host ADDR        listen on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N           port to listen on (default 8888; 0: any free port)\n"
                       "  --timeout SECONDS  drop a client silent that long (default 5)\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(8888);
  const double timeout = options.seconds("--timeout", 5);
  options.done();
  const net::Startup startup;

  // The talk's listen(1): while we serve one client, the kernel keeps finished
  // handshakes waiting (about one); later ones wait in their SYN retries.
  const net::Socket listen_socket = listen_on(host, port, 1);
  net::stop_on_signal(listen_socket.get());
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(listen_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("Serving HTTP on port {} ...\n", net::port_of(bound));

  bool accept_failing = false;  // and we said so
  while (!net::stop_requested()) {
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
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
    // One client at a time: everyone else waits while this one is slow, so it
    // gets --timeout for the whole request, not per recv (a byte now and then
    // would restart a per-recv clock): each recv may wait only what is left.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    const auto time_left = [&] {
      return std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    };
    const net::WakeOnStop wake{client_socket.get()};  // Ctrl-C must not wait for this client

    // region: serve
    // The talk's recv(1024) took one piece as the whole request. A request may
    // come in many pieces (Fact: there is no EOT): read until HTTP's empty line.
    std::string request_data;
    http::Request request;
    std::array<char, 4096> buffer{};
    int status = 0;  // 0: nothing to answer yet (or ever: the client left, or we stop)
    while (status == 0 && !net::stop_requested()) {
      // region: time-out
      if (time_left() < 0.001) {
        status = 408;
        break;
      }
      if (net::set_timeouts(client_socket.get(), time_left()) != 0) {
        fmt::print(stderr, "set_timeouts for {}: {}\n", peer, net::error_text());
        break;
      }
      // endregion
      // TODO recv(): the next piece of the request, up to buffer.size() bytes.
      // One recv is not one request: keep reading until HTTP's empty line.
      const auto received = todo();
      if (received <= 0) {  // Fact: recv returns 0 — the client has closed (or it failed)
        if (received == 0 && !request_data.empty()) status = 400;  // ended mid-request
        if (received < 0 && net::is_timeout(net::last_error())) status = 408;
        break;
      }
      request_data.append(buffer.data(), static_cast<std::size_t>(received));
      request = http::parse(request_data);
      status = http::status_of(request);  // 200, 400, 405, 431; 0 while incomplete
    }
    // endregion
    if (request.state == http::Request::State::complete) {
      std::string shown(request.head);  // the talk's "what your browser sends?"
      std::erase(shown, '\r');          // (a terminal needs no "\r")
      fmt::print("{}", shown);
    }

    std::string response;
    if (status == 200)
      http::respond(response, 200, "text/plain; charset=utf-8", "Hello, World!",
                    request.method == "HEAD", false);
    else if (status != 0)
      http::respond_error(response, status);
    if (status != 0) fmt::print("{} {} {}\n", peer, status, http::reason(status));
    if (!send_all(client_socket.get(), response))
      fmt::print(stderr, "send to {}: {}\n", peer, net::error_text());

    // Close gently: say we are done (FIN), then read what the client still
    // sends until it closes too. Closing with unread bytes would send a reset
    // instead, which can destroy the response before the client has read it.
    // TODO shutdown() our sending side (SHUT_WR): our FIN, "that was all",
    // while we can still read what the client sends. (Tip: shutdown before close.)
    todo();
    for (int pieces = 0; status != 408 && pieces < 16 && !net::stop_requested(); ++pieces) {
      if (time_left() < 0.001) break;
      if (net::set_timeouts(client_socket.get(), time_left()) != 0) break;  // then close at once
      // TODO recv() again, and drop what comes: we wait for the client's FIN.
      const auto received = todo();
      if (received <= 0) break;  // its FIN (or a reset, or the time-out): close now
    }
  }
  fmt::print("server stopped\n");
  return 0;
}
