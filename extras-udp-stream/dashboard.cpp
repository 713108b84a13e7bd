// extras-udp-stream/dashboard.cpp — the talk's last slide: the PC the phone streams to.
//
// Receives a sensor's readings over UDP, one reading a datagram, and prints
// once a second how the stream is doing: the rate, and how many readings were
// lost, reordered or duplicated on the way (told by their sequence numbers),
// and the jitter. It watches the values too, and names what the phone does
// (a shake, a tilt): a few lines of arithmetic where the talk's game used
// machine learning. Ctrl-C prints a last line and ends.
//
// It reads three kinds of line (the README says which apps send them):
//     SEQUENCE,SENT_AT,AX,AY,AZ            our sensor: everything can be counted
//     TIME,AX,AY,AZ                        a plain phone app: no sequence number
//     TIME,3,AX,AY,AZ[,ID,V1,V2,V3]...     Sensorstream IMU+GPS (3: the accelerometer)
// Without a sequence number nothing can tell a lost reading from one never
// sent: lost, reordered and duplicated count our sensor's readings only.
//
// Try it:  ./workshop run extras-udp-stream/dashboard
//          ./workshop run extras-udp-stream/sensor --drop 0.1 --reorder 0.05
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using Clock = std::chrono::steady_clock;

// socket → bind. No HOST means every local address: we ask for the IPv6
// "any" address (::) first, because with IPV6_V6ONLY off that one socket
// takes IPv4 datagrams too (dual stack). Only where IPv6 is off: 0.0.0.0.
net::Socket bind_to(const std::string& host, std::uint16_t port) {
  for (const int family : {AF_INET6, AF_INET}) {
    addrinfo hints{};
    hints.ai_family = host.empty() ? family : AF_UNSPEC;  // AF_UNSPEC: IPv4 or IPv6
    hints.ai_socktype = SOCK_DGRAM;                       // UDP
    hints.ai_flags = AI_PASSIVE;                          // an address to receive on
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc =
            getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
        rc != 0)
      cli::fail_because(gai_strerror(rc), fmt::format("cannot resolve '{}'", host));
    const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

    net::Socket udp_socket{socket(found->ai_family, found->ai_socktype, found->ai_protocol)};
    if (!udp_socket && host.empty() && family == AF_INET6) continue;  // no IPv6 here
    if (!udp_socket) cli::fail("socket");
    const int off = 0;
    // A system that will not turn IPV6_V6ONLY off (OpenBSD) would leave :: to
    // IPv6 datagrams alone, and ignore every 127.0.0.1: then 0.0.0.0 instead.
    if (found->ai_family == AF_INET6 &&
        setsockopt(udp_socket.get(), IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&off),
                   sizeof off) != 0) {
      if (host.empty()) continue;
      cli::fail("setsockopt IPV6_V6ONLY");
    }
    if (bind(udp_socket.get(), found->ai_addr, found->ai_addrlen) != 0)
      cli::fail("cannot bind to port {}", port);
    return udp_socket;
  }
  cli::fail("socket");
}

// One reading, whichever app sent it.
struct Reading {
  std::optional<std::uint64_t> sequence;  // only our sensor numbers its readings
  double sent_at = 0;                     // seconds, on the sender's clock
  double ax = 0, ay = 0, az = 0;          // m/s^2
};

