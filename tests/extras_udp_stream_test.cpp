// tests/extras_udp_stream_test.cpp — the phone and the PC of the talk's last
// slide, held to the contract: sensor streams, dashboard counts.
//
// The dashboard's counts are only final once it has seen the whole stream,
// and UDP gives no end: the tests wait for its "rate 0/s" report, which it
// prints after a whole second with nothing to read — so everything sent
// before has been read and counted.
//
// Each program's stages (DashboardStages, SensorStages: what ./workshop check
// runs against a learner's program) come first, in a learner's order. A stage
// holds a program to the contract's words only: the dashboard's last line,
// the sensor's CSV. Our own wording (the once-a-second report, the sensor's
// last line) is checked in our build only.
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

using harness::Child;
using harness::exit_text;
using harness::own_build;
using harness::same_bytes;
using harness::shown_command;
using harness::visible;
using namespace std::chrono_literals;

namespace {

const std::string kDashboard = "extras-udp-stream/dashboard";
const std::string kSensor = "extras-udp-stream/sensor";

// Readings a second in the streaming tests: quick, and yet slow enough for a
// reader under Wine, where every poll and recv is a round trip to Wine's server.
const std::string kRate = "500";

// A UDP socket of the test's own, on 127.0.0.1 or ::1, with its port.
struct UdpPeer {
  int family;
  std::uint16_t port = 0;
  net::Socket s;
  explicit UdpPeer(int family_ = AF_INET) : family(family_) {
    if (family == AF_INET) {
      s = harness::bound_to_loopback(SOCK_DGRAM, port);
      return;
    }
    s = net::Socket{::socket(AF_INET6, SOCK_DGRAM, 0)};
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    EXPECT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&bound), &length);
    port = net::port_of(bound);
  }
  // One datagram to PORT on loopback (127.0.0.1, or ::1 for an IPv6 peer).
  void send_to(std::uint16_t to, const std::string& datagram) const {
    sockaddr_storage address{};
    address.ss_family = static_cast<decltype(address.ss_family)>(family);
    socklen_t length = sizeof(sockaddr_in);
    if (family == AF_INET6) {
      auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
      v6.sin6_addr = in6addr_loopback;
      v6.sin6_port = htons(to);
      length = sizeof(sockaddr_in6);
    } else {
      auto& v4 = reinterpret_cast<sockaddr_in&>(address);
      v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      v4.sin_port = htons(to);
    }
    ASSERT_EQ(::sendto(s.get(), datagram.data(), static_cast<int>(datagram.size()), 0,
                       reinterpret_cast<sockaddr*>(&address), length),
              static_cast<int>(datagram.size()));
  }
  // The next datagram, or nothing by the deadline.
  [[nodiscard]] std::optional<std::string> receive(std::chrono::milliseconds patience) const {
    if (!harness::wait_readable(s.get(), harness::Clock::now() + patience)) return std::nullopt;
    char buffer[65536];
    const auto n = ::recv(s.get(), buffer, static_cast<int>(sizeof buffer), 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }
};

// A reading in our sensor's format: SEQUENCE,SENT_AT,AX,AY,AZ.
std::string reading(std::uint64_t sequence, double ax = 0, double ay = 0, double az = 9.81) {
  return fmt::format("{},{:.6f},{:.3f},{:.3f},{:.3f}\n", sequence,
                     0.02 * static_cast<double>(sequence), ax, ay, az);
}

std::string last_line(const std::string& out) {
  std::string text = out;
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++count;
  return count;
}

// The dashboard's last line, once it has read all that was SENT and been
// stopped with SIGTERM. Our build says "rate 0/s" after a whole second with
// nothing to read. Another program's report is not the contract's words, but
// it comes once a second: a line read a second after the stream was sent
// comes after the stream was read (and 3 s on, the dashboard is stopped anyway).
std::string summary_after_the_stream(Child& dashboard,
                                     harness::Clock::time_point sent = harness::Clock::now()) {
  if (own_build(kDashboard)) {
    EXPECT_TRUE(dashboard.wait_for_line("rate 0/s")) << dashboard.out();
  } else {
    for (auto now = harness::Clock::now(); now - sent < 3s; now = harness::Clock::now()) {
      const auto line = dashboard.read_line(
          std::chrono::duration_cast<std::chrono::milliseconds>(sent + 3s - now));
      if (!line || harness::Clock::now() - sent >= 1s) break;
    }
  }
  if (!dashboard.running()) {
    ADD_FAILURE() << "the dashboard is no longer running: " << exit_text(dashboard.wait())
                  << "; its stderr:\n"
                  << dashboard.err();
    return last_line(dashboard.out());
  }
  dashboard.signal(SIGTERM);
  const auto code = dashboard.wait(1500ms);
  if (code != 0) ADD_FAILURE() << "after SIGTERM " << exit_text(code) << " (expected: exit 0)";
  return last_line(dashboard.out());
}

