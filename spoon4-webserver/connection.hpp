// spoon4-webserver/connection.hpp — one client of a server that serves many
// at once: what poll_server, epoll_server and async_server share.
//
// The three servers differ in how they wait (poll, epoll, coroutines); what
// they do once a socket is ready is the same, and lives here: a connection's
// buffers (what came in, what has yet to go out), its answers in order
// (keep-alive, pipelining), the files under --root read 256 KiB at a time,
// and serve(): one turn of reading and writing, for the two loop servers.
#pragma once

#include "common/cli.hpp"
#include "common/net.hpp"
#include "http.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

using Clock = std::chrono::steady_clock;

// What we remember about one client between two turns of the loop.
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
  bool reading = true;           // what it waits for now: bytes from the client...
  bool sending = false;          // ...or room to send
  Clock::time_point filed{};     // epoll_server: where its deadline is filed (see there)
};

// Stop taking requests (and reading) while this much waits to go out: a client
// that sends and never reads cannot make us hold more.
inline constexpr std::size_t max_out = 1 << 20;
// A file is read a piece at a time, and only once the socket has taken the
// last piece: memory per connection stays this small, whatever the file's
// size, and one turn never spends longer on one client than a piece takes.
inline constexpr std::size_t file_piece = 256 << 10;

struct File {
  int status = 200;
  std::string content{};  // a short answer made here ("Hello, World!", "404 Not Found")...
  std::string_view type = "text/plain; charset=utf-8";
  std::optional<std::ifstream> stream{};  // ...or a file, open and not yet read...
  std::uintmax_t size = 0;                // ...this long
};

// --root: the file a request's target names, and never one outside root (a
// canonical path). The target is whatever the client typed, so every trick
// must fail: "..", "%2e%2e" (percent-encoding), "//etc/passwd", a symlink
// pointing out. Anything that is not a regular file under root is "404".
inline File find_file(const std::filesystem::path& root, std::string_view target) {
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
  found.stream.emplace(real, std::ios::binary);
  if (error || !found.stream->is_open()) return {403, "403 Forbidden\n"};
  return found;
}

// One line per answer, as a web server's access log has it:
//   127.0.0.1:40312 GET /index.html -> 200 OK
// (a request that did not parse has no method or target worth showing).
inline void log_answer(const Connection& c, const http::Request& request, int status) {
  if (request.state == http::Request::State::complete)
    fmt::print("{} {} {} -> {} {}\n", c.peer, request.method, request.target, status,
               http::reason(status));
  else
    fmt::print("{} -> {} {}\n", c.peer, status, http::reason(status));
}

// Answers the whole requests waiting in `in`, in the order they came.
inline void answer_requests(Connection& c, const std::filesystem::path& root) {
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
    if (file.stream) {  // a file: the head now, the body as the socket takes it
      http::respond_head(c.out, file.status, file.type, file.size, request.keep_alive);
      if (!head_only && file.size > 0) {
        c.file = std::move(*file.stream);
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
inline void read_piece(Connection& c) {
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

// One turn for one connection of a loop server: read if its socket is
// `readable` (or hung up, or failed: recv then says so), answer, send if it is
// `writable` (or if nothing was waiting to go), close when done. Returns false
// when the connection is finished and must go; otherwise `reading` and
// `sending` say what it waits for next.
inline bool serve(Connection& c, bool readable, bool writable, Clock::time_point now,
                  Clock::duration patience, const std::filesystem::path& root,
                  std::array<char, 65536>& buffer) {
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

  const bool was_sending = c.sent < c.out.size() || c.file_left > 0;
  if (readable) {
    const auto received = recv(c.socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
    // A request must arrive whole within --timeout of its first byte: were
    // every byte to move the deadline, a client sending one byte a second
    // (slowloris) would hold its slot forever, and enough of them every slot.
    if (received > 0 && !c.closing && c.in.empty()) c.deadline = now + patience;
    if (received > 0 && !c.closing) c.in.append(buffer.data(), static_cast<std::size_t>(received));
    if (received == 0) c.hung_up = true;  // Fact: recv returns 0 — the client has closed its side
    if (received < 0 && !net::would_block(net::last_error())) return false;  // a reset: gone
  }

  // Answer what came, then send. send() takes what fits in the socket's buffer
  // now, maybe not all: the rest waits in `out` until the socket is writable
  // (room again). Once all went, a file's next piece is read (one a turn, so
  // that a big file shares the thread), and answers that waited for room
  // (requests pipelined behind a big answer) go round again.
  const bool may_send = !was_sending || writable;
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
    const auto sent =
        send(c.socket.get(), c.out.data() + c.sent, static_cast<int>(c.out.size() - c.sent), 0);
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
    if (!c.shut_down) shutdown(c.socket.get(), SHUT_WR);  // fails only if the peer is gone
    c.shut_down = true;
  }
  // (`in` grows only while a file is on its way: requests wait behind it.)
  c.reading = !c.hung_up && c.out.size() - c.sent < max_out && c.in.size() < max_out;
  c.sending = !c.out.empty() || c.file_left > 0;
  return true;
}
