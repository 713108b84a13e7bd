// spoon2-echo/echo_client.cpp — Spoon 2: the client of the `with` echo server.
//
// Sends its standard input to the server, then half-closes (shutdown of the
// write side: "I have said everything"), and writes what comes back to its
// standard output until the server closes.
//
// Why two threads? Sending everything first and reading afterwards hangs on
// big inputs: the server echoes into our receive buffer, which fills because
// nobody reads it; then the server's send blocks, it stops reading, our send
// blocks too, and both wait forever. So one thread sends while this one reads.
//
// Try it:  ./workshop run spoon2-echo/echo_server --timeout 60
//          ./workshop run spoon2-echo/echo_client       (type lines; Ctrl-D to end)
//          echo hello | ./workshop run spoon2-echo/echo_client
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

// getaddrinfo → socket → connect, trying each address HOST has (a name like
// localhost may have an IPv6 and an IPv4 one) until one answers.
net::Socket connect_to(const std::string& host, std::uint16_t port) {
  const std::string where = host.find(':') == std::string::npos
                                ? fmt::format("{}:{}", host, port)
                                : fmt::format("[{}]:{}", host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;      // Tip: AF_UNSPEC takes IPv4 and IPv6 alike
  hints.ai_socktype = SOCK_STREAM;  // TCP
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    cli::fail_because(gai_strerror(rc), fmt::format("cannot connect to {}", where));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    net::Socket s{socket(address->ai_family, address->ai_socktype, address->ai_protocol)};
    if (s && connect(s.get(), address->ai_addr, address->ai_addrlen) == 0) return s;
  }
  cli::fail("cannot connect to {}", where);  // the last address's reason
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

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: echo_client [--host ADDR] [--port N]\n"
                       "Sends standard input to the echo server and writes the echo to\n"
                       "standard output.\n"
                       "  --host ADDR  server name or address (default 127.0.0.1)\n"
                       "  --port N     server port (default 50007)\n");
  const std::string host = options.text("--host", "127.0.0.1");
  const std::uint16_t port = options.port(50007);
  options.done();
  const net::Startup startup;
  net::binary_stdio();

  const net::Socket s = connect_to(host, port);
  std::atomic<bool> input_ended = false;
  // region: half-close
  std::thread sender([&] {
    std::array<char, 65536> chunk{};
    std::ptrdiff_t size = 0;
    // What stdin has now: one line typed into a terminal (so its echo shows at
    // once), or up to 64 KiB of a pipe; 0 at the end (Ctrl-D on an empty line).
    while ((size = net::read_input(chunk.data(), chunk.size())) > 0) {
      const std::string_view piece(chunk.data(), static_cast<std::size_t>(size));
      if (!send_all(s.get(), piece)) return;  // the reader sees why
    }
    if (size < 0) cli::fail("cannot read standard input");
    input_ended = true;
    // The server's recv returns 0 (end of our input), yet it can still send
    // us the rest of the echo.
  });
  // endregion

  std::array<char, 65536> buffer{};
  while (true) {
    const auto received = recv(s.get(), buffer.data(), static_cast<int>(buffer.size()), 0);
    if (received < 0) cli::fail("recv");
    if (received == 0) break;  // Fact: recv returns 0 — the server has closed
    std::fwrite(buffer.data(), 1, static_cast<std::size_t>(received), stdout);
    std::fflush(stdout);
  }
  if (!input_ended) {
    // The server hung up while our input went on (an echo server drops a
    // client silent for its --timeout). The sender may be waiting for the
    // next line from a terminal, so leave without waiting for it.
    fmt::print(stderr, "error: the server closed the connection before the end of the input\n");
    std::fflush(stderr);
    std::_Exit(1);
  }
  sender.join();
  return 0;
}