// The number after WORD in TEXT ("dropped 12" -> 12), or -1.
long long number_after(const std::string& text, const std::string& word) {
  const std::size_t at = text.find(word + " ");
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + word.size() + 1));
}

std::string port_text(std::uint16_t port) { return std::to_string(port); }

// Each reading by hand, to the dashboard's port.
std::string by_hand_readings(std::uint16_t port, const std::string& sequences) {
  return "for n in " + sequences + R"(; do printf "$n,0.0,0,0,9.8\n" | nc -u -w1 127.0.0.1 )" +
         port_text(port) + "; done";
}

}  // namespace

// --- dashboard's stages ----------------------------------------------------------

class DashboardStages : public harness::Stages {};

TEST_F(DashboardStages, prints_port) {
  harness::hint(
      "bind a SOCK_DGRAM socket to --port 0, read the port back with getsockname, print "
      "'port N' and flush (extras-udp-stream/README.md, 'Try it'; it binds as Spoon 2's "
      "udp_server does)");
  harness::by_hand(shown_command(kDashboard) + " --port 0");
  Child dashboard(kDashboard, {"--port", "0"});
  dashboard.port();
}

TEST_F(DashboardStages, counts_a_clean_stream) {
  harness::hint(
      "recvfrom each datagram, one reading 'SEQUENCE,SENT_AT,AX,AY,AZ'; on SIGTERM print the "
      "last line 'received N, lost L, reordered R, duplicated D' and exit 0 "
      "(extras-udp-stream/README.md, 'The format: one reading, one datagram, one line of text')");
  Child dashboard(kDashboard, {"--port", "0"});
  const auto port = dashboard.port();
  harness::by_hand(by_hand_readings(port, "0 1 2") + "; kill -TERM <its pid>");
  const UdpPeer phone;
  for (int sequence = 0; sequence < 20; ++sequence)
    phone.send_to(port, reading(sequence));
  STAGE_EXPECT(same_bytes({}, "received 20, lost 0, reordered 0, duplicated 0",
                          summary_after_the_stream(dashboard)))
      << "\n(its last line, after 20 readings numbered 0 to 19, and SIGTERM)";
}

// The crafted stream starts at 100, as when the dashboard starts after the
// phone: what came before it is not lost. Then: 104 overtakes 103, 106 comes
// twice, 107 and 108 go missing and 108 comes late, 110 comes twice, 112 is
// lost, 114 overtakes 113, and 115 comes twice.
TEST_F(DashboardStages, counts_lost_reordered_and_duplicated) {
  harness::hint(
      "from the sequence numbers: higher than any so far is new (the numbers skipped are lost, "
      "for now); lower and not seen is late (reordered: one fewer lost); seen before is a "
      "duplicate (extras-udp-stream/README.md, 'What a sequence number buys')");
  struct Stream {
    std::vector<int> sequences;
    std::string summary;
  };
  const std::vector<Stream> streams = {
      {{0, 1, 2, 4, 5, 7}, "received 6, lost 2, reordered 0, duplicated 0"},
      {{0, 1, 3, 2, 4}, "received 5, lost 0, reordered 1, duplicated 0"},
      {{0, 1, 1, 2, 2, 3}, "received 6, lost 0, reordered 0, duplicated 2"},
      {{100, 101, 102, 104, 103, 105, 106, 106, 109, 110, 108, 110, 111, 114, 113, 115, 115},
       "received 17, lost 2, reordered 3, duplicated 3"}};
  // A dashboard for each stream, all at once: one second of quiet for all.
  std::vector<std::unique_ptr<Child>> dashboards;
  const UdpPeer phone;
  for (const Stream& stream : streams) {
    dashboards.push_back(
        std::make_unique<Child>(kDashboard, std::vector<std::string>{"--port", "0"}));
    for (const int sequence : stream.sequences)
      phone.send_to(dashboards.back()->port(), reading(sequence));
  }
  harness::by_hand(by_hand_readings(dashboards.front()->port(), "0 1 2 4 5 7") +
                   "; kill -TERM <its pid>");
  const auto sent = harness::Clock::now();
  for (std::size_t i = 0; i < streams.size(); ++i) {
    std::string shown;
    for (const int sequence : streams[i].sequences)
      shown += (shown.empty() ? "" : " ") + std::to_string(sequence);
    STAGE_EXPECT(same_bytes({}, streams[i].summary, summary_after_the_stream(*dashboards[i], sent)))
        << "\n(its last line, after readings numbered " << shown << ")";
  }
}

