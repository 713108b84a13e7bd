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

// TODO: your homework. This is spoon3-chat/server.cpp with its socket calls
// taken out: each TODO below says which call to write, and which Fact it shows.
// Until you write one, todo() stands in for it and fails as the call would (-1,
// the reason "Function not implemented"), so the file builds and runs as it is,
// and the checker shows how far it gets:
//     ./workshop check spoon3-chat/server -- ./homework/spoon3-chat/server
// todo() takes what the call would take, so nothing goes unused meanwhile.
int todo(const auto&... /*what the call would take*/) {
  net::set_last_error(ENOSYS);
  return -1;
}

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
  // TODO shutdown(): SHUT_RD when the rest is still to be sent, else SHUT_RDWR.
  // The peer hears of it now, and our own threads blocked on this socket wake.
  todo(send_the_rest);
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
    // TODO send(): offer `data` to socket s. It may take fewer bytes than
    // offered (it returns how many): that is why this loops, as Python's
    // sendall does.
    const auto sent = todo(s);
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
    // TODO poll(): wait until `ready` (this one socket, POLLOUT) has room
    // again, at most wait.count() milliseconds. Ready or not, the send above tells.
    todo(ready, wait);
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
  // TODO shutdown() both ways (SHUT_RDWR): hang up; its reader's poll wakes.
  todo();
}
// endregion

// One thread per client: start its writer, join the room, then read its lines
// and broadcast them. Fact: there is no EOT on a socket — one recv may hold
// half a line or three, so we gather the bytes in `pending` and cut them at
// each "\n" (the talk took one recv as one message).
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
    // TODO recv(): what this client sent, up to buffer.size() bytes. Its
    // socket is non-blocking: nothing yet is EWOULDBLOCK, 0 is its close.
    const auto received = todo();
    // region: wait-for-bytes
    if (received < 0 && net::would_block(net::last_error())) {
      // Nothing yet: wait for the next bytes. A shutdown wakes this poll at
      // once; the 250 ms are for Windows, where it does not.
      pollfd ready{connection->socket.get(), POLLIN, 0};
      // TODO poll(): wait until `ready` (POLLIN) is readable, at most 250 ms.
      todo(ready);  // ready or not, the recv above tells
      continue;
    }
    // endregion
    if (received < 0) why = net::error_text();
    if (received <= 0) break;  // Fact: recv returns 0 — the client has closed (or we hung up)
    pending.append(buffer.data(), static_cast<std::size_t>(received));
    // region: each-line
    // region: cut-into-lines
    // Every whole line of this recv, signed, as one message: one broadcast.
    std::string message;
    std::string log;
    std::size_t start = 0;
    std::size_t end = 0;
    while ((end = pending.find('\n', start)) != std::string::npos && end - start <= max_line) {
      const std::string_view line(pending.data() + start, end - start);
      log.append(connection->peer).append(" - ").append(line).append("\n");
      message.append(signature).append(line).append("\n");
      start = end + 1;
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
    // TODO accept(): wait for the next client on listen_socket, its address
    // written into `address` (&address_length: its room, then its length).
    // Fact: the server has a socket of its own for each client — a "client"
    // socket — while listen_socket goes on listening.
    net::Socket client_socket{static_cast<net::socket_t>(todo(address_length))};
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
