// spoon3-chat/server.cpp — Spoon 3: the terminal chat's server.
//
// New since Spoon 2's server: threads and a shared list. Each client gets a
// thread (handle_user_connection) that reads its lines and broadcasts them to
// every other client in `connections`, the list all threads share — so a lock.
// And an outbox per client: broadcast only appends to it, and the client's own
// writer (send_outbox) sends what has gathered, so a client that stops reading
// holds up nobody but itself.
//
// Try it:  ./workshop run spoon3-chat/server
//          ./workshop run spoon3-chat/client    (in two terminals; or nc -N 127.0.0.1 12000)
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

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

constexpr std::size_t max_line = 4096;  // longer, and that client is hung up on
// More than this waiting in our memory for one client (its outbox, and the
// batch its writer is sending), and it is dropped: 1024 of the longest lines.
constexpr std::size_t max_outbox = 4 << 20;

// One chatter. Other threads never send to it: they append whole lines to its
// outbox, under its own lock, and its writer sends them (send_outbox).
struct Connection {
  net::Socket socket;
  std::string peer;                        // IP:PORT, the name its lines are signed with
  std::mutex outbox_lock;                  // guards the five below
  std::condition_variable outbox_changed;  // lines came, or the client is leaving
  std::string outbox;                      // whole lines, not yet sent
  std::size_t in_flight = 0;               // bytes its writer took and is sending
  Clock::time_point waiting_since;         // when the oldest of them came
  bool leaving = false;                    // out of the room: send what is left, then hang up
  Connection(net::Socket s, std::string p) : socket(std::move(s)), peer(std::move(p)) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) = delete;
  Connection& operator=(Connection&&) = delete;
  // The last thread to let go of a client closes its socket: say so, as the
  // echo server does, once its descriptor is free again.
  ~Connection() {
    socket.reset();
    fmt::print("Closed {}\n", peer);
  }
};

// The room. The talk's Python shared this list between threads without a lock;
// here no thread reads or changes it without holding connections_lock.
std::mutex connections_lock;
std::vector<std::shared_ptr<Connection>> connections;

// A copy of the list, taken under the lock: then we can work through it
// without holding the lock, so nobody waits on us to join or leave.
std::vector<std::shared_ptr<Connection>> everyone() {
  const std::scoped_lock lock(connections_lock);
  return connections;
}

// Takes a connection out of the room: nothing more is appended to its outbox.
// A client that left (or a server stopping) still gets what was on its way:
// we only stop hearing it, and its writer hangs up once the outbox is sent.
// Anyone else is hung up on at once. Only the first caller says why.
void remove_connection(const std::shared_ptr<Connection>& connection, std::string_view why,
                       bool send_the_rest = false) {
  {
    const std::scoped_lock lock(connections_lock);
    if (std::erase(connections, connection) == 0) return;  // already out
  }
  fmt::print("Removed {}: {}\n", connection->peer, why);
  {
    const std::scoped_lock lock(connection->outbox_lock);
    connection->leaving = true;
    connection->outbox_changed.notify_one();
  }
  // Tip: shutdown, not close — it wakes the reader's poll (and the writer's,
  // for SHUT_RDWR) at once, and the peer hears of it now. (It fails only for
  // a peer that is gone already: nothing left to wake.)
  shutdown(connection->socket.get(), send_the_rest ? SHUT_RD : SHUT_RDWR);
}

// Appends the message (whole lines) to every outbox but its sender's. Never a
// send, never a wait on another client: a lock held for one append, that's all.
// region: broadcast
void broadcast(const std::string& message, const std::shared_ptr<Connection>& connection) {
  std::vector<std::shared_ptr<Connection>> too_far_behind;
  for (const auto& client_conn : everyone()) {
    if (client_conn == connection) continue;  // not back to its sender
    const std::scoped_lock lock(client_conn->outbox_lock);
    if (client_conn->leaving) continue;
    if (client_conn->outbox.size() + client_conn->in_flight + message.size() > max_outbox) {
      too_far_behind.push_back(client_conn);  // dropped below, once its lock is let go
      continue;
    }
    if (client_conn->outbox.empty()) {  // its writer may be asleep: wake it
      client_conn->waiting_since = Clock::now();
      client_conn->outbox_changed.notify_one();
    }
    client_conn->outbox += message;
  }
  for (const auto& client_conn : too_far_behind)
    remove_connection(client_conn, "outbox full");
}
// endregion

// When a stop came, the lines already in outboxes get until then (see main).
std::atomic<Clock::time_point> stop_deadline{Clock::time_point::max()};