TEST_F(DashboardStages, counts_a_bad_datagram_and_never_crashes) {
  harness::hint(
      "any bytes may come to a UDP port: a datagram that is not a reading (not text, not five "
      "numbers) is counted as bad and shown once, and the next reading is read as ever "
      "(extras-udp-stream/README.md, 'Try it')");
  Child dashboard(kDashboard, {"--port", "0"});
  const auto port = dashboard.port();
  harness::by_hand("printf 'hello\\n' | nc -u -w1 127.0.0.1 " + port_text(port) + "; " +
                   by_hand_readings(port, "1"));
  const UdpPeer peer;
  std::mt19937 random(17);
  std::string noise(1000, '\0');
  for (char& c : noise)
    c = static_cast<char>(random());
  // Not a reading, in any program's eyes.
  std::vector<std::string> bad = {
      "hello\x1b[2J\n", "", noise, std::string(65000, '7'), "not,a,reading,at,all\n", ",,,,\n",
      "1;0.5;0;0;9.8\n"};
  if (own_build(kDashboard))  // and in ours, these too
    bad.insert(bad.end(),
               {"1,2,3\n", "1,0.5,nan,0,9.8\n", "1,0.5,inf,0,9.8\n", "1,0.5,1e999,0,9.8\n",
                "1,0.5,1e300,0,9.8\n",  // no phone
                "1,0.5,0,0,9.8,\n", "-1,0.5,0,0,9.8\n", "0x10,0.5,0,0,9.8\n",
                "1,0.5,0,0,9.8\n2,0.6,0,0,9.8\n", std::string("1,0.5,0,0\0,9.8\n", 15)});
  for (const std::string& datagram : bad)
    peer.send_to(port, datagram);
  peer.send_to(port, reading(1));  // and it still reads a good one
  STAGE_EXPECT(same_bytes({}, "received 1, lost 0, reordered 0, duplicated 0",
                          summary_after_the_stream(dashboard)))
      << "\n(its last line, after " << bad.size() << " bad datagrams and one reading)";
  if (!own_build(kDashboard)) return;
  const std::string out = dashboard.out();
  EXPECT_EQ(count_of(out, "bad datagram from 127.0.0.1:" + std::to_string(peer.port)), 1u) << out;
  EXPECT_NE(out.find(R"("hello\x1b[2J\x0a")"), std::string::npos)
      << out;  // no escape reaches the terminal
  EXPECT_NE(out.find(fmt::format("bad {}\n", bad.size())), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("{} bad datagrams (not readings)\n", bad.size())),
            std::string::npos)
      << out;
}

TEST_F(DashboardStages, prints_the_totals_on_sigterm) {
  harness::hint(
      "SIGINT or SIGTERM: print the last line 'received N, lost L, reordered R, duplicated D' "
      "and exit 0 within a second, also while waiting in poll or recvfrom "
      "(extras-udp-stream/README.md, 'Try it')");
  for (const int signal : {SIGTERM, SIGINT}) {
    Child dashboard(kDashboard, {"--port", "0"});
    harness::by_hand(shown_command(kDashboard) + " --port 0 & sleep 1; kill -" +
                     (signal == SIGTERM ? "TERM" : "INT") + " $!; wait $!; echo \"exit $?\"");
    dashboard.port();
    dashboard.signal(signal);
    const auto code = dashboard.wait(1500ms);
    const std::string name = signal == SIGTERM ? "SIGTERM" : "SIGINT";
    if (code != 0)
      ADD_FAILURE() << "after " << name << " " << exit_text(code)
                    << " (expected: exit 0 within 1 s)";
    STAGE_EXPECT(
        same_bytes({}, "received 0, lost 0, reordered 0, duplicated 0", last_line(dashboard.out())))
        << "\n(its last line, after " << name << " before any reading)";
  }
}

