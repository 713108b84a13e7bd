// tests/bench/idle_bench.cpp — the idle half of `./workshop bench web`: how a
// web server does while it holds many idle keep-alive connections.
//
// Opens N connections (10,000) to a running server, each of which sends one
// GET and reads the whole answer, then stays open and silent: an idle
// keep-alive connection, like a browser's between two clicks. While they are
// all held it times K fresh GETs (200), one after the other, each on a new
// connection (connect, send, the whole answer read, close), and prints
//   held N
//   fresh K median MS p99 MS
// Then it keeps every connection open until its input ends (so that whoever
// started it can read the server's memory meanwhile), and closes them.
// Not a test: the numbers belong to the machine. Linux and macOS.
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kPatience = 30;     // seconds one recv or send may wait before we give up
constexpr std::size_t kBatch = 100;  // connections opened before their answers are read

// Connects to the server; every failure ends the program, naming the connection.
net::Socket connect_to(const sockaddr_storage& address, socklen_t length, std::size_t number) {
  net::Socket s{socket(address.ss_family, SOCK_STREAM, 0)};
  if (!s) cli::fail("socket for connection {}", number);
  if (net::set_timeouts(s.get(), kPatience) != 0) cli::fail("set_timeouts");
  if (connect(s.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0)
    cli::fail("connect, connection {}", number);
  return s;
}

void send_request(const net::Socket& s, const std::string& request) {
  std::size_t sent = 0;
  while (sent < request.size()) {
    const auto n = send(s.get(), request.data() + sent, request.size() - sent, 0);
    if (n <= 0) cli::fail("send");
    sent += static_cast<std::size_t>(n);
  }
}

// Reads one whole response, which must be a 200: the header up to its blank
// line, then Content-Length bytes of body (every server measured here sends one).
void read_response(const net::Socket& s) {
  std::string text;
  char buffer[4096];
  std::size_t header_end = std::string::npos;
  std::size_t body_length = 0;
  while (true) {
    if (header_end == std::string::npos &&
        (header_end = text.find("\r\n\r\n")) != std::string::npos) {
      header_end += 4;
      if (!text.starts_with("HTTP/1.1 200 ") && !text.starts_with("HTTP/1.0 200 "))
        cli::fail_because("it answered " + text.substr(0, text.find('\r')), "a response");
      std::string header = text.substr(0, header_end);
      std::transform(header.begin(), header.end(), header.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const std::size_t field = header.find("\r\ncontent-length:");
      if (field == std::string::npos)
        cli::fail_because("no Content-Length in: " + text.substr(0, text.find('\r')), "a response");
      std::size_t at = field + 17;
      while (at < header.size() && header[at] == ' ')
        ++at;
      std::from_chars(header.data() + at, header.data() + header.size(), body_length);
    }
    if (header_end != std::string::npos && text.size() >= header_end + body_length) return;
    const auto n = recv(s.get(), buffer, sizeof buffer, 0);
    if (n < 0) cli::fail("recv, waiting for a response");
    if (n == 0) cli::fail_because("the server closed the connection", "a response");
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

std::size_t number(cli::Options& options, std::string_view name, std::size_t fallback) {
  const std::string text = options.text(name, std::to_string(fallback));
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 1)
    options.bad(fmt::format("{} wants a whole number of at least 1, not '{}'", name, text));
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: idle_bench --port N [--host ADDR] [--idle N] [--fresh N]\n"
                       "Holds N idle keep-alive connections to a web server, times fresh GETs\n"
                       "meanwhile, then keeps the connections until its input ends.\n"
                       "  --host ADDR  the server's IP address (default 127.0.0.1)\n"
                       "  --idle N     idle connections to hold (default 10000)\n"
                       "  --fresh N    fresh GETs to time while they are held (default 200)\n");
  const std::string host = options.text("--host", "127.0.0.1");
  const std::uint16_t port = options.port(0);
  const std::size_t idle = number(options, "--idle", 10000);
  const std::size_t fresh = number(options, "--fresh", 200);
  options.done();
  if (port == 0) options.bad("--port is required (the server's port)");
  const net::Startup startup;  // SIGPIPE harmless, stdout flushed at every line

  sockaddr_storage address{};
  socklen_t length = 0;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof *v4;
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
             inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof *v6;
  } else {
    options.bad(fmt::format("--host wants an IP address, not '{}'", host));
  }
  const std::string request = fmt::format("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", host);

  // In batches: a batch's answers are read before the next one connects, so
  // the server's accept queue never overflows (a dropped SYN costs a second).
  std::vector<net::Socket> held;
  held.reserve(idle);
  while (held.size() < idle) {
    const std::size_t first = held.size();
    const std::size_t end = std::min(idle, first + kBatch);
    for (std::size_t i = first; i < end; ++i) {
      held.push_back(connect_to(address, length, i + 1));
      send_request(held.back(), request);
    }
    for (std::size_t i = first; i < end; ++i)
      read_response(held[i]);
  }
  fmt::print("held {}\n", held.size());

  std::vector<double> milliseconds;
  milliseconds.reserve(fresh);
  for (std::size_t i = 0; i < fresh; ++i) {
    const auto start = Clock::now();
    const net::Socket s = connect_to(address, length, idle + i + 1);
    send_request(s, request);
    read_response(s);
    milliseconds.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(milliseconds.begin(), milliseconds.end());
  // The nearest-rank percentiles: a value that was measured, never one between two.
  const auto percentile = [&](double p) {
    const auto rank = static_cast<std::size_t>(p * static_cast<double>(fresh) + 0.999999);
    return milliseconds[std::clamp<std::size_t>(rank, 1, fresh) - 1];
  };
  fmt::print("fresh {} median {:.3f} p99 {:.3f}\n", fresh, percentile(0.5), percentile(0.99));

  char buffer[256];
  while (std::fread(buffer, 1, sizeof buffer, stdin) > 0) {
  }  // until the input ends: then every connection closes as `held` goes
  return 0;
}
