// extras-udp-stream/sensor.cpp — the talk's last slide: "phone app sends UDP".
//
// The phone: a simulated motion sensor that streams its readings to a PC, one
// reading a datagram, as one line of CSV text:
//
//     SEQUENCE,SENT_AT,AX,AY,AZ        e.g.  42,0.840013,-0.031,0.012,9.807
//
// SEQUENCE counts from 0, one per reading (also for the ones --drop throws
// away), SENT_AT is seconds since the sensor started, and AX,AY,AZ is the
// acceleration in m/s^2 along the phone's axes as Android gives them (lying
// flat on a table: 0,0,9.81). The motion repeats every 8 seconds: flat, tilted
// right, flat, shaken, flat. A reading is worthless once it is late, so
// nothing is ever sent again: UDP is the right tool (the README measures TCP).
//
// Try it:  ./workshop run extras-udp-stream/dashboard        (in one terminal)
//          ./workshop run extras-udp-stream/sensor --drop 0.1 --reorder 0.05
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <thread>

using Clock = std::chrono::steady_clock;

// A number option between LOWEST and HIGHEST, or exit 2 saying what it wants.
double number_option(cli::Options& options, const std::string& name, double fallback, double lowest,
                     double highest) {
  const std::string text = options.text(name, "");
  if (text.empty()) return fallback;
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !(number >= lowest && number <= highest))
    options.bad(
        fmt::format("{} wants a number from {} to {}, not '{}'", name, lowest, highest, text));
  return number;
}

// What the phone measures at time T (seconds) of its 8-second routine, before
// the noise of a real sensor is added.
struct Acceleration {
  double x, y, z;
};
Acceleration motion_at(double t) {
  constexpr double g = 9.81;  // at rest an accelerometer feels only gravity, "up"
  const double phase = std::fmod(t, 8.0);
  if (phase >= 2 && phase < 4) {  // right edge down by 40 degrees: gravity leans onto -x
    const double lean = std::min({1.0, (phase - 2) / 0.5, (4 - phase) / 0.5});  // half a second
    const double roll = lean * 40 * std::numbers::pi / 180;
    return {-g * std::sin(roll), 0, g * std::cos(roll)};
  }
  if (phase >= 5 && phase < 6)  // shaken left and right, 6 times a second
    return {15 * std::sin(2 * std::numbers::pi * 6 * phase), 0, g};
  return {0, 0, g};
}

int main(int argc, char** argv) {
  cli::Options options(
      argc, argv,
      "usage: sensor [--host ADDR] [--port N] [--rate HZ] [--count N] [--drop P] [--reorder P]\n"
      "              [--seed N]\n"
      "Streams the readings of a simulated motion sensor (a phone) over UDP, one\n"
      "reading a datagram, as one CSV line: SEQUENCE,SENT_AT,AX,AY,AZ\n"
      "  --host ADDR  where the dashboard is (default 127.0.0.1)\n"
      "  --port N     its port (default 5555)\n"
      "  --rate HZ    readings a second (default 50)\n"
      "  --count N    stop after N readings (default: stream until Ctrl-C)\n"
      "  --drop P     throw each reading away with probability P (0 to 1), as a network may\n"
      "  --reorder P  hold each reading back with probability P and send it after the next\n"
      "  --seed N     the dice of --drop and --reorder (default: different every run)\n");
  const std::string host = options.text("--host", "127.0.0.1");
  const std::uint16_t port = options.port(5555);
  const double rate = number_option(options, "--rate", 50, 0.1, 100000);
  const double count_given = number_option(options, "--count", 0, 1, 1e15);
  if (count_given != std::floor(count_given)) options.bad("--count wants a whole number");
  const auto count = static_cast<std::uint64_t>(count_given);  // 0: forever
  const double drop = number_option(options, "--drop", 0, 0, 1);
  const double reorder = number_option(options, "--reorder", 0, 0, 1);
  const double seed = number_option(options, "--seed", -1, 0, 4294967295.0);
  if (seed != -1 && seed != std::floor(seed)) options.bad("--seed wants a whole number");
  options.done();
  const net::Startup startup;
  const std::string where = host.find(':') == std::string::npos
                                ? fmt::format("{}:{}", host, port)
                                : fmt::format("[{}]:{}", host, port);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;     // IPv4 or IPv6, whichever HOST is
  hints.ai_socktype = SOCK_DGRAM;  // UDP
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    cli::fail_because(gai_strerror(rc), fmt::format("cannot resolve '{}'", host));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

  const net::Socket udp_socket{socket(found->ai_family, found->ai_socktype, found->ai_protocol)};
  if (!udp_socket) cli::fail("socket");
  net::stop_on_signal(udp_socket.get());
  fmt::print("sensor streaming to {} at {} readings/s\n", where, rate);

  std::mt19937 dice(seed >= 0 ? static_cast<std::uint32_t>(seed) : std::random_device{}());
  std::uniform_real_distribution<double> chance(0, 1);
  std::normal_distribution<double> noise(0, 0.05);  // a real sensor never reads the same twice
  std::uint64_t sent = 0;
  std::uint64_t dropped = 0;
  std::uint64_t swapped = 0;
  std::uint64_t failed = 0;

  // region: send-reading
  // One datagram, one reading: sendto sends all of it or nothing. We send
  // without connect(): a phone streams whether anyone listens or not, and an
  // unconnected socket is not told "port unreachable" by a PC not listening.
  const auto send_reading = [&](const std::string& line) {
    if (sendto(udp_socket.get(), line.data(), static_cast<int>(line.size()), 0, found->ai_addr,
               static_cast<socklen_t>(found->ai_addrlen)) < 0) {
      if (failed++ == 0) fmt::print(stderr, "sendto {}: {}\n", where, net::error_text());
      return;
    }
    ++sent;
  };
  // endregion

  // region: send-loop
  const Clock::time_point start = Clock::now();
  const std::chrono::duration<double> period(1 / rate);
  std::optional<std::string> held_back;  // --reorder: a reading waiting for the next one
  for (std::uint64_t sequence = 0; count == 0 || sequence < count; ++sequence) {
    // region: wait-until-due
    // Each reading at its own time, however long the last one took to send.
    const auto due = start + std::chrono::duration_cast<Clock::duration>(period * sequence);
    while (!net::stop_requested() && Clock::now() < due)
      std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(100)));
    // endregion
    if (net::stop_requested()) break;
    // region: make-reading
    const double sent_at = std::chrono::duration<double>(Clock::now() - start).count();
    const Acceleration a = motion_at(static_cast<double>(sequence) / rate);
    const std::string line = fmt::format("{},{:.6f},{:.3f},{:.3f},{:.3f}\n", sequence, sent_at,
                                         a.x + noise(dice), a.y + noise(dice), a.z + noise(dice));
    // endregion
    if (chance(dice) < drop) {  // lost on the way, as on a busy Wi-Fi
      ++dropped;
      continue;
    }
    if (!held_back && chance(dice) < reorder) {  // overtaken on the way
      held_back = line;
      continue;
    }
    send_reading(line);
    if (held_back) {
      send_reading(*held_back);
      held_back.reset();
      ++swapped;
    }
  }
  if (held_back) send_reading(*held_back);  // nothing came after it to overtake it
  // endregion

  fmt::print("sent {} readings to {} (dropped {} on purpose, swapped {})\n", sent, where, dropped,
             swapped);
  if (failed > 0) fmt::print("{} sends failed\n", failed);
  return 0;
}