TEST_F(DashboardStages, receives_over_ipv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  harness::hint(
      "bind to :: with IPV6_V6ONLY off, as Spoon 2's udp_server does: readings from IPv4 and "
      "IPv6 phones alike (extras-udp-stream/README.md, 'Try it')");
  Child dashboard(kDashboard, {"--port", "0"});
  const auto port = dashboard.port();
  harness::by_hand("printf '0,0.0,0,0,9.8\\n' | nc -u -w1 ::1 " + port_text(port));
  const UdpPeer phone(AF_INET6);
  if (own_build(kDashboard)) phone.send_to(port, "not a reading\n");
  phone.send_to(port, reading(0));
  STAGE_EXPECT(same_bytes({}, "received 1, lost 0, reordered 0, duplicated 0",
                          summary_after_the_stream(dashboard)))
      << "\n(its last line, after one reading from [::1])";
  if (own_build(kDashboard)) {
    EXPECT_NE(dashboard.out().find("bad datagram from [::1]:" + std::to_string(phone.port)),
              std::string::npos)
        << dashboard.out();
  }
}

TEST_F(DashboardStages, refuses_a_bad_command_line) {
  harness::refuses_bad_command_lines(kDashboard);
}

// --- sensor's stages -------------------------------------------------------------

// A datagram that is one reading in the README's format, SEQUENCE,SENT_AT,AX,AY,AZ
// and a newline: in our build, SENT_AT with 6 decimals and the values with 3.
bool is_a_reading(const std::string& datagram, std::uint64_t& sequence) {
  static const std::regex ours(
      R"(([0-9]+),[0-9]+\.[0-9]{6},(-?[0-9]+\.[0-9]{3},){2}-?[0-9]+\.[0-9]{3}\n)");
  static const std::regex any(
      R"(([0-9]+),[0-9]+(\.[0-9]+)?(,-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?){3}\n)");
  std::smatch match;
  if (!std::regex_match(datagram, match, own_build(kSensor) ? ours : any)) return false;
  sequence = std::stoull(match[1]);
  return true;
}

struct Arrived {
  std::vector<std::uint64_t> sequences;
  std::vector<harness::Clock::time_point> times;
};

// Reads what SENSOR sends to PEER until it has exited and nothing more comes:
// each reading's sequence number and arrival time, in the order they came.
Arrived readings_from(Child& sensor, const UdpPeer& peer) {
  // Read first, check after: a slow reader (under a sanitizer, on a busy
  // machine) would let the socket's buffer fill, and the system drop what
  // does not fit — a loss the sensor did not make.
  std::vector<std::string> datagrams;
  std::vector<harness::Clock::time_point> times;
  while (true) {
    // Loopback delivers a datagram before sendto returns: once the sensor has
    // exited, all it sent is already waiting here.
    const bool exited = !sensor.running();
    const auto datagram = peer.receive(exited ? 0ms : 100ms);
    if (!datagram && exited) break;
    if (datagram) {
      datagrams.push_back(*datagram);
      times.push_back(harness::Clock::now());
    }
  }
  const auto code = sensor.wait();
  if (code != 0) ADD_FAILURE() << exit_text(code) << " (expected 0); its stderr:\n" << sensor.err();
  Arrived arrived;
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    std::uint64_t sequence = 0;
    if (!is_a_reading(datagrams[i], sequence)) {
      ADD_FAILURE() << "datagram " << i + 1 << " is not one reading: " << visible(datagrams[i])
                    << "\n  expected SEQUENCE,SENT_AT,AX,AY,AZ and a newline, such as "
                    << visible("42,0.840013,-0.031,0.012,9.807\n");
      continue;
    }
    arrived.sequences.push_back(sequence);
    arrived.times.push_back(times[i]);
  }
  return arrived;
}

std::string numbers_text(const std::vector<std::uint64_t>& numbers) {
  std::string text;
  for (std::size_t i = 0; i < numbers.size() && i < 40; ++i)
    text += (text.empty() ? "" : " ") + std::to_string(numbers[i]);
  return numbers.size() > 40 ? text + " ..." : text;
}

std::vector<std::uint64_t> zero_to(std::uint64_t end) {
  std::vector<std::uint64_t> numbers(end);
  for (std::uint64_t i = 0; i < end; ++i)
    numbers[i] = i;
  return numbers;
}

// How to watch a sensor by hand: nc listens, the sensor sends to it.
std::string by_hand_sensor(std::uint16_t port, const std::string& options) {
  return "nc -u -l " + port_text(port) + " & " + shown_command(kSensor) +
         " --host 127.0.0.1 --port " + port_text(port) + " " + options;
}

class SensorStages : public harness::Stages {};

