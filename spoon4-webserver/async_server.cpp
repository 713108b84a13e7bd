// spoon4-webserver/async_server.cpp — Spoon 4, the async server approach: a coroutine per client.
//
// The talk's last "look into". poll_server is written inside out: one loop,
// and each client's story cut into the turns when its socket happens to be
// ready (serve() in connection.hpp remembers where it was). Here each client
// is one C++20 coroutine that reads top to bottom like the blocking
// server.cpp — read a request, answer it, send, the next request — and where
// server.cpp would block, it says `co_await readable(socket, deadline)`: the
// coroutine is put aside, its local variables kept, and a small poll() loop
// resumes whichever coroutine's socket is ready. That is what Python's
// asyncio and Boost.Asio do underneath; here the task type, the awaiter and
// the loop are built by hand, in this file. poll() runs everywhere, Windows too.
//
// Try it:  ./workshop run spoon4-webserver/async_server --root spoon4-webserver
//          curl -v http://127.0.0.1:8888/README.md      (or open it in a browser)
#include "common/cli.hpp"
#include "common/net.hpp"
#include "connection.hpp"
#include "http.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
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

// region: task
// A coroutine's return type tells the compiler what to do with it. Ours starts
// at once (it runs until its first co_await), and once it ends, its frame (the
// locals kept while it was put aside) frees itself: no one waits for a client
// to finish; the loop only resumes it.
// (The compiler calls these on an object: they cannot be static.)
// NOLINTBEGIN(readability-convert-member-functions-to-static)
struct Task {
  struct promise_type {
    Task get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }  // a bug in the lesson: stop loudly
  };
};
// NOLINTEND(readability-convert-member-functions-to-static)
// endregion

// region: awaiter
// The coroutines put aside, and what each waits for: waiting[i] belongs to
// fds[i], the pollfd of its socket, which the next poll() watches.
struct Waiting {
  std::coroutine_handle<> coroutine;
  Clock::time_point deadline;  // resumed then, ready or not...
  bool* ready;                 // ...and told here which it was
};
std::vector<pollfd> fds;
std::vector<Waiting> waiting;

// `co_await readable(socket, deadline)` puts this coroutine aside until the
// socket has bytes (or a hang-up, or an error) for recv: true; or until the
// deadline: false. `writable`: until there is room for send.
struct SocketReady {
  net::socket_t socket;
  short events;  // POLLIN or POLLOUT
  Clock::time_point deadline;
  bool ready = false;
  // Always ask poll() first. (The compiler calls this on an object: not static.)
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> coroutine) {
    fds.push_back(pollfd{socket, events, 0});
    waiting.push_back({coroutine, deadline, &ready});  // `ready` lives in the coroutine's frame
  }
  [[nodiscard]] bool await_resume() const noexcept { return ready; }
};
SocketReady readable(net::socket_t s, Clock::time_point deadline) { return {s, POLLIN, deadline}; }
SocketReady writable(net::socket_t s, Clock::time_point deadline) { return {s, POLLOUT, deadline}; }
// endregion

