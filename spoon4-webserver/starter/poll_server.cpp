// spoon4-webserver/poll_server.cpp — Spoon 4, the next step: one thread, many clients.
//
// The talk ends with "look into selectors, async server approach". This is
// that step: Python's `selectors` is a wrapper around poll(), and here we call
// poll() ourselves. New since server.cpp: every socket is non-blocking, so no
// call ever waits; one poll() waits for all of them at once and says which are
// ready; each connection keeps its own buffers (what came in, what has yet to
// go out); a connection stays open for the next request (keep-alive), and
// requests sent back to back (pipelined) are answered in order.
// With --root DIR it serves the files under DIR, and nothing outside it.
//
// Try it:  ./workshop run spoon4-webserver/poll_server --root spoon4-webserver
//          curl -v http://127.0.0.1:8888/README.md      (or open it in a browser)
#include "common/cli.hpp"
#include "common/net.hpp"
#include "http.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
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
int todo(const auto&... /*what the call would take*/) {
  net::set_last_error(ENOSYS);
  return -1;
}

using Clock = std::chrono::steady_clock;

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

// What we remember about one client between two poll() rounds.
struct Connection {
  net::Socket socket;
  std::string peer;
  std::string in{};              // bytes received, not yet answered
  std::string out{};             // answers not yet sent...
  std::size_t sent = 0;          // ...of which this much has gone
  bool answered = false;         // has it had an answer? (then silence is just idling)
  bool closing = false;          // no more requests: close once `out` has gone
  bool hung_up = false;          // recv returned 0: the client sends no more
  bool shut_down = false;        // we sent our FIN
  Clock::time_point deadline{};  // dropped if still silent (or its request still unfinished) then
  std::ifstream file{};          // a file being sent, a piece at a time...
  std::uintmax_t file_left = 0;  // ...of which this much has yet to be read
};

// Stop taking requests (and reading) while this much waits to go out: a client
// that sends and never reads cannot make us hold more.
constexpr std::size_t max_out = 1 << 20;
// A file is read a piece at a time, and only once the socket has taken the
// last piece: memory per connection stays this small, whatever the file's
// size, and one round never spends longer on one client than a piece takes.
constexpr std::size_t file_piece = 256 << 10;

struct File {
  int status = 200;
  std::string content{};  // a short answer made here ("Hello, World!", "404 Not Found")...
  std::string_view type = "text/plain; charset=utf-8";
  std::ifstream stream{};   // ...or a file, open and not yet read...
  std::uintmax_t size = 0;  // ...this long
};

// --root: the file a request's target names, and never one outside root (a
// canonical path). The target is whatever the client typed, so every trick
// must fail: "..", "%2e%2e" (percent-encoding), "//etc/passwd", a symlink
// pointing out. Anything that is not a regular file under root is "404".
File find_file(const std::filesystem::path& root, std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));  // the query is not the path
  if (!target.starts_with('/')) return {.status = 400};   // "http://host/x", "*": not ours
  std::string path;  // percent-decoded: "%20" is a space, "%2e" a dot
  for (std::size_t i = 0; i < target.size(); ++i) {
    unsigned value = static_cast<unsigned char>(target[i]);
    if (target[i] == '%') {
      const char* digits = target.data() + i + 1;
      if (i + 2 >= target.size() ||
          std::from_chars(digits, digits + 2, value, 16).ptr != digits + 2 || value == 0)
        return {.status = 400};  // a broken escape, or a NUL that would cut the name short
      i += 2;
    }
    path += static_cast<char>(value);
  }
  std::filesystem::path file = root;
  for (std::string_view rest = path; !rest.empty();) {  // one name between slashes at a time
    const std::string_view name = rest.substr(0, rest.find('/'));
    rest.remove_prefix(std::min(name.size() + 1, rest.size()));
    if (name == ".." || name.find_first_of("\\:") != std::string_view::npos)
      return {404, "404 Not Found\n"};  // ".." goes up; "\" and ":" do on Windows
    if (!name.empty() && name != ".") file /= name;
  }
  std::error_code error;
  if (std::filesystem::is_directory(file, error)) file /= "index.html";
  const std::filesystem::path real = std::filesystem::canonical(file, error);  // symlinks followed
  const auto [inside, _] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
  if (error || inside != root.end() || !std::filesystem::is_regular_file(real, error))
    return {404, "404 Not Found\n"};
  // Opened now, read later, a piece at a time as it is sent. A file we may
  // not read is 403: never a 200 with the right length and nothing in it.
  File found{.type = http::content_type(real.extension().string())};
  found.size = std::filesystem::file_size(real, error);
  found.stream.open(real, std::ios::binary);
  if (error || !found.stream.is_open()) return {403, "403 Forbidden\n"};
  return found;
}

