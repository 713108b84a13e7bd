// tests/bench/chat_bench.cpp — `./workshop bench chat`: spoon3-chat/server
// beside the talk's own threaded server (in Python, its bugs fixed: the anchor).
//
// Starts each server itself, on a free port, and runs two rooms against it:
//   normal: N clients (50) each send L lines (1000) at once while all of them
//           read; every line goes to the N-1 others, and each receiver checks
//           that every line of every sender came, in order and whole;
//   fault:  the same, plus 10 clients that stop reading and are killed with a
//           reset (RST) one after the other as the room moves on, and 1
//           client that never reads at all. Every line must still reach every
//           healthy client; the longest gap a healthy client sees between two
//           arrivals is measured, and when the server drops the non-reader.
// Prints one table. Not a test: the numbers belong to the machine. One
// thread, poll() over every client socket. Linux and macOS (fork, exec).
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>
#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- a server under test: a child process whose stdout we read ----------------

struct Server {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::thread reader;  // reads its log as fast as it comes, so it never blocks on it
  std::mutex lock;
  std::map<std::string, Clock::time_point> removed;  // "IP:PORT" → when its Removed line came
};

void start_server(Server& server, std::vector<std::string> command) {
  int out[2];
  if (pipe(out) != 0) cli::fail("pipe");
  std::vector<char*> argv;
  argv.reserve(command.size() + 1);
  for (std::string& arg : command)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  server.pid = fork();
  if (server.pid < 0) cli::fail("fork");
  if (server.pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    execvp(argv[0], argv.data());
    fmt::print(stderr, "error: cannot run {}: {}\n", argv[0], net::error_text());
    _exit(127);
  }
  ::close(out[1]);
  // The first line that names a port gives it; after it, only "Removed IP:PORT: ..." matters.
  std::string text;
  char buffer[65536];
  std::size_t end = 0;
  std::size_t at = std::string::npos;
  while (at == std::string::npos) {
    while ((end = text.find('\n')) == std::string::npos) {
      const auto n = ::read(out[0], buffer, sizeof buffer);
      if (n <= 0) cli::fail_because("it printed no port line", "cannot start " + command[0]);
      text.append(buffer, static_cast<std::size_t>(n));
    }
    at = text.find("port ");
    if (at > end) {  // not in this line: the next one
      at = std::string::npos;
      text.erase(0, end + 1);
    }
  }
  server.port = static_cast<std::uint16_t>(std::stoi(text.substr(at + 5, end)));
  text.erase(0, end + 1);
  server.reader = std::thread([&server, fd = out[0], text]() mutable {
    char chunk[1 << 16];
    while (true) {
      std::size_t start = 0;
      for (std::size_t nl = 0; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        const std::string_view line(text.data() + start, nl - start);
        if (line.starts_with("Removed ")) {
          const auto colon = line.find(": ", 8);
          const std::scoped_lock lock(server.lock);
          server.removed.emplace(std::string(line.substr(8, colon - 8)), Clock::now());
        }
      }
      text.erase(0, start);
      const auto n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      text.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
  });
}

void stop_server(Server& server) {
  kill(server.pid, SIGTERM);
  int status = 0;
  waitpid(server.pid, &status, 0);
  server.reader.join();
}

// --- the clients ---------------------------------------------------------------

enum class Role { healthy, resetting, never_reading };

struct Client {
  Client(net::Socket socket, Role r) : s(std::move(socket)), role(r) {}
  net::Socket s;
  Role role = Role::healthy;
  std::string peer;  // 127.0.0.1:PORT, as the server signs our lines
  std::string to_send;
  std::string received;           // an unfinished line
  std::size_t lines = 0;          // lines checked (healthy) or counted (others)
  std::vector<std::size_t> next;  // per sender: the line number expected next
  bool reading = true;
  bool heard_sync = false;
  bool heard_ready = false;
  Clock::time_point last_arrival;
  double longest_gap = 0;
  std::string failure;
};

// Each line names its sender and number, and has a length of its own: a torn
// line, or two glued together, cannot pass for one.
std::size_t filler_length(std::size_t sender, std::size_t number) {
  return 40 + (sender * 7 + number) % 40;
}
char filler_char(std::size_t sender) { return static_cast<char>('a' + sender % 26); }
std::string text_of(std::size_t sender, std::size_t number) {
  return fmt::format("c{} l{} {}\n", sender, number,
                     std::string(filler_length(sender, number), filler_char(sender)));
}

struct Room {
  std::vector<Client> clients;
  std::unordered_map<std::string_view, std::size_t> sender_of;  // peer → healthy client number
  std::size_t healthy = 0;
};

net::Socket connect_to(std::uint16_t port, bool small_buffer) {
  net::Socket s{socket(AF_INET, SOCK_STREAM, 0)};
  if (small_buffer) {  // a client that never reads: its buffers fill after a few kilobytes
    const int size = 4096;
    setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    cli::fail("cannot connect to 127.0.0.1:{}", port);
  return s;
}

std::string local_peer(net::socket_t s) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  getsockname(s, reinterpret_cast<sockaddr*>(&address), &length);
  return net::to_string(address);
}

// A whole line arrived at client c: check it (healthy clients), count it.
void on_line(Room& room, Client& c, std::string_view line) {
  const auto dash = line.find(" - ");
  const std::string_view body = dash == std::string_view::npos ? line : line.substr(dash + 3);
  if (body == "sync" || body == "ready") {  // the warm-up
    (body == "sync" ? c.heard_sync : c.heard_ready) = true;
    return;
  }
  ++c.lines;
  if (c.role != Role::healthy || !c.failure.empty()) return;
  if (!line.starts_with("From ") || dash == std::string_view::npos) {
    c.failure = fmt::format("a line not from the room: '{}'", line);
    return;
  }
  const auto sender = room.sender_of.find(line.substr(5, dash - 5));
  if (sender == room.sender_of.end()) {
    c.failure = fmt::format("a line from nobody healthy: '{}'", line);
    return;
  }
  // "c<sender> l<number> <filler>", checked without building the line again
  const std::size_t from = sender->second;
  const std::size_t number = c.next[from]++;
  std::size_t said_from = 0;
  std::size_t said_number = 0;
  const char* at = body.data() + 1;
  const char* end = body.data() + body.size();
  bool whole = body.starts_with('c');
  if (whole) {
    const auto [after_from, e1] = std::from_chars(at, end, said_from);
    whole =
        e1 == std::errc{} && end - after_from > 2 && after_from[0] == ' ' && after_from[1] == 'l';
    if (whole) {
      const auto [after_number, e2] = std::from_chars(after_from + 2, end, said_number);
      const auto filler =
          std::string_view(after_number, static_cast<std::size_t>(end - after_number));
      whole = e2 == std::errc{} && filler.size() == 1 + filler_length(from, number) &&
              filler[0] == ' ' &&
              filler.find_first_not_of(filler_char(from), 1) == std::string_view::npos;
    }
  }
  if (!whole || said_from != from || said_number != number)
    c.failure = fmt::format("from client {} expected line {}, got '{}'", from, number, body);
}

// One poll round: sends what is queued, reads what came.
void pump(Room& room, int timeout_ms) {
  std::vector<pollfd> fds(room.clients.size());
  for (std::size_t i = 0; i < room.clients.size(); ++i) {
    const Client& c = room.clients[i];
    const short in = c.reading && c.s ? POLLIN : 0;
    const short out = c.to_send.empty() || !c.s ? 0 : POLLOUT;
    fds[i] = {c.s ? c.s.get() : -1, static_cast<short>(in | out), 0};
  }
  if (poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms) < 0 && errno != EINTR)
    cli::fail("poll");
  static std::vector<char> buffer(1 << 18);
  for (std::size_t i = 0; i < room.clients.size(); ++i) {
    Client& c = room.clients[i];
    if ((fds[i].revents & POLLOUT) != 0) {
      const auto sent = send(c.s.get(), c.to_send.data(), c.to_send.size(), 0);
      if (sent < 0 && !net::would_block(errno)) cli::fail("send");
      if (sent > 0) c.to_send.erase(0, static_cast<std::size_t>(sent));
    }
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0 || !c.reading) continue;
    const auto received = recv(c.s.get(), buffer.data(), buffer.size(), 0);
    if (received < 0 && net::would_block(errno)) continue;
    if (received <= 0) {
      if (c.role == Role::healthy && c.failure.empty())
        c.failure = received == 0 ? "the server hung up" : net::error_text();
      c.reading = false;
      continue;
    }
    const auto now = Clock::now();
    c.longest_gap =
        std::max(c.longest_gap, std::chrono::duration<double>(now - c.last_arrival).count());
    c.last_arrival = now;
    c.received.append(buffer.data(), static_cast<std::size_t>(received));
    std::size_t start = 0;
    for (std::size_t end = 0; (end = c.received.find('\n', start)) != std::string::npos;
         start = end + 1)
      on_line(room, c, std::string_view(c.received.data() + start, end - start));
    c.received.erase(0, start);
  }
}