// One client, top to bottom, as server.cpp reads; where server.cpp would block,
// co_await, and the loop serves the others meanwhile. `root` and `buffer`
// belong to main(), which outlives every coroutine.
// region: serve-client
Task serve_client(Connection c, Clock::duration patience, const std::filesystem::path& root,
                  std::array<char, 65536>& buffer) {
  bool gone = false;  // it vanished (a reset) or ran out of time: close at once
  while (!gone) {
    answer_requests(c, root);  // every whole request that has come, in order
    if (c.out.empty() && c.file_left == 0) {
      if (c.closing) break;  // all said
      // Nothing to send: wait for the client's next bytes, within --timeout.
      if (!co_await readable(c.socket.get(), c.deadline)) {
        // region: out-of-time
        // Silent too long. A quiet close if it was idle between requests; a
        // 408 if it owes us a request.
        gone = c.answered && c.in.empty();
        if (gone) break;
        http::respond_error(c.out, 408);
        log_answer(c, {}, 408);
        c.closing = true;
        c.deadline = Clock::now() + patience;
        continue;
        // endregion
      }
      const auto received = recv(c.socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
      // region: received
      if (received > 0) {
        // A request must arrive whole within --timeout of its first byte
        // (slowloris, see poll_server): later bytes do not move the deadline.
        if (c.in.empty()) c.deadline = Clock::now() + patience;
        c.in.append(buffer.data(), static_cast<std::size_t>(received));
      } else if (received == 0) {  // Fact: recv returns 0 — the client has closed its side
        c.hung_up = c.closing = true;
        if (!c.in.empty()) {  // it ended mid-request
          http::respond_error(c.out, 400);
          log_answer(c, {}, 400);
        }
      } else {
        gone = !net::would_block(net::last_error());  // a reset
      }
      // endregion
      continue;
    }
    // region: send
    // Send what waits. send() takes what fits in the socket's buffer now: the
    // rest waits for room. A file goes a piece at a time, each after the
    // others' turn (the co_await), so that a big file shares the thread.
    if (c.sent == c.out.size()) {  // all gone: the file's next piece
      c.out.clear();
      c.sent = 0;
      gone = !co_await writable(c.socket.get(), c.deadline);
      if (!gone) read_piece(c);
      continue;
    }
    const auto sent =
        send(c.socket.get(), c.out.data() + c.sent, static_cast<int>(c.out.size() - c.sent), 0);
    if (sent > 0) {
      c.sent += static_cast<std::size_t>(sent);
      c.deadline = Clock::now() + patience;
      if (c.sent == c.out.size() && c.file_left == 0) {
        c.out.clear();
        c.sent = 0;
      }
    } else if (sent < 0 && !net::would_block(net::last_error())) {
      gone = true;  // the client is gone
    } else {
      gone = !co_await writable(c.socket.get(), c.deadline);  // it does not read: dropped then
    }
    // endregion
  }
  // region: close-gently
  // Done: close gently, as server.cpp does — our FIN first, then drop what it
  // still sends until its FIN (or its time-out).
  if (!gone && !c.hung_up) {
    shutdown(c.socket.get(), SHUT_WR);  // fails only if the peer is gone
    while (co_await readable(c.socket.get(), c.deadline) &&
           recv(c.socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0) > 0) {
    }
  }
  // endregion
  fmt::print("{} closed\n", c.peer);
}  // c.socket: shutdown, then close
// endregion

// region: accept-clients
// The listening socket has a coroutine too: it waits until clients are queued,
// takes them all, and starts one coroutine for each.
Task accept_clients(net::socket_t listen_socket, Clock::duration patience,
                    const std::filesystem::path& root, std::array<char, 65536>& buffer) {
  bool accept_failing = false;  // and we said so
  while (true) {
    if (!co_await readable(listen_socket, Clock::time_point::max())) continue;
    while (true) {
      sockaddr_storage address{};
      socklen_t address_length = sizeof address;
      net::Socket client_socket{
          accept(listen_socket, reinterpret_cast<sockaddr*>(&address), &address_length)};
      if (!client_socket) {
        if (!net::would_block(net::last_error()) && !net::stop_requested()) {
          // Out of descriptors (EMFILE, ENFILE), say: the classic trap of an
          // event loop (see poll_server). The client stays queued, so the
          // listening socket stays readable and accept() fails again at once.
          // Wait 0.1 s, watching nothing (events 0), and say so once.
          if (!std::exchange(accept_failing, true))
            fmt::print(stderr, "accept: {} (pausing 0.1 s between tries)\n", net::error_text());
          (void)co_await SocketReady{listen_socket, 0,
                                     Clock::now() + std::chrono::milliseconds(100)};
        }
        break;
      }
      accept_failing = false;
      if (net::set_nonblocking(client_socket.get()) != 0) {
        fmt::print(stderr, "set_nonblocking: {}\n", net::error_text());
        continue;
      }
      Connection c{.socket = std::move(client_socket),
                   .peer = net::to_string(address),
                   .deadline = Clock::now() + patience};
      fmt::print("{} connected\n", c.peer);
      serve_client(std::move(c), patience, root, buffer);  // runs until its first co_await
    }
  }
}
// endregion

// region: loop
// The loop: sleep in poll() until a waiting socket is ready or the first
// deadline passes, then resume each coroutine whose time it is. Each runs to
// its next co_await, which puts it back in the lists for the next turn.
void run_until_stopped() {
  std::vector<pollfd> turn_fds;
  std::vector<Waiting> turn;
  while (!net::stop_requested()) {
    std::fflush(stdout);  // the last turn's log lines, before we sleep
    auto first_deadline = Clock::time_point::max();
    for (const Waiting& w : waiting)
      first_deadline = std::min(first_deadline, w.deadline);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(first_deadline - Clock::now());
    const int ready = poll(fds.data(), fds.size(),
                           first_deadline == Clock::time_point::max()
                               ? -1
                               : static_cast<int>(std::clamp<long long>(wait.count(), 0, 60000)));
    if (ready < 0 && net::stop_requested()) break;  // Ctrl-C interrupted poll()
    if (ready < 0) cli::fail("poll");
    const Clock::time_point now = Clock::now();
    turn_fds.swap(fds);  // this turn's lists: whoever waits again goes into fresh ones
    turn.swap(waiting);
    fds.clear();
    waiting.clear();
    for (std::size_t i = 0; i < turn.size(); ++i) {
      if (turn_fds[i].revents == 0 && now < turn[i].deadline) {  // not its time yet
        fds.push_back(turn_fds[i]);
        waiting.push_back(turn[i]);
        continue;
      }
      *turn[i].ready = turn_fds[i].revents != 0;
      turn[i].coroutine.resume();
    }
  }
  // Stopped: destroy every coroutine put aside; its locals go, its socket closes.
  for (const Waiting& w : waiting)
    w.coroutine.destroy();
}
// endregion

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: async_server [--host ADDR] [--port N] [--root DIR] [--timeout S]\n"
                       "One thread serving many HTTP clients at once, each one a coroutine.\n"
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

  // A long backlog (SOMAXCONN): clients arrive faster than one turn takes.
  const net::Socket listen_socket = listen_on(host, port, SOMAXCONN);
  if (net::set_nonblocking(listen_socket.get()) != 0) cli::fail("set_nonblocking");
  net::stop_on_signal(listen_socket.get());
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(listen_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("Serving HTTP with coroutines on port {} ...\n", net::port_of(bound));

  const auto patience =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
  std::array<char, 65536> buffer{};  // one for all: a recv copies out of it at once
  accept_clients(listen_socket.get(), patience, root, buffer);  // runs until its first co_await
  run_until_stopped();
  fmt::print("server stopped\n");
  return 0;
}