TEST_F(SensorStages, sends_readings_as_csv_lines) {
  harness::hint(
      "sendto the --host and --port, one reading a datagram: 'SEQUENCE,SENT_AT,AX,AY,AZ' and a "
      "newline, numbered from 0 (extras-udp-stream/README.md, 'The format: one reading, one "
      "datagram, one line of text')");
  const UdpPeer dashboard;
  harness::by_hand(by_hand_sensor(dashboard.port, ""));
  Child sensor(kSensor, {"--host", "127.0.0.1", "--port", port_text(dashboard.port)});
  for (std::uint64_t expected = 0; expected < 3; ++expected) {
    const auto datagram = dashboard.receive(harness::kPatience);
    if (!datagram) {
      ADD_FAILURE() << "reading " << expected << " did not come within 10 s";
      return;
    }
    std::uint64_t sequence = 0;
    if (!is_a_reading(*datagram, sequence))
      ADD_FAILURE() << "datagram " << expected + 1 << " is not one reading: " << visible(*datagram)
                    << "\n  expected SEQUENCE,SENT_AT,AX,AY,AZ and a newline, such as "
                    << visible("42,0.840013,-0.031,0.012,9.807\n");
    else if (sequence != expected)
      ADD_FAILURE() << "datagram " << expected + 1 << " is numbered " << sequence << ", expected "
                    << expected << ": " << visible(*datagram);
  }
}

TEST_F(SensorStages, stops_after_count_readings) {
  harness::hint(
      "--count N: send readings 0 to N-1, then exit 0 (extras-udp-stream/README.md, 'Try it')");
  const UdpPeer dashboard;
  harness::by_hand(by_hand_sensor(dashboard.port, "--count 10"));
  Child sensor(kSensor,
               {"--host", "127.0.0.1", "--port", port_text(dashboard.port), "--count", "10"});
  const auto arrived = readings_from(sensor, dashboard);
  if (arrived.sequences != zero_to(10))
    ADD_FAILURE() << "the readings that came were numbered " << numbers_text(arrived.sequences)
                  << "\n  expected 0 1 2 3 4 5 6 7 8 9";
  if (own_build(kSensor)) {
    EXPECT_NE(sensor.out().find("sent 10 readings to 127.0.0.1:" + port_text(dashboard.port) +
                                " (dropped 0 on purpose, swapped 0)"),
              std::string::npos)
        << sensor.out();
  }
}

// Roughly: a sensor that ignores --rate sends 50 a second, or as fast as it
// can; either falls outside these bounds, which a busy machine does not.
TEST_F(SensorStages, keeps_to_the_rate) {
  harness::hint(
      "--rate HZ readings a second, at a steady pace: reading n is due n/HZ seconds after the "
      "start (extras-udp-stream/README.md, 'The format: one reading, one datagram, one line of "
      "text')");
  const UdpPeer dashboard;
  harness::by_hand(by_hand_sensor(dashboard.port, "--rate 10 --count 20"));
  struct Pace {
    std::string rate;
    int count;
    double shortest;  // seconds from the first reading to the last
    double longest;
  };
  for (const Pace& pace : {Pace{"250", 51, 0.14, 0.6}, Pace{"10", 4, 0.21, 0.9}}) {
    Child sensor(kSensor, {"--host", "127.0.0.1", "--port", port_text(dashboard.port), "--rate",
                           pace.rate, "--count", std::to_string(pace.count)});
    const auto arrived = readings_from(sensor, dashboard);
    ASSERT_EQ(arrived.sequences.size(), static_cast<std::size_t>(pace.count))
        << "readings that came, with --rate " << pace.rate << " --count " << pace.count;
    const double took =
        std::chrono::duration<double>(arrived.times.back() - arrived.times.front()).count();
    if (took < pace.shortest || took > pace.longest)
      ADD_FAILURE() << "with --rate " << pace.rate << " --count " << pace.count << ", "
                    << pace.count << " readings took " << fmt::format("{:.3f}", took)
                    << " s from the first to the last\n  expected about "
                    << fmt::format("{:.3f}", (pace.count - 1) / std::stod(pace.rate)) << " s (from "
                    << pace.shortest << " to " << pace.longest << ")";
  }
}