// A datagram is text we did not write: every field is checked, and anything
// else is not a reading (nothing in it can crash us or be taken for a number).
std::optional<Reading> parse_reading(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  if (text.empty() || text.size() > 1024) return std::nullopt;
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string_view field = text.substr(start, comma - start);
    while (!field.empty() && field.front() == ' ')
      field.remove_prefix(1);
    while (!field.empty() && field.back() == ' ')
      field.remove_suffix(1);
    fields.push_back(field);
    if (comma == text.size()) break;
    start = comma + 1;
  }
  const auto number = [](std::string_view field) -> std::optional<double> {
    double value = 0;
    const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (error != std::errc{} || end != field.data() + field.size() || !std::isfinite(value))
      return std::nullopt;
    return value;
  };
  std::vector<double> values;
  for (const std::string_view field : fields) {
    const std::optional<double> value = number(field);
    if (!value) return std::nullopt;
    values.push_back(*value);
  }
  Reading reading;
  std::uint64_t sequence = 0;
  const std::string_view first = fields[0];
  const bool whole = std::from_chars(first.data(), first.data() + first.size(), sequence).ptr ==
                     first.data() + first.size();
  const auto accelerometer = [&](std::size_t at) {  // TIME, ..., AX,AY,AZ from index AT on
    reading.sent_at = values[0];
    reading.ax = values[at], reading.ay = values[at + 1], reading.az = values[at + 2];
  };
  // Sensorstream: TIME, then ID,V1,V2,V3 for each sensor; ID 3 is the accelerometer.
  for (std::size_t id = 1; values.size() % 4 == 1 && id < values.size(); id += 4)
    if (fields[id] == "3") {
      accelerometer(id + 1);
      return reading;
    }
  if (values.size() == 5 && whole) {  // ours: SEQUENCE,SENT_AT,AX,AY,AZ
    reading.sequence = sequence;
    reading.sent_at = values[1];
    reading.ax = values[2], reading.ay = values[3], reading.az = values[4];
  } else if (values.size() == 4) {  // TIME,AX,AY,AZ
    accelerometer(1);
  } else {
    return std::nullopt;
  }
  // Some apps send milliseconds since 1970, not seconds: 1e11 s is 3000 years.
  if (reading.sent_at > 1e11) reading.sent_at /= 1000;
  // A phone's accelerometer reads up to 16 g or so: 1,000 m/s^2 is no phone,
  // and one absurd value would swamp every average it joins.
  for (const double a : {reading.ax, reading.ay, reading.az})
    if (std::abs(a) > 1000) return std::nullopt;
  return reading;
}

// What the sequence numbers tell: every reading is one of new, late
// (reordered: it came after a higher one) or a duplicate. A gap is counted
// lost until, perhaps, the missing reading comes late. Only the last 1024
// numbers are remembered (20 s at 50 readings/s), so memory stays bounded.
struct Sequence {
  static constexpr std::uint64_t window = 1024;
  bool started = false;
  std::uint64_t highest = 0, lowest = 0;
  std::bitset<window> seen;  // seen[n % window], for n in (highest - window, highest]
  std::uint64_t lost = 0, reordered = 0, duplicated = 0;
};

// region: count-sequence
// Returns false for a duplicate, which tells nothing new.
bool count_sequence(Sequence& s, std::uint64_t n) {
  // region: first-of-a-stream
  // Far behind: the sensor restarted, its numbers begin again. A new stream.
  if (s.started && n < s.highest && s.highest - n >= Sequence::window) {
    fmt::print("the sequence started again at {} (a sensor restarted?)\n", n);
    s.started = false;
  }
  if (!s.started) {
    s.started = true;
    s.highest = s.lowest = n;
    s.seen.reset();
    s.seen[n % Sequence::window] = true;
    return true;
  }
  // endregion
  if (n > s.highest) {  // new: the numbers skipped over are missing, for now
    s.lost += n - s.highest - 1;
    for (std::uint64_t m = s.highest + 1; m <= n && m <= s.highest + Sequence::window; ++m)
      s.seen[m % Sequence::window] = false;
    s.highest = n;
  } else if (s.seen[n % Sequence::window]) {  // had it already: the network sent it twice
    ++s.duplicated;
    return false;
  } else {  // late: a higher number came first
    ++s.reordered;
    if (n < s.lowest) {  // before the first we saw: the ones in between are missing
      s.lost += s.lowest - n - 1;
      s.lowest = n;
    } else {
      --s.lost;  // not lost after all
    }
  }
  s.seen[n % Sequence::window] = true;
  return true;
}
// endregion