struct Result {
  double seconds = 0;
  std::size_t delivered = 0;
  std::size_t expected = 0;
  double longest_gap = 0;
  std::optional<double> dropped_after;  // the non-reader, from the start of the run
  std::string failure;
};

Result run(Server& server, std::size_t count, std::size_t lines, bool fault, double timeout) {
  Room room;
  room.healthy = count;
  const std::size_t resetting = fault ? 10 : 0;
  // The non-reader first, so it is surely in the room when the lines come.
  if (fault) room.clients.emplace_back(connect_to(server.port, true), Role::never_reading);
  for (std::size_t i = 0; i < resetting; ++i)
    room.clients.emplace_back(connect_to(server.port, true), Role::resetting);
  for (std::size_t i = 0; i < count; ++i)
    room.clients.emplace_back(connect_to(server.port, false), Role::healthy);
  std::size_t healthy_number = 0;
  std::vector<Client*> healthy;
  for (Client& c : room.clients) {
    c.peer = local_peer(c.s.get());
    net::set_nonblocking(c.s.get());
    c.reading = c.role != Role::never_reading;
    c.next.assign(count, 0);
    if (c.role == Role::healthy) {
      room.sender_of[c.peer] = healthy_number++;
      healthy.push_back(&c);
    }
  }

  // Are all of them in the room? The last one says "sync" until every other
  // reader has heard it, then "ready"; after "ready", the warm-up is over.
  Client& last = *healthy.back();
  const auto everyone = [&](bool Client::*heard) {
    return std::all_of(room.clients.begin(), room.clients.end(),
                       [&](const Client& c) { return &c == &last || !c.reading || c.*heard; });
  };
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  while (!everyone(&Client::heard_sync)) {
    last.to_send += "sync\n";
    const auto round_end = Clock::now() + std::chrono::milliseconds(200);
    while (Clock::now() < round_end && !everyone(&Client::heard_sync))
      pump(room, 50);
    if (Clock::now() > give_up) cli::fail_because("not everyone joined in 30 s", "chat bench");
  }
  last.to_send += "ready\n";
  while (!everyone(&Client::heard_ready)) {
    pump(room, 50);
    if (Clock::now() > give_up) cli::fail_because("the warm-up took over 30 s", "chat bench");
  }

  // The run: every healthy client sends its lines at once.
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t n = 0; n < lines; ++n)
      healthy[i]->to_send += text_of(i, n);
  Result result;
  result.expected = count * lines * (count - 1);
  const std::size_t per_receiver = lines * (count - 1);
  const auto start = Clock::now();
  for (Client& c : room.clients) {
    c.last_arrival = start;
    c.longest_gap = 0;
  }
  const auto deadline = start + std::chrono::seconds(60);
  std::size_t resets_done = 0;
  while (true) {
    std::size_t done = 0;
    std::size_t delivered = 0;
    for (const Client* c : healthy) {
      delivered += c->lines;
      done += c->lines >= per_receiver || !c->failure.empty() ? 1 : 0;
    }
    result.delivered = delivered;
    if (done == count || Clock::now() > deadline) break;
    // The resetting clients: the k-th stops reading early on, and is reset
    // once the room is (k+1)/11 of the way.
    for (std::size_t k = resets_done; k < resetting; ++k) {
      Client& c = room.clients[1 + k];
      if (c.lines > per_receiver * k / (2 * resetting)) c.reading = false;
    }
    while (resets_done < resetting &&
           delivered > result.expected * (resets_done + 1) / (resetting + 1)) {
      Client& c = room.clients[1 + resets_done++];
      const linger abort_on_close{1, 0};
      setsockopt(c.s.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
      ::close(c.s.get());
      c.s = net::Socket{};  // closed: forget the descriptor without a shutdown
      c.reading = false;
    }
    pump(room, 100);
  }
  result.seconds = seconds_since(start);
  for (const Client* c : healthy) {
    result.longest_gap = std::max(result.longest_gap, c->longest_gap);
    if (result.failure.empty() && !c->failure.empty()) result.failure = c->failure;
    if (result.failure.empty() && c->lines != per_receiver)
      result.failure = fmt::format("a client got {} of {} lines", c->lines, per_receiver);
  }
  if (fault) {  // wait for the non-reader's drop, if it is still to come
    const std::string& hog = room.clients.front().peer;
    // Its lines began to wait by the end of the run at the latest.
    const auto wait_until = Clock::now() + std::chrono::duration<double>(timeout + 1);
    while (true) {
      {
        const std::scoped_lock lock(server.lock);
        if (const auto at = server.removed.find(hog); at != server.removed.end()) {
          result.dropped_after = std::chrono::duration<double>(at->second - start).count();
          break;
        }
      }
      if (Clock::now() > wait_until) break;
      pump(room, 50);
    }
  }
  return result;
}