// With a fixed seed (ours) the dice fall the same way every run; with any
// seed, 500 readings at 10% lose 50 +- 6.7 (one standard deviation): the
// bounds below are 4.5 of them away, so the stage holds for any program.
TEST_F(SensorStages, drop_loses_about_a_tenth) {
  harness::hint(
      "--drop P: throw each reading away with probability P instead of sending it, and still "
      "number it, so the gap shows (extras-udp-stream/README.md, 'The format')");
  const UdpPeer dashboard;
  harness::by_hand(by_hand_sensor(dashboard.port, "--count 50 --drop 0.1"));
  std::vector<std::string> args = {"--host",  "127.0.0.1", "--port", port_text(dashboard.port),
                                   "--count", "500",       "--rate", kRate,
                                   "--drop",  "0.1"};
  if (own_build(kSensor)) args.insert(args.end(), {"--seed", "7"});  // --seed is ours
  Child sensor(kSensor, args);
  const auto numbers = readings_from(sensor, dashboard).sequences;
  const std::set<std::uint64_t> distinct(numbers.begin(), numbers.end());
  EXPECT_EQ(distinct.size(), numbers.size()) << "a reading sent twice";
  EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end())) << "reordered without --reorder";
  EXPECT_TRUE(numbers.empty() || numbers.back() < 500) << "numbered beyond 499";
  const long long lost = 500 - static_cast<long long>(numbers.size());
  if (lost < 20 || lost > 80)
    ADD_FAILURE() << "of 500 readings with --drop 0.1, " << lost
                  << " did not come\n  expected about 50 (from 20 to 80), a gap in the numbers "
                     "for each";
  if (own_build(kSensor)) {
    EXPECT_EQ(number_after(sensor.out(), "dropped"), lost) << sensor.out();
    EXPECT_EQ(number_after(sensor.out(), "sent"), static_cast<long long>(numbers.size()));
  }
}

TEST_F(SensorStages, reorder_swaps_readings) {
  harness::hint(
      "--reorder P: with probability P, hold a reading back and send it after the next one; "
      "lose none (extras-udp-stream/README.md, 'Try it')");
  const UdpPeer dashboard;
  harness::by_hand(by_hand_sensor(dashboard.port, "--count 20 --reorder 0.3"));
  std::vector<std::string> args = {"--host",    "127.0.0.1", "--port", port_text(dashboard.port),
                                   "--count",   "200",       "--rate", kRate,
                                   "--reorder", "0.3"};
  if (own_build(kSensor)) args.insert(args.end(), {"--seed", "3"});
  Child sensor(kSensor, args);
  const auto numbers = readings_from(sensor, dashboard).sequences;
  auto sorted = numbers;
  std::ranges::sort(sorted);
  if (sorted != zero_to(200))
    ADD_FAILURE() << "of 200 readings, " << numbers.size()
                  << " came; expected each of 0 to 199 once: " << numbers_text(numbers);
  long long swapped = 0;
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) {
    if (numbers[i] < numbers[i + 1]) continue;
    if (own_build(kSensor)) {
      EXPECT_EQ(numbers[i], numbers[i + 1] + 1) << "only neighbours swap, at " << i;
    }
    ++swapped;
  }
  if (swapped < 10)  // about 200 * 0.3 / 1.3 in ours
    ADD_FAILURE() << "with --reorder 0.3, " << swapped
                  << " of 200 readings came before a lower-numbered one; expected dozens: "
                  << numbers_text(numbers);
  if (own_build(kSensor)) {
    EXPECT_EQ(number_after(sensor.out(), "swapped"), swapped) << sensor.out();
  }
}

TEST_F(SensorStages, sends_over_ipv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  harness::hint(
      "resolve --host with getaddrinfo (AF_UNSPEC) and make the socket of the family it returns: "
      "--host ::1 is IPv6 (Spoon 2's udp_client does the same)");
  const UdpPeer dashboard(AF_INET6);
  harness::by_hand("nc -6 -u -l " + port_text(dashboard.port) + " & " + shown_command(kSensor) +
                   " --host ::1 --port " + port_text(dashboard.port) + " --count 3");
  Child sensor(kSensor, {"--host", "::1", "--port", port_text(dashboard.port), "--count", "3"});
  const auto numbers = readings_from(sensor, dashboard).sequences;
  if (numbers != zero_to(3))
    ADD_FAILURE() << "the readings that came to ::1 were numbered " << numbers_text(numbers)
                  << "\n  expected 0 1 2";
  if (own_build(kSensor)) {
    EXPECT_NE(sensor.out().find("to [::1]:"), std::string::npos) << sensor.out();
  }
}

TEST_F(SensorStages, refuses_a_bad_command_line) {
  auto bad = harness::bad_port_command_lines();
  bad.insert(bad.end(), {{"--rate", "fast"},
                         {"--count", "ten"},
                         {"--count", "1.5"},
                         {"--drop", "1.1"},
                         {"--drop", "-0.1"},
                         {"--reorder", "half"}});
  harness::refuses_bad_command_lines(kSensor, bad, "--drop 1.1");
}