// One line per answer, as a web server's access log has it:
//   127.0.0.1:40312 GET /index.html -> 200 OK
// (a request that did not parse has no method or target worth showing).
void log_answer(const Connection& c, const http::Request& request, int status) {
  if (request.state == http::Request::State::complete)
    fmt::print("{} {} {} -> {} {}\n", c.peer, request.method, request.target, status,
               http::reason(status));
  else
    fmt::print("{} -> {} {}\n", c.peer, status, http::reason(status));
}

// Answers the whole requests waiting in `in`, in the order they came.
void answer_requests(Connection& c, const std::filesystem::path& root) {
  std::size_t used = 0;
  // (While a file is on its way, the next answer waits: answers go in order.)
  while (!c.closing && c.file_left == 0 && c.out.size() - c.sent < max_out) {
    const http::Request request = http::parse(std::string_view(c.in).substr(used));
    int status = http::status_of(request);  // 200, 400, 405, 431; 0 while incomplete
    if (status == 0) break;
    File file{200, "Hello, World!"};
    if (status == 200 && !root.empty()) file = find_file(root, request.target);
    if (file.status == 400) status = 400;
    if (status != 200) {  // an error ends the connection: where would the next request start?
      http::respond_error(c.out, status);
      log_answer(c, request, status);
      c.closing = true;
      break;
    }
    used += request.length;
    const bool head_only = request.method == "HEAD";
    if (file.stream.is_open()) {  // a file: the head now, the body as the socket takes it
      http::respond_head(c.out, file.status, file.type, file.size, request.keep_alive);
      if (!head_only && file.size > 0) {
        c.file = std::move(file.stream);
        c.file_left = file.size;
      }
    } else {
      http::respond(c.out, file.status, file.type, file.content, head_only, request.keep_alive);
    }
    log_answer(c, request, file.status);
    c.answered = true;
    c.closing = !request.keep_alive;
  }
  c.in.erase(0, used);
}

// The file's next piece into `out`, which the socket has emptied. A file that
// ends early (it shrank, or a read failed, while we sent it) breaks the length
// our head promised: we close after what we have, and the client sees a body
// cut short, never one padded with bytes the file does not hold.
void read_piece(Connection& c) {
  const auto wanted = static_cast<std::size_t>(std::min<std::uintmax_t>(c.file_left, file_piece));
  c.out.resize(wanted);
  c.file.read(c.out.data(), static_cast<std::streamsize>(wanted));
  c.out.resize(static_cast<std::size_t>(c.file.gcount()));
  c.file_left -= c.out.size();
  if (c.out.size() < wanted) {
    fmt::print("{} file ended early: closing\n", c.peer);
    c.file_left = 0;
    c.closing = true;
  }
  if (c.file_left == 0) c.file.close();
}