// Like Python's sendall on a non-blocking socket: send what the socket takes,
// wait (poll) until it takes more, and so on — but only until the deadline.
// Returns why it failed, or nothing when everything went.
std::optional<std::string> send_all_before(net::socket_t s, std::string_view data,
                                           Clock::time_point deadline) {
  while (!data.empty()) {
    const auto sent = send(s, data.data(), static_cast<int>(data.size()), 0);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (!net::would_block(net::last_error())) return net::error_text();  // reset, or hung up
    const auto left = std::min(deadline, stop_deadline.load()) - Clock::now();
    if (left <= 0s) return "timed out";
    // Its buffers are full. Wait until it reads; at most 100 ms, so that a
    // stop (which moves the deadline) is seen in time.
    pollfd ready{s, POLLOUT, 0};
    const auto wait =
        std::chrono::ceil<std::chrono::milliseconds>(std::min<Clock::duration>(left, 100ms));
    poll(&ready, 1, static_cast<int>(wait.count()));  // ready or not, the send above tells
  }
  return std::nullopt;
}

// The writer: one per client, on a thread of its own. It sleeps until lines
// gather in the outbox, then takes them all and sends them — many lines in one
// send. It is the only thread that ever waits on this client; a line that
// waited in the outbox --timeout seconds, and the client is dropped.
// region: send_outbox
void send_outbox(const std::shared_ptr<Connection>& connection, double timeout) {
  const auto patience =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
  std::string batch;
  std::unique_lock lock(connection->outbox_lock);
  while (true) {
    connection->outbox_changed.wait(
        lock, [&] { return !connection->outbox.empty() || connection->leaving; });
    if (connection->outbox.empty()) break;  // leaving, and all was sent
    batch.swap(connection->outbox);         // take everything; broadcast refills the outbox
    connection->in_flight = batch.size();
    const auto deadline = connection->waiting_since + patience;
    lock.unlock();  // now broadcast can append while we send
    const auto failed = send_all_before(connection->socket.get(), batch, deadline);
    batch.clear();
    if (failed) {
      remove_connection(connection, *failed);
      return;
    }
    lock.lock();
    connection->in_flight = 0;
  }
  lock.unlock();
  shutdown(connection->socket.get(), SHUT_RDWR);  // hang up: its reader's poll wakes
}
// endregion