// --- beyond the stages: both programs, --help and bad command lines --------------------------

class EveryStreamProgram : public testing::TestWithParam<std::string> {};

TEST_P(EveryStreamProgram, HelpPrintsUsageToStdoutAndExitsZero) {
  const auto result = harness::run(GetParam(), {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("usage:"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--port"), std::string::npos) << result.out;
  EXPECT_EQ(result.err, "");
}

TEST_P(EveryStreamProgram, BadCommandLinesPrintOneErrorLineAndExitTwo) {
  std::vector<std::vector<std::string>> bad = {{"--bogus"},       {"--port"}, {"--port", "70000"},
                                               {"--port", "abc"}, {"stray"},  {"--host", ""}};
  if (GetParam() == "extras-udp-stream/sensor")
    bad.insert(bad.end(), {{"--rate", "0"},
                           {"--rate", "fast"},
                           {"--rate", "1e9"},
                           {"--count", "0"},
                           {"--count", "1.5"},
                           {"--count", "ten"},
                           {"--drop", "1.1"},
                           {"--drop", "-0.1"},
                           {"--reorder", "half"},
                           {"--seed", "-1"},
                           {"--seed", "2.5"},
                           {"--drop", "0.1", "--drop", "0.2"}});
  for (const auto& args : bad) {
    const auto result = harness::run(GetParam(), args);
    EXPECT_EQ(result.exit_code, 2) << testing::PrintToString(args);
    EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
    EXPECT_EQ(count_of(result.err, "\n"), 2u) << result.err;  // the error, and the hint
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");  // nothing bound, nothing sent, nothing said
  }
}

INSTANTIATE_TEST_SUITE_P(UdpStream, EveryStreamProgram,
                         testing::Values("extras-udp-stream/sensor", "extras-udp-stream/dashboard"),
                         [](const auto& info) {
                           return info.param.substr(info.param.find('/') + 1);
                         });

// --- dashboard ----------------------------------------------------------------

TEST(Dashboard, PrintsTheRateAndTheCountsOnceASecond) {
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const UdpPeer phone;
  for (const int sequence : {0, 2, 1})
    phone.send_to(port, reading(sequence));
  const auto report = dashboard.wait_for_line("rate ");
  ASSERT_TRUE(report) << dashboard.out();
  // (Three datagrams sent at once may yet straddle the turn of a second.)
  EXPECT_TRUE(std::regex_match(*report, std::regex(R"(rate [1-3]/s, lost [01], reordered [01], )"
                                                   R"(duplicated 0, jitter [0-9]+\.[0-9]{2} ms)")))
      << *report;
  // Once the stream stops, one report says so, and then it is quiet.
  EXPECT_TRUE(dashboard.wait_for_line("rate 0/s, lost 0, reordered 1, duplicated 0"));
  EXPECT_EQ(dashboard.read_line(1500ms), std::nullopt) << "a report about nothing";
  dashboard.signal(SIGINT);
  EXPECT_EQ(dashboard.wait(), 0);
}

TEST(Dashboard, ASequenceThatStartsAgainFarBelowIsANewStreamNotAThousandLateReadings) {
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const UdpPeer phone;
  for (const int sequence : {5000, 5001, 0, 1, 3})  // the phone's app restarted
    phone.send_to(port, reading(sequence));
  EXPECT_EQ(summary_after_the_stream(dashboard), "received 5, lost 1, reordered 0, duplicated 0");
  EXPECT_NE(dashboard.out().find("the sequence started again at 0"), std::string::npos);
}

TEST(Dashboard, ReadsPhoneAppsThatSendNoSequenceNumber) {
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const UdpPeer phone;
  phone.send_to(port, "12.345,0.1,0.2,9.8\n");                 // TIME,AX,AY,AZ
  phone.send_to(port, "1700000000123,0.1,0.2,9.8\r\n");        // TIME in ms since 1970
  phone.send_to(port, "890.71558, 3, 0.076, 9.706, 0.863\n");  // Sensorstream: the accelerometer
  phone.send_to(port, "890.73, 1, -20.1, 57.5, 12.0, 3, 0.07, 9.70, 0.86, 4, -0.005, 0.0, 0.001\n");
  phone.send_to(port, "890.75, 4, -0.005, 0.0, 0.001\n");  // Sensorstream without ID 3: bad
  EXPECT_EQ(summary_after_the_stream(dashboard), "received 4, lost 0, reordered 0, duplicated 0");
  EXPECT_NE(dashboard.out().find("4 readings had no sequence number"), std::string::npos)
      << dashboard.out();
  EXPECT_NE(dashboard.out().find("1 bad datagrams"), std::string::npos) << dashboard.out();
}

TEST(Dashboard, NamesATiltAndAShake) {
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const UdpPeer phone;
  std::uint64_t sequence = 0;
  // A phone tilts in half a second or so, not from one reading to the next
  // (which is a jolt, and reads as a shake): 25 readings, at 50 a second.
  const auto tilted = [&](double degrees) {
    const double roll = degrees * 3.14159265 / 180;
    phone.send_to(port, reading(sequence++, -9.81 * std::sin(roll), 0, 9.81 * std::cos(roll)));
  };
  for (int i = 0; i < 20; ++i)  // flat on the table
    tilted(0);
  for (int i = 1; i <= 80; ++i)  // the right edge goes 40 degrees down
    tilted(40 * std::min(1.0, i / 25.0));
  ASSERT_TRUE(dashboard.wait_for_line("event: tilt right")) << dashboard.out();
  for (int i = 1; i <= 80; ++i)  // and back
    tilted(40 * std::max(0.0, 1 - i / 25.0));
  ASSERT_TRUE(dashboard.wait_for_line("event: level")) << dashboard.out();
  for (int i = 0; i < 30; ++i)  // shaken hard, left and right
    phone.send_to(port, reading(sequence++, i % 2 == 0 ? 15 : -15, 0, 9.81));
  ASSERT_TRUE(dashboard.wait_for_line("event: shake")) << dashboard.out();
  summary_after_the_stream(dashboard);
  // A shake swings the average of the readings, but is not told as a tilt.
  EXPECT_EQ(count_of(dashboard.out(), "event: "), 3u) << dashboard.out();
}

TEST(Dashboard, APortInUseIsAnErrorThatSaysSo) {
  const UdpPeer taken;
  const auto result = harness::run("extras-udp-stream/dashboard",
                                   {"--host", "127.0.0.1", "--port", std::to_string(taken.port)});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(
      result.err.starts_with("error: cannot bind to port " + std::to_string(taken.port) + ": "))
      << result.err;
}

// --- sensor -------------------------------------------------------------------

TEST(Sensor, StreamsToNobodyWithoutAnError) {
  std::uint16_t port = 0;
  {
    const UdpPeer gone;  // a port that was free a moment ago
    port = gone.port;
  }
  const auto result = harness::run("extras-udp-stream/sensor", {"--port", std::to_string(port),
                                                                "--count", "5", "--rate", "500"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("sent 5 readings"), std::string::npos) << result.out;
  EXPECT_EQ(result.err, "");
}

TEST(Sensor, StreamsUntilSigtermThenSaysHowManyItSent) {
  const UdpPeer dashboard;
  Child sensor("extras-udp-stream/sensor", {"--port", std::to_string(dashboard.port)});
  ASSERT_TRUE(dashboard.receive(harness::kPatience));  // it streams
  ASSERT_TRUE(dashboard.receive(harness::kPatience));
  sensor.signal(SIGTERM);
  EXPECT_EQ(sensor.wait(1500ms), 0);
  EXPECT_GE(number_after(sensor.out(), "sent"), 2) << sensor.out();
}

// --- the two together -----------------------------------------------------------

TEST(SensorAndDashboard, TheDashboardCountsWhatTheSensorDidToItsStream) {
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const auto sensor = harness::run("extras-udp-stream/sensor",
                                   {"--port", std::to_string(port), "--count", "500", "--rate",
                                    kRate, "--drop", "0.1", "--reorder", "0.1", "--seed", "11"});
  ASSERT_EQ(sensor.exit_code, 0) << sensor.err;
  const std::string summary = summary_after_the_stream(dashboard);
  EXPECT_EQ(number_after(summary, "received"), number_after(sensor.out, "sent")) << summary;
  EXPECT_EQ(number_after(summary, "reordered"), number_after(sensor.out, "swapped")) << summary;
  EXPECT_EQ(number_after(summary, "duplicated"), 0) << summary;
  // A reading dropped at the very end leaves no gap to tell it by.
  EXPECT_LE(number_after(summary, "lost"), number_after(sensor.out, "dropped")) << summary;
  EXPECT_GE(number_after(summary, "lost"), number_after(sensor.out, "dropped") - 5) << summary;
}
