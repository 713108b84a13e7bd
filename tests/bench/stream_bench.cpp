// tests/bench/stream_bench.cpp — `./workshop bench stream` (tests/bench/stream.sh):
// the same stream of sensor readings over UDP and over TCP, through a network
// that loses one packet, and what that one loss does to every reading after it.
//
// Linux, as root. The program moves into a network namespace of its own
// (unshare), so nothing it does touches the machine's network, and makes a
// tun device its wire: every packet sent to 10.9.0.2 or 10.9.0.3 comes to this
// program, waits DELAY ms (a Wi-Fi's one-way delay), and goes back in, its
// addresses swapped so that it arrives at 10.9.0.1 from the other end (the
// "reflector" trick: one machine, two ends of a wire). The first packet that
// carries reading DROP is thrown away — once: a TCP retransmission of it passes.
//
// usage: stream_bench [--delays MS,MS...] [--rate HZ] [--count N] [--drop K]
#include "common/net.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "error: {}: {}\n", what, std::strerror(errno));
  std::exit(1);
}

// --- the wire: a tun device, a delay each way, one packet lost ---------------

struct Wire {
  int tun = -1;
  std::atomic<int> delay_ms{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string drop;  // the packet whose data starts a line with this is lost, once
  std::optional<Clock::time_point> dropped_at;
};

std::uint16_t checksum(const std::uint8_t* data, std::size_t size, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < size; i += 2)
    sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (size % 2 == 1) sum += static_cast<std::uint32_t>(data[size - 1] << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// 10.9.0.1 → 10.9.0.2 comes back as 10.9.0.3 → 10.9.0.1, and 10.9.0.1 →
// 10.9.0.3 as 10.9.0.2 → 10.9.0.1: each end sees the other at the address it
// sent to. The checksums are computed again over the new addresses.
bool reflect(std::vector<std::uint8_t>& packet) {
  if (packet.size() < 20 || packet[0] >> 4 != 4) return false;  // IPv4 only
  const std::size_t header = static_cast<std::size_t>(packet[0] & 15) * 4;
  const std::uint8_t protocol = packet[9];
  if (packet[16] != 10 || packet[17] != 9 || packet[18] != 0 ||
      (packet[19] != 2 && packet[19] != 3))
    return false;
  packet[15] = packet[19] == 2 ? 3 : 2;  // the new source
  packet[19] = 1;                        // the new destination
  packet[10] = packet[11] = 0;
  const std::uint16_t ip_sum = checksum(packet.data(), header);
  packet[10] = static_cast<std::uint8_t>(ip_sum >> 8), packet[11] = ip_sum & 0xff;
  const std::size_t at = protocol == IPPROTO_TCP ? 16 : protocol == IPPROTO_UDP ? 6 : 0;
  if (at == 0 || packet.size() < header + at + 2) return false;
  packet[header + at] = packet[header + at + 1] = 0;
  const std::size_t length = packet.size() - header;
  std::uint32_t pseudo = 0;  // source, destination, protocol, length
  for (std::size_t i = 12; i < 20; i += 2)
    pseudo += static_cast<std::uint32_t>(packet[i] << 8 | packet[i + 1]);
  pseudo += protocol + static_cast<std::uint32_t>(length);
  std::uint16_t sum = checksum(packet.data() + header, length, pseudo);
  if (protocol == IPPROTO_UDP && sum == 0) sum = 0xffff;
  packet[header + at] = static_cast<std::uint8_t>(sum >> 8), packet[header + at + 1] = sum & 0xff;
  return true;
}

std::string_view payload_of(const std::vector<std::uint8_t>& packet) {
  const std::size_t header = static_cast<std::size_t>(packet[0] & 15) * 4;
  std::size_t start = header + 8;  // UDP
  if (packet[9] == IPPROTO_TCP)
    start = header + static_cast<std::size_t>(packet[header + 12] >> 4) * 4;
  if (start >= packet.size()) return {};
  return {reinterpret_cast<const char*>(packet.data()) + start, packet.size() - start};
}

void run_wire(Wire& wire) {
  std::deque<std::pair<Clock::time_point, std::vector<std::uint8_t>>> in_flight;
  std::vector<std::uint8_t> buffer(65536);
  while (!wire.stop) {
    int wait_ms = 10;
    if (!in_flight.empty())
      wait_ms = static_cast<int>(std::clamp<long long>(
          std::chrono::ceil<std::chrono::milliseconds>(in_flight.front().first - Clock::now())
              .count(),
          0, 10));
    pollfd slot{wire.tun, POLLIN, 0};
    if (poll(&slot, 1, wait_ms) > 0) {
      const ssize_t n = read(wire.tun, buffer.data(), buffer.size());
      if (n > 0) {
        std::vector<std::uint8_t> packet(buffer.begin(), buffer.begin() + n);
        const std::string_view data = packet.size() >= 20 ? payload_of(packet) : std::string_view{};
        bool lost = false;
        {
          const std::lock_guard lock(wire.mutex);
          if (!wire.drop.empty() && !wire.dropped_at &&
              (data.starts_with(wire.drop) ||
               data.find("\n" + wire.drop) != std::string_view::npos)) {
            wire.dropped_at = Clock::now();
            lost = true;
          }
        }
        if (!lost && reflect(packet))
          in_flight.emplace_back(Clock::now() + std::chrono::milliseconds(wire.delay_ms.load()),
                                 std::move(packet));
      }
    }
    while (!in_flight.empty() && in_flight.front().first <= Clock::now()) {
      const auto& packet = in_flight.front().second;
      if (write(wire.tun, packet.data(), packet.size()) < 0) die("write to the tun device");
      in_flight.pop_front();
    }
  }
}

// --- the stream: readings at RATE, and when each one arrived -------------------

sockaddr_in address_of(const char* ip, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, ip, &address.sin_addr);
  return address;
}

struct Run {
  Clock::time_point start;
  std::vector<std::optional<Clock::time_point>> arrived;  // by sequence number
  std::vector<Clock::time_point> sent;                    // by sequence number
};

std::string reading(std::size_t sequence, Clock::time_point start) {
  return fmt::format("{},{:.6f},0.000,0.000,9.810\n", sequence,
                     std::chrono::duration<double>(Clock::now() - start).count());
}

// Each reading at its own time, from its own thread, as the sensor sends.
template <typename Send>
std::thread sender(Run& run, double rate, std::size_t count, Send send) {
  return std::thread([&run, rate, count, send] {
    for (std::size_t i = 0; i < count; ++i) {
      std::this_thread::sleep_until(
          run.start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(static_cast<double>(i) / rate)));
      run.sent[i] = Clock::now();
      send(reading(i, run.start));
    }
  });
}