// One poll() round for one connection: read, answer, write, close. Returns
// false when the connection is finished and its slot must go.
bool serve(pollfd& slot, Connection& c, Clock::time_point now, double timeout,
           const std::filesystem::path& root, std::array<char, 65536>& buffer) {
  const auto patience =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
  if (now >= c.deadline) {
    // Silent too long. A 408 if it owes us a request; a quiet close if it was
    // idle between requests, lingering, or not reading what we sent.
    if (c.closing || c.sent < c.out.size() || c.file_left > 0 || (c.answered && c.in.empty()))
      return false;
    http::respond_error(c.out, 408);
    log_answer(c, {}, 408);
    c.closing = true;
    c.deadline = now + patience;
  }

  // Readable — or hung up, or failed, which recv() then reports. A hang-up can
  // come as POLLHUP alone, without POLLIN: look at all three (Beej's bug).
  const bool was_sending = c.sent < c.out.size() || c.file_left > 0;
  if ((slot.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    // TODO recv(): what this client sent, up to buffer.size() bytes. poll()
    // said it is readable, so this does not wait.
    const auto received = todo(c.socket);
    // A request must arrive whole within --timeout of its first byte: were
    // every byte to move the deadline, a client sending one byte a second
    // (slowloris) would hold its slot forever, and enough of them every slot.
    if (received > 0 && !c.closing && c.in.empty()) c.deadline = now + patience;
    if (received > 0 && !c.closing) c.in.append(buffer.data(), static_cast<std::size_t>(received));
    if (received == 0) c.hung_up = true;  // Fact: recv returns 0 — the client has closed its side
    if (received < 0 && !net::would_block(net::last_error())) return false;  // a reset: gone
  }

  // Answer what came, then send. send() takes what fits in the socket's buffer
  // now, maybe not all: the rest waits in `out` until poll() says POLLOUT (room
  // again). Once all went, a file's next piece is read (one a round, so that
  // a big file shares the thread), and answers that waited for room (requests
  // pipelined behind a big answer) go round again.
  const bool may_send = !was_sending || (slot.revents & POLLOUT) != 0;
  for (bool piece_read = false; true;) {
    answer_requests(c, root);
    if (!may_send) break;
    if (c.sent == c.out.size() && c.file_left > 0) {
      if (std::exchange(piece_read, true)) break;  // the others' turn
      c.out.clear();
      c.sent = 0;
      read_piece(c);
    }
    if (c.sent == c.out.size()) break;
    // TODO send(): what is left of c.out (from c.sent on). It takes what fits
    // in the socket's buffer now; the rest waits for POLLOUT.
    const auto sent = todo();
    if (sent < 0 && !net::would_block(net::last_error())) return false;  // the client is gone
    if (sent <= 0) break;
    c.sent += static_cast<std::size_t>(sent);
    c.deadline = now + patience;
    if (c.sent < c.out.size()) break;  // the socket's buffer is full
    c.out.clear();
    c.sent = 0;
  }
  if (c.sent == c.out.size()) {  // all sent (a piece read last may have been empty)
    c.out.clear();
    c.sent = 0;
  }
  if (c.hung_up && !c.closing && c.out.empty() && c.file_left == 0) {
    if (!c.in.empty()) {  // it ended mid-request
      http::respond_error(c.out, 400);
      log_answer(c, {}, 400);
    }
    c.closing = true;
  }

  // Done with this client: close gently, as server.cpp does — our FIN first,
  // then drop what it still sends until its FIN (or its time-out).
  if (c.closing && c.out.empty() && c.file_left == 0) {
    if (c.hung_up) return false;
    // TODO shutdown() our sending side (SHUT_WR): our FIN, then we read until its FIN.
    if (!c.shut_down) todo();
    c.shut_down = true;
  }
  // (`in` grows only while a file is on its way: requests wait behind it.)
  const bool reading = !c.hung_up && c.out.size() - c.sent < max_out && c.in.size() < max_out;
  const bool sending = !c.out.empty() || c.file_left > 0;
  slot.events = static_cast<short>((reading ? POLLIN : 0) | (sending ? POLLOUT : 0));
  return true;
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
      if (serve(fds[i], connections[i], now, timeout, root, buffer)) {
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
