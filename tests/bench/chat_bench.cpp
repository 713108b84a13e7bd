// tests/bench/chat_bench.cpp — `./workshop bench chat`: N clients in one chat room.
//
// Joins N clients to a running spoon3-chat/server, then measures
//   throughput: every client sends its share of the lines at once while all of
//               them read; each line is delivered to the N-1 others;
//   latency:    one line at a time, from its send to its arrival at the last
//               of the N-1 receivers (median and 99th percentile).
// Prints one row of the table (--header: the header). Not a test: the numbers
// belong to the machine. One thread, poll() over every client socket.
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Client {
  net::Socket s;
  std::string to_send;
  std::string received;  // an unfinished line
  std::size_t lines = 0;
};

using OnLine = std::function<void(std::size_t client, std::string_view text)>;

// One poll round: sends what is queued, reads what came, calls on_line for
// each whole line with the text after "From IP:PORT - ".
void pump(std::vector<Client>& clients, int timeout_ms, const OnLine& on_line) {
  std::vector<pollfd> fds(clients.size());
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto out = clients[i].to_send.empty() ? 0 : POLLOUT;
    fds[i] = {clients[i].s.get(), static_cast<short>(POLLIN | out), 0};
  }
  if (poll(fds.data(), static_cast<unsigned>(fds.size()), timeout_ms) < 0) cli::fail("poll");
  std::vector<char> buffer(65536);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    Client& c = clients[i];
    if ((fds[i].revents & POLLOUT) != 0) {
      const auto sent = send(c.s.get(), c.to_send.data(), static_cast<int>(c.to_send.size()), 0);
      if (sent < 0 && !net::would_block(net::last_error())) cli::fail("send");
      if (sent > 0) c.to_send.erase(0, static_cast<std::size_t>(sent));
    }
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const auto received = recv(c.s.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
    if (received < 0 && net::would_block(net::last_error())) continue;
    if (received < 0) cli::fail("recv");
    if (received == 0) cli::fail_because("closed", "the server hung up on a client");
    c.received.append(buffer.data(), static_cast<std::size_t>(received));
    std::size_t start = 0;
    for (std::size_t end = 0; (end = c.received.find('\n', start)) != std::string::npos;
         start = end + 1) {
      const std::string_view line(c.received.data() + start, end - start);
      const auto dash = line.find(" - ");
      ++c.lines;
      on_line(i, dash == std::string_view::npos ? line : line.substr(dash + 3));
    }
    c.received.erase(0, start);
  }
}

// Pumps until done() says so, or fails after a minute.
void pump_until(
    std::vector<Client>& clients, const std::function<bool()>& done,
    const OnLine& on_line = [](std::size_t, std::string_view) {}) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (Clock::now() > deadline) cli::fail_because("no progress for 60 s", "chat bench");
    pump(clients, 100, on_line);
  }
}

std::size_t number(cli::Options& options, std::string_view name, std::size_t fallback) {
  const std::string text = options.text(name, std::to_string(fallback));
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value == 0)
    options.bad(fmt::format("{} wants a positive whole number, not '{}'", name, text));
  return value;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(values.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: chat_bench [--host ADDR] [--port N] [--clients N] [--lines N]\n"
                       "       chat_bench --header\n"
                       "Measures a running spoon3-chat/server with N clients; prints a table row.\n"
                       "  --lines N   lines sent in all in the throughput part (default 2000)\n");
  if (options.flag("--header")) {
    fmt::print("| {:>7} | {:>10} | {:>7} | {:>17} | {:>14} | {:>14} |\n", "clients", "lines sent",
               "seconds", "lines delivered/s", "latency p50 ms", "latency p99 ms");
    fmt::print("|{:-<9}|{:-<12}|{:-<9}|{:-<19}|{:-<16}|{:-<16}|\n", "", "", "", "", "", "");
    return 0;
  }
  const std::string host = options.text("--host", "127.0.0.1");
  const std::uint16_t port = options.port(12000);
  const std::size_t count = number(options, "--clients", 10);
  const std::size_t total_lines = number(options, "--lines", 2000);
  options.done();
  const net::Startup startup;
  if (count < 2) cli::fail_because("at least 2", "--clients");

  std::vector<Client> clients(count);
  for (Client& c : clients) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0)
      cli::fail("cannot resolve {}", host);
    c.s = net::Socket{socket(found->ai_family, SOCK_STREAM, 0)};
    const int rc = connect(c.s.get(), found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    if (rc != 0) cli::fail("cannot connect to {}:{}", host, port);
    net::set_nonblocking(c.s.get());
  }

  // Are all of them in the room? The last one says "sync" until every other
  // has heard it, then "ready"; after "ready" nothing of the warm-up is left.
  Client& last = clients.back();
  std::vector<bool> heard(count, false);
  heard.back() = true;
  std::size_t ready = 0;
  const OnLine on_sync = [&](std::size_t i, std::string_view text) {
    if (text == "sync") heard[i] = true;
    if (text == "ready") ++ready;
  };
  while (std::find(heard.begin(), heard.end(), false) != heard.end()) {
    last.to_send += "sync\n";
    const auto round_end = Clock::now() + std::chrono::milliseconds(200);
    pump_until(
        clients,
        [&] {
          return Clock::now() > round_end ||
                 std::find(heard.begin(), heard.end(), false) == heard.end();
        },
        on_sync);
  }
  last.to_send += "ready\n";
  pump_until(
      clients, [&] { return ready == count - 1; }, on_sync);

  // Throughput: all clients send their lines at once.
  const std::size_t per_client = std::max<std::size_t>(1, total_lines / count);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t n = 0; n < per_client; ++n)
      clients[i].to_send += fmt::format("client {} line {}\n", i, n);
  std::size_t delivered = 0;
  const std::size_t expected = count * per_client * (count - 1);
  const auto start = Clock::now();
  pump_until(
      clients, [&] { return delivered == expected; },
      [&](std::size_t, std::string_view) { ++delivered; });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // Latency: one line at a time, until the last receiver has it.
  std::vector<double> latencies;
  const std::size_t rounds = count >= 100 ? 100 : 200;
  for (std::size_t r = 0; r < rounds; ++r) {
    std::size_t arrived = 0;
    clients[r % count].to_send = fmt::format("ping {}\n", r);
    const auto sent_at = Clock::now();
    pump_until(
        clients, [&] { return arrived == count - 1; },
        [&](std::size_t, std::string_view) { ++arrived; });
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent_at).count());
  }

  fmt::print("| {:>7} | {:>10} | {:>7.3f} | {:>17.0f} | {:>14.3f} | {:>14.3f} |\n", count,
             count * per_client, seconds, static_cast<double>(expected) / seconds,
             percentile(latencies, 0.5), percentile(latencies, 0.99));
  return 0;
}