void note(Run& run, std::string_view line) {
  const std::size_t sequence = std::strtoul(std::string(line).c_str(), nullptr, 10);
  if (sequence < run.arrived.size() && !run.arrived[sequence]) run.arrived[sequence] = Clock::now();
}

Run over_udp(std::uint16_t port, double rate, std::size_t count) {
  const net::Socket receiver{socket(AF_INET, SOCK_DGRAM, 0)};
  const sockaddr_in here = address_of("10.9.0.1", port);
  if (bind(receiver.get(), reinterpret_cast<const sockaddr*>(&here), sizeof here) != 0) die("bind");
  const net::Socket udp_socket{socket(AF_INET, SOCK_DGRAM, 0)};
  const sockaddr_in there = address_of("10.9.0.2", port);
  Run run{Clock::now() + 100ms, std::vector<std::optional<Clock::time_point>>(count),
          std::vector<Clock::time_point>(count)};
  std::thread thread = sender(run, rate, count, [&](const std::string& line) {
    sendto(udp_socket.get(), line.data(), line.size(), 0, reinterpret_cast<const sockaddr*>(&there),
           sizeof there);
  });
  const auto end = run.start +
                   std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(count) / rate)) +
                   500ms;
  std::array<char, 2048> buffer{};
  while (Clock::now() < end) {
    pollfd slot{receiver.get(), POLLIN, 0};
    if (poll(&slot, 1, 50) <= 0) continue;
    const ssize_t n = recv(receiver.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) note(run, std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
  thread.join();
  return run;
}

Run over_tcp(std::uint16_t port, double rate, std::size_t count) {
  const net::Socket listen_socket{socket(AF_INET, SOCK_STREAM, 0)};
  const sockaddr_in here = address_of("10.9.0.1", port);
  if (bind(listen_socket.get(), reinterpret_cast<const sockaddr*>(&here), sizeof here) != 0)
    die("bind");
  if (listen(listen_socket.get(), 1) != 0) die("listen");
  const net::Socket tcp_socket{socket(AF_INET, SOCK_STREAM, 0)};
  const sockaddr_in there = address_of("10.9.0.2", port);
  if (connect(tcp_socket.get(), reinterpret_cast<const sockaddr*>(&there), sizeof there) != 0)
    die("connect through the wire");
  const net::Socket client_socket{accept(listen_socket.get(), nullptr, nullptr)};
  const int on = 1;  // each reading its own segment, at once, as a game would want
  setsockopt(tcp_socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  Run run{Clock::now() + 100ms, std::vector<std::optional<Clock::time_point>>(count),
          std::vector<Clock::time_point>(count)};
  std::thread thread = sender(run, rate, count, [&](const std::string& line) {
    if (send(tcp_socket.get(), line.data(), line.size(), MSG_NOSIGNAL) < 0) die("send");
  });
  const auto end = run.start +
                   std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(count) / rate)) +
                   5s;
  std::string pending;
  std::array<char, 4096> buffer{};
  std::size_t lines = 0;
  while (Clock::now() < end && lines < count) {
    pollfd slot{client_socket.get(), POLLIN, 0};
    if (poll(&slot, 1, 50) <= 0) continue;
    const ssize_t n = recv(client_socket.get(), buffer.data(), buffer.size(), 0);
    if (n <= 0) break;
    pending.append(buffer.data(), static_cast<std::size_t>(n));
    for (std::size_t newline; (newline = pending.find('\n')) != std::string::npos; ++lines) {
      note(run, std::string_view(pending).substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  thread.join();
  return run;
}

// Lateness: how long after it was sent a reading arrived, beyond the wire's
// own delay. Timed from the moment of its send, so a sender woken late by a
// busy machine does not count against the network.
void report(const char* transport, int delay_ms, const Run& run, double rate) {
  const double period_ms = 1000 / rate;
  std::size_t arrived = 0;
  std::size_t held_back = 0;
  double worst_ms = 0;
  double silence_ms = 0;
  std::optional<Clock::time_point> previous;
  for (std::size_t i = 0; i < run.arrived.size(); ++i) {
    if (!run.arrived[i]) continue;
    ++arrived;
    const double late_ms =
        std::chrono::duration<double, std::milli>(*run.arrived[i] - run.sent[i]).count() - delay_ms;
    worst_ms = std::max(worst_ms, late_ms);
    if (late_ms > period_ms) ++held_back;
    if (previous)
      silence_ms =
          std::max(silence_ms,
                   std::chrono::duration<double, std::milli>(*run.arrived[i] - *previous).count());
    previous = run.arrived[i];
  }
  fmt::print("| {:<9} | {:>10} ms | {:>8} | {:>4} | {:>12.0f} ms | {:>19} | {:>11.0f} ms |\n",
             transport, delay_ms, arrived, run.arrived.size() - arrived, silence_ms, held_back,
             worst_ms);
}

}  // namespace

int main(int argc, char** argv) {
  std::string delays = "0,10,50,100";
  double rate = 50;
  std::size_t count = 150;
  std::size_t drop = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const std::string value = argv[i + 1];
    if (name == "--delays")
      delays = value;
    else if (name == "--rate")
      rate = std::stod(value);
    else if (name == "--count")
      count = std::stoul(value);
    else if (name == "--drop")
      drop = std::stoul(value);
  }
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  if (unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET), which needs root");
  // The wire, the senders and the receivers mostly sleep; woken, they run
  // before the machine's other work (real-time priority, for root), so that
  // what the table shows is the network's doing, not a busy machine's.
  const sched_param priority{.sched_priority = 10};
  if (sched_setscheduler(0, SCHED_FIFO, &priority) != 0)
    fmt::print("(no real-time priority: {}; a busy machine shows in the numbers)\n",
               std::strerror(errno));
  Wire wire;
  wire.tun = open("/dev/net/tun", O_RDWR);
  if (wire.tun < 0) die("open /dev/net/tun");
  ifreq request{};
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(request.ifr_name, "wire0", IFNAMSIZ - 1);
  if (ioctl(wire.tun, TUNSETIFF, &request) != 0) die("ioctl TUNSETIFF");
  if (std::system("ip addr add 10.9.0.1/24 dev wire0 && ip link set wire0 up") != 0) {
    errno = 0;
    die("ip addr add 10.9.0.1/24 dev wire0");
  }
  std::thread wire_thread(run_wire, std::ref(wire));

  fmt::print(
      "| transport | one-way delay | readings | lost | longest silence | {:<19} | worst lateness "
      "|\n",
      fmt::format("late > {:.0f} ms", 1000 / rate));
  fmt::print("|{:-<11}|{:-<15}|{:-<10}|{:-<6}|{:-<17}|{:-<21}|{:-<16}|\n", "", "", "", "", "", "",
             "");
  std::uint16_t port = 7000;
  std::stringstream list(delays);
  for (std::string item; std::getline(list, item, ',');) {
    const int delay_ms = std::stoi(item);
    wire.delay_ms = delay_ms;
    for (const bool tcp : {false, true}) {
      {
        const std::lock_guard lock(wire.mutex);
        wire.drop = fmt::format("{},", drop);
        wire.dropped_at.reset();
      }
      const Run run = tcp ? over_tcp(port++, rate, count) : over_udp(port++, rate, count);
      report(tcp ? "TCP" : "UDP", delay_ms, run, rate);
    }
  }
  wire.stop = true;
  wire_thread.join();
  return 0;
}