std::size_t number(cli::Options& options, std::string_view name, std::size_t fallback) {
  const std::string text = options.text(name, std::to_string(fallback));
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 2)
    options.bad(fmt::format("{} wants a whole number of at least 2, not '{}'", name, text));
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: chat_bench --server PATH --anchor PATH [--clients N] [--lines N]\n"
                       "                  [--timeout SECONDS]\n"
                       "Runs a normal room and a fault room against spoon3-chat/server (PATH)\n"
                       "and against the talk's Python server (the anchor, a .py PATH); prints\n"
                       "one table.\n"
                       "  --clients N        healthy clients in the room (default 50)\n"
                       "  --lines N          lines each of them sends (default 1000)\n"
                       "  --timeout SECONDS  the servers' --timeout (default 5)\n");
  const std::string server_path = options.text("--server", "build/spoon3-chat/server");
  const std::string anchor_path = options.text("--anchor", "tests/bench/talk_chat_server.py");
  const std::size_t count = number(options, "--clients", 50);
  const std::size_t lines = number(options, "--lines", 1000);
  const double timeout = options.seconds("--timeout", 5);
  options.done();
  const net::Startup startup;

  struct Row {
    std::string name;
    std::vector<std::string> command;
  };
  const std::string t = fmt::format("{}", timeout);
  const std::vector<Row> servers = {
      {"spoon3-chat/server", {server_path, "--port", "0", "--timeout", t}},
      {"the talk's Python, fixed", {"python3", anchor_path, "--port", "0", "--timeout", t}},
  };
  fmt::print("chat: {} clients each send {} lines at once; each line goes to the {} others.\n",
             count, lines, count - 1);
  fmt::print(
      "fault: the same, plus 10 clients reset mid-run and 1 that never reads "
      "(--timeout {}).\n\n",
      t);
  fmt::print("| {:<24} | {:<6} | {:>9} | {:>7} | {:>10} | {:>9} | {:>13} | {:>17} |\n", "server",
             "run", "delivered", "seconds", "lines/s", "× anchor", "longest gap s",
             "non-reader dropped");
  fmt::print("|{:-<26}|{:-<8}|{:-<11}|{:-<9}|{:-<12}|{:-<11}|{:-<15}|{:-<19}|\n", "", "", "", "",
             "", "", "", "");
  std::map<std::string, double> anchor_rate;  // per run, the Python server's lines/s
  std::vector<std::string> failures;
  for (const bool fault : {false, true}) {
    std::vector<std::pair<std::string, Result>> results;
    for (const Row& row : servers) {
      Server server;
      start_server(server, row.command);
      results.emplace_back(row.name, run(server, count, lines, fault, timeout));
      stop_server(server);
    }
    const double anchor =
        static_cast<double>(results.back().second.delivered) / results.back().second.seconds;
    for (const auto& [name, r] : results) {
      const double rate = static_cast<double>(r.delivered) / r.seconds;
      const std::string delivered =
          r.delivered == r.expected
              ? "all"
              : fmt::format("{:.0f}%", 100.0 * static_cast<double>(r.delivered) /
                                           static_cast<double>(r.expected));
      fmt::print(
          "| {:<24} | {:<6} | {:>9} | {:>7.2f} | {:>10.0f} | {:>9.1f} | {:>13.3f} | {:>17} |\n",
          name, fault ? "fault" : "normal", delivered, r.seconds, rate, rate / anchor,
          r.longest_gap,
          !fault            ? "-"
          : r.dropped_after ? fmt::format("after {:.2f} s", *r.dropped_after)
                            : std::string("never"));
      if (!r.failure.empty())
        failures.push_back(
            fmt::format("{}, {} run: {}", name, fault ? "fault" : "normal", r.failure));
    }
  }
  fmt::print(
      "\n({} lines in all per run; \"longest gap\": the longest wait between two arrivals\n"
      "at any healthy client.)\n",
      count * lines * (count - 1));
  for (const std::string& failure : failures)
    fmt::print(stderr, "error: {}\n", failure);
  return failures.empty() ? 0 : 1;
}