// Jitter, as RTP measures it (RFC 3550, 6.4.1): how much the time a reading
// takes to arrive varies. The two clocks need not agree: only differences of
// transit times count. Smoothed over about 16 readings. A jump of more than a
// second is another clock (a restarted or another sender): it starts again.
struct Jitter {
  bool started = false;
  double last_transit = 0, seconds = 0;
};
void count_jitter(Jitter& j, double sent_at, double arrived_at) {
  const double transit = arrived_at - sent_at;
  const double change = std::abs(transit - j.last_transit);
  if (j.started && change < 1) j.seconds += (change - j.seconds) / 16;
  j.started = true;
  j.last_transit = transit;
}

// region: detect-events
// Gravity is what stays while the phone moves about: a slow average of the
// readings. The tilt is the angle of gravity off the screen's axis; the shake
// is what is left once gravity is taken away. Each event is named once, when
// it starts (a second, lower threshold ends it, so noise cannot make it flicker).
struct Motion {
  bool started = false;
  double gx = 0, gy = 0, gz = 0;  // gravity, as the phone feels it
  double shake = 0;               // the average of (what is not gravity)^2
  bool shaking = false;
  std::string tilt = "level";
};
void detect_events(Motion& m, const Reading& r) {
  if (!m.started) m.gx = r.ax, m.gy = r.ay, m.gz = r.az, m.started = true;
  m.gx += 0.05 * (r.ax - m.gx), m.gy += 0.05 * (r.ay - m.gy), m.gz += 0.05 * (r.az - m.gz);
  const double dx = r.ax - m.gx;
  const double dy = r.ay - m.gy;
  const double dz = r.az - m.gz;
  m.shake += 0.2 * (dx * dx + dy * dy + dz * dz - m.shake);
  if (!m.shaking && std::sqrt(m.shake) > 5) fmt::print("event: shake\n");
  m.shaking = std::sqrt(m.shake) > (m.shaking ? 2 : 5);
  if (m.shaking) return;  // a shake swings the average too: no tilt is told meanwhile

  const double roll = std::atan2(-m.gx, m.gz) * 180 / std::numbers::pi;  // right edge down: +
  const double pitch = std::atan2(m.gy, m.gz) * 180 / std::numbers::pi;  // top edge up: +
  std::string tilt = m.tilt;
  if (std::abs(roll) < 10 && std::abs(pitch) < 10) tilt = "level";
  if (std::abs(roll) > 25) tilt = roll > 0 ? "tilt right" : "tilt left";
  if (std::abs(pitch) > 25 && std::abs(pitch) > std::abs(roll))
    tilt = pitch > 0 ? "tilt back" : "tilt forward";
  if (tilt != m.tilt) fmt::print("event: {}\n", tilt);
  m.tilt = tilt;
}
// endregion

// A datagram that is not a reading, as readable text: at most 60 bytes, and
// what is not printable written \xNN, so no byte of it can upset a terminal.
std::string shown(std::string_view datagram) {
  std::string text;
  for (const char c : datagram.substr(0, 60)) {
    if (c >= ' ' && c <= '~' && c != '\\' && c != '"')
      text += c;
    else
      text += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  }
  return datagram.size() > 60 ? text + "..." : text;
}

