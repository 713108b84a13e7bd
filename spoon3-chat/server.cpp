// spoon3-chat/server.cpp — Spoon 3: the terminal chat's server.
//
// New since Spoon 2's server: threads and a shared list. Each client gets a
// thread (handle_user_connection) that reads its lines and broadcasts each to
// every other client in `connections`, the list all threads share — so a lock.
//
// Try it:  ./workshop run spoon3-chat/server
//          ./workshop run spoon3-chat/client    (in two terminals; or nc -N 127.0.0.1 12000)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <array>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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

// send() may take fewer bytes than offered: loop until all went (Python's sendall).
bool send_all(net::socket_t s, std::string_view data) {
  while (!data.empty()) {
    const auto sent = send(s, data.data(), static_cast<int>(data.size()), 0);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// One chatter. Many threads may broadcast to it at once, so a whole line goes
// out under its own lock `sending`: two lines never interleave (no torn lines).
struct Connection {
  net::Socket socket;
  std::string peer;  // IP:PORT, the name its lines are signed with
  std::mutex sending;
  Connection(net::Socket s, std::string p) : socket(std::move(s)), peer(std::move(p)) {}
};

// The room. The talk's Python shared this list between threads without a lock;
// here no thread reads or changes it without holding connections_lock.
std::mutex connections_lock;
std::vector<std::shared_ptr<Connection>> connections;

constexpr std::size_t max_line = 4096;  // longer, and that client is hung up on

// A copy of the list, taken under the lock: then we can send without holding
// it, so a slow client never keeps anyone from joining or leaving.
std::vector<std::shared_ptr<Connection>> everyone() {
  const std::scoped_lock lock(connections_lock);
  return connections;
}

// Takes a connection out of the room and hangs up on it: its thread's recv
// returns 0, a send blocked on it fails. Only the first caller says why.
void remove_connection(const std::shared_ptr<Connection>& connection, std::string_view why) {
  {
    const std::scoped_lock lock(connections_lock);
    if (std::erase(connections, connection) == 0) return;  // already out
  }
  shutdown(connection->socket.get(), SHUT_RDWR);  // Tip: shutdown, so the peer hears it now
  fmt::print("Removed {}: {}\n", connection->peer, why);
}

// Sends the message to every client but its sender, one whole line each.
// region: broadcast
void broadcast(const std::string& message, const std::shared_ptr<Connection>& connection) {
  for (const auto& client_conn : everyone()) {
    if (client_conn == connection) continue;  // not back to its sender
    const std::scoped_lock lock(client_conn->sending);
    // A full buffer makes send wait; the send time-out (--timeout) ends the
    // wait, and that client is dropped instead of stalling everyone.
    if (!send_all(client_conn->socket.get(), message)) {
      const int error = net::last_error();
      remove_connection(client_conn, net::is_timeout(error) ? "timed out" : net::error_text(error));
    }
  }
}
// endregion

// One thread per client: read its lines, broadcast each. Fact: there is no EOT
// on a socket — one recv may hold half a line or three, so we gather the bytes
// in `pending` and cut them at each "\n" (the talk took one recv as one message).
// region: handle_user_connection
void handle_user_connection(const std::shared_ptr<Connection>& connection) {
  std::array<char, 4096> buffer{};
  std::string pending;
  std::string why = "left";
  while (!net::stop_requested()) {
    const auto received =
        recv(connection->socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
    if (received < 0 && net::is_timeout(net::last_error())) continue;  // quiet, yet still there
    if (received < 0) why = net::error_text();
    if (received <= 0) break;  // Fact: recv returns 0 — the client has closed (or we hung up)
    pending.append(buffer.data(), static_cast<std::size_t>(received));
    // region: each-line
    // region: cut-into-lines
    std::size_t end = 0;
    while ((end = pending.find('\n')) != std::string::npos && end <= max_line) {
      const std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      fmt::print("{} - {}\n", connection->peer, line);
      broadcast(fmt::format("From {} - {}\n", connection->peer, line), connection);
    }
    // endregion
    if (pending.size() > max_line) {
      why = fmt::format("line longer than {} bytes", max_line);
      break;
    }
    // endregion
  }
  remove_connection(connection, why);
}
// endregion

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: server [--host ADDR] [--port N] [--timeout SECONDS]\n"
                       "A chat room: each line a client sends goes to every other client as\n"
                       "'From IP:PORT - LINE'. A line over 4096 bytes is refused.\n"
                       "  --host ADDR        listen on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N           port to listen on (default 12000; 0: any free port)\n"
                       "  --timeout SECONDS  drop a client that stops reading that long "
                       "(default 5)\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(12000);
  const double timeout = options.seconds("--timeout", 5);
  options.done();
  const net::Startup startup;

  // The talk's listen(4): a queue of handshakes waiting for accept, not a cap on the room.
  const net::Socket listen_socket = listen_on(host, port, 4);
  net::stop_on_signal(listen_socket.get());  // before "port N": a test may signal at once
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(listen_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("Server running on port {}\n", net::port_of(bound));

  std::vector<std::future<void>> threads;  // to join each thread: the ended ones, and at the stop
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
    // A send that waits longer than this fails: the slow-client rule. (A recv
    // that waits this long fails too; handle_user_connection shrugs that off.)
    // A client we cannot give it could stall the room, so it is not let in.
    if (net::set_timeouts(client_socket.get(), timeout) != 0) {
      fmt::print(stderr, "set_timeouts for {}: {}\n", peer, net::error_text());
      continue;
    }

    const auto connection = std::make_shared<Connection>(std::move(client_socket), peer);
    {
      const std::scoped_lock lock(connections_lock);
      connections.push_back(connection);
    }
    fmt::print("Got connection from {}\n", peer);
    // The talk's threading.Thread(target=handle_user_connection, ...).start().
    threads.push_back(std::async(std::launch::async, handle_user_connection, connection));
    std::erase_if(threads, [](const std::future<void>& thread) {  // erasing one joins it
      return thread.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
  }
  // Hang up on everyone, so every thread's recv returns 0; then join them all.
  for (const auto& connection : everyone())
    remove_connection(connection, "server stopping");
  threads.clear();
  fmt::print("server stopped\n");
  return 0;
}