// One thread per client: start its writer, join the room, then read its lines
// and broadcast them.
// region: handle_user_connection
void handle_user_connection(const std::shared_ptr<Connection>& connection, double timeout) {
  // region: start-writer
  std::thread writer;
  try {
    writer = std::thread(send_outbox, connection, timeout);
  } catch (const std::system_error& error) {  // no thread to spare: refuse this one client
    fmt::print(stderr, "cannot start a thread for {}: {}\n", connection->peer, error.what());
    return;  // its socket closes with the last copy of `connection`
  }
  // endregion
  // region: join-room
  {
    const std::scoped_lock lock(connections_lock);
    connections.push_back(connection);
  }
  // endregion
  fmt::print("Got connection from {}\n", connection->peer);

  std::array<char, 65536> buffer{};
  std::string pending;
  const std::string signature = fmt::format("From {} - ", connection->peer);
  std::string why = "left";
  while (!net::stop_requested()) {
    const auto received =
        recv(connection->socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
    // region: wait-for-bytes
    if (received < 0 && net::would_block(net::last_error())) {
      // Nothing yet: wait for the next bytes. A shutdown wakes this poll at
      // once; the 250 ms are for Windows, where it does not.
      pollfd ready{connection->socket.get(), POLLIN, 0};
      poll(&ready, 1, 250);  // ready or not, the recv above tells
      continue;
    }
    // endregion
    if (received < 0) why = net::error_text();
    if (received <= 0) break;  // Fact: recv returns 0 — the client has closed (or we hung up)
    pending.append(buffer.data(), static_cast<std::size_t>(received));
    // region: each-line
    // region: cut-into-lines
    // What this recv brought, signed, as one message: one broadcast.
    std::string message;
    std::string log;
    std::size_t start = 0;
    std::size_t end = 0;
    if (!pending.empty() && pending.size() <= max_line) {
      end = pending.back() == '\n' ? pending.size() - 1 : pending.size();
      const std::string_view line(pending.data() + start, end - start);
      log.append(connection->peer).append(" - ").append(line).append("\n");
      message.append(signature).append(line).append("\n");
      start = pending.size();
    }
    pending.erase(0, start);
    if (!message.empty()) {
      broadcast(message, connection);
      fmt::print("{}", log);  // after: a line logged is a line in every outbox
    }
    // endregion
    if (pending.size() > max_line) {
      why = fmt::format("line longer than {} bytes", max_line);
      break;
    }
    // endregion
  }
  if (net::stop_requested()) why = "server stopping";
  // A client that left, or a stop, still gets what was on its way to it.
  remove_connection(connection, why, why == "left" || why == "server stopping");
  writer.join();  // it sends what is left, then hangs up
}
// endregion

// The client threads main started that have not ended yet, and the one that
// ended last. Each thread, as it ends, joins the one that ended before it: so
// every thread is joined as it finishes, not at some later accept.
std::mutex threads_lock;
std::condition_variable thread_ended;
std::map<std::thread::id, std::thread> running_threads;
std::thread last_ended;

// What main starts for each client.
void client_thread(std::shared_ptr<Connection> connection, double timeout) {
  handle_user_connection(connection, timeout);
  connection.reset();  // the socket closes here, once nobody else holds it
  std::thread previous;
  {
    const std::scoped_lock lock(threads_lock);
    auto me = running_threads.extract(std::this_thread::get_id());
    previous = std::exchange(last_ended, std::move(me.mapped()));
    thread_ended.notify_all();  // a client left: a descriptor is free (see the EMFILE trap)
  }
  if (previous.joinable()) previous.join();  // it has ended, or is about to: we collect it
}

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: server [--host ADDR] [--port N] [--timeout SECONDS]\n"
                       "A chat room: each line a client sends goes to every other client as\n"
                       "'From IP:PORT - LINE'. A line over 4096 bytes is refused.\n"
                       "  --host ADDR        listen on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N           port to listen on (default 12000; 0: any free port)\n"
                       "  --timeout SECONDS  drop a client whose lines waited that long for it\n"
                       "                     (default 5); or 4 MiB of them\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(12000);
  const double timeout = options.seconds("--timeout", 5);
  options.done();
  const net::Startup startup;

  // The talk's listen(4): a queue of handshakes waiting for accept, not a cap on the room.
  const net::Socket listen_socket = listen_on(host, port, 4);
  net::stop_on_signal(listen_socket.get());
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(listen_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("Server running on port {}\n", net::port_of(bound));

  bool accept_failing = false;
  while (!net::stop_requested()) {
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    net::Socket client_socket{
        accept(listen_socket.get(), reinterpret_cast<sockaddr*>(&address), &address_length)};
    if (!client_socket) {
      if (net::stop_requested()) break;
      // The EMFILE trap: out of descriptors, accept fails — and the client
      // stays in the queue, so the next accept fails at once, and the next:
      // a loop that retries straight away spins and floods its log. So: say
      // it once, wait for a client to leave (that frees one), 100 ms at most.
      if (!accept_failing)
        fmt::print(stderr, "accept: {} (waiting for clients to leave)\n", net::error_text());
      accept_failing = true;
      std::unique_lock lock(threads_lock);
      thread_ended.wait_for(lock, 100ms);
      continue;
    }
    if (accept_failing) fmt::print(stderr, "accept: works again\n");
    accept_failing = false;
    const std::string peer = net::to_string(address);
    // Non-blocking: the writer waits with poll, until a deadline of its own.
    if (net::set_nonblocking(client_socket.get()) != 0) {
      fmt::print(stderr, "set_nonblocking for {}: {}\n", peer, net::error_text());
      continue;  // a peer must never stop the server: refuse this one
    }

    auto connection = std::make_shared<Connection>(std::move(client_socket), peer);
    // The talk's threading.Thread(target=handle_user_connection, ...).start().
    try {
      const std::scoped_lock lock(threads_lock);  // before it can end and look itself up
      std::thread thread(client_thread, connection, timeout);
      const auto id = thread.get_id();
      running_threads.emplace(id, std::move(thread));
    } catch (const std::system_error& error) {  // no thread to spare: refuse this one client
      fmt::print(stderr, "cannot start a thread for {}: {}\n", peer, error.what());
    }
  }
  // The stop. Nobody new gets in; every reader stops; and the lines already
  // in outboxes get 0.3 s to go out, so the whole stop stays well within 1 s.
  stop_deadline = Clock::now() + 300ms;
  for (const auto& connection : everyone())
    remove_connection(connection, "server stopping", /*send_the_rest=*/true);
  std::unique_lock lock(threads_lock);
  thread_ended.wait(lock, [] { return running_threads.empty(); });
  std::thread last = std::move(last_ended);
  lock.unlock();
  if (last.joinable()) last.join();  // and with it, one after the other, every thread before
  fmt::print("server stopped\n");
  return 0;
}