int main(int argc, char** argv) {
  cli::Options options(argc, argv,
                       "usage: dashboard [--host ADDR] [--port N]\n"
                       "Receives a sensor's readings over UDP; prints once a second the rate,\n"
                       "the readings lost, reordered and duplicated, the jitter, and the events\n"
                       "(a shake, a tilt). Ctrl-C prints the totals and ends.\n"
                       "  --host ADDR  receive on ADDR only (default: all, IPv4 and IPv6)\n"
                       "  --port N     port to receive on (default 5555; 0: any free port)\n");
  const std::string host = options.text("--host", "");
  const std::uint16_t port = options.port(5555);
  options.done();
  const net::Startup startup;

  const net::Socket udp_socket = bind_to(host, port);
  net::stop_on_signal(udp_socket.get());
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(udp_socket.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0)
    cli::fail("getsockname");
  fmt::print("dashboard waiting for readings on port {}\n", net::port_of(bound));

  const Clock::time_point start = Clock::now();
  Sequence sequence;
  Jitter jitter;
  Motion motion;
  std::uint64_t readings = 0;    // every reading that came, duplicates too
  std::uint64_t unnumbered = 0;  // of them, the ones without a sequence number
  std::uint64_t bad = 0;         // datagrams that were not readings
  std::uint64_t this_second = 0;
  std::uint64_t last_second = 0;
  Clock::time_point next_report = start + std::chrono::seconds(1);
  std::array<char, 65536> buffer{};  // the largest datagram there can be
  // region: receive-loop
  while (!net::stop_requested()) {
    // Wait for a datagram, but no longer than the next report is due.
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_report - Clock::now());
    pollfd slot{udp_socket.get(), POLLIN, 0};
    const int ready = poll(&slot, 1, static_cast<int>(std::max<long long>(0, wait.count())));
    if (ready < 0 && net::stop_requested()) break;  // Ctrl-C interrupted poll()
    if (ready < 0) cli::fail("poll");
    if (ready > 0) {
      sockaddr_storage address{};
      socklen_t address_length = sizeof address;
      const auto received =
          recvfrom(udp_socket.get(), buffer.data(), static_cast<int>(buffer.size()), 0,
                   reinterpret_cast<sockaddr*>(&address), &address_length);
      if (net::stop_requested()) break;  // a shutdown wakes recvfrom with an empty read
      if (received < 0) {
        fmt::print(stderr, "recvfrom: {}\n", net::error_text());
        continue;
      }
      // One recvfrom, one datagram, one reading: UDP keeps message boundaries.
      const std::string_view datagram(buffer.data(), static_cast<std::size_t>(received));
      const std::optional<Reading> reading = parse_reading(datagram);
      const double arrived_at = std::chrono::duration<double>(Clock::now() - start).count();
      if (!reading) {
        if (bad++ == 0)  // shown once: a stream of garbage must not flood the screen
          fmt::print(
              "bad datagram from {} (not a reading; the next ones are only counted): \"{}\"\n",
              net::to_string(address), shown(datagram));
      } else {
        ++readings, ++this_second;
        if (!reading->sequence) ++unnumbered;
        if (!reading->sequence || count_sequence(sequence, *reading->sequence)) {
          count_jitter(jitter, reading->sent_at, arrived_at);
          detect_events(motion, *reading);
        }
      }
    }
    if (Clock::now() >= next_report) {
      // A report each second while readings come, and one more when they stop.
      if (this_second > 0 || last_second > 0)
        fmt::print("rate {}/s, lost {}, reordered {}, duplicated {}, jitter {:.2f} ms{}\n",
                   this_second, sequence.lost, sequence.reordered, sequence.duplicated,
                   jitter.seconds * 1000, bad > 0 ? fmt::format(", bad {}", bad) : "");
      last_second = std::exchange(this_second, 0);
      next_report += std::chrono::seconds(1);
      if (next_report <= Clock::now()) next_report = Clock::now() + std::chrono::seconds(1);
    }
  }
  // endregion
  if (unnumbered > 0)
    fmt::print("{} readings had no sequence number: not counted as lost, reordered or duplicated\n",
               unnumbered);
  if (bad > 0) fmt::print("{} bad datagrams (not readings)\n", bad);
  fmt::print("received {}, lost {}, reordered {}, duplicated {}\n", readings, sequence.lost,
             sequence.reordered, sequence.duplicated);
  return 0;
}
