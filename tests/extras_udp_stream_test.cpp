// tests/extras_udp_stream_test.cpp — the phone and the PC of the talk's last
// slide, held to the contract: sensor streams, dashboard counts.
//
// The dashboard's counts are only final once it has seen the whole stream,
// and UDP gives no end: the tests wait for its "rate 0/s" report, which it
// prints after a whole second with nothing to read — so everything sent
// before has been read and counted.
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

using harness::Child;
using namespace std::chrono_literals;

namespace {

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

// The dashboard has read all that was sent, then stops: its last line.
std::string summary_after_the_stream(Child& dashboard) {
  EXPECT_TRUE(dashboard.wait_for_line("rate 0/s")) << dashboard.out();
  dashboard.signal(SIGTERM);
  EXPECT_EQ(dashboard.wait(), 0) << dashboard.err();
  return last_line(dashboard.out());
}

// The number after WORD in TEXT ("dropped 12" -> 12), or -1.
long long number_after(const std::string& text, const std::string& word) {
  const std::size_t at = text.find(word + " ");
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + word.size() + 1));
}

}  // namespace

// --- Both programs: --help, and bad command lines --------------------------

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

// The crafted stream starts at 100, as when the dashboard starts after the
// phone: what came before it is not lost. Then: 104 overtakes 103, 106 comes
// twice, 107 and 108 go missing and 108 comes late, 110 comes twice, 112 is
// lost, 114 overtakes 113, and 115 comes twice.
TEST(Dashboard, CountsExactlyWhatWasLostReorderedAndDuplicated) {
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const UdpPeer phone;
  for (const int sequence :
       {100, 101, 102, 104, 103, 105, 106, 106, 109, 110, 108, 110, 111, 114, 113, 115, 115})
    phone.send_to(port, reading(sequence));
  EXPECT_EQ(summary_after_the_stream(dashboard), "received 17, lost 2, reordered 3, duplicated 3");
  EXPECT_EQ(dashboard.err(), "");
}

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

TEST(Dashboard, CountsBadDatagramsShowsTheFirstAndKeepsCounting) {
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const UdpPeer peer;
  std::mt19937 random(17);
  std::string noise(1000, '\0');
  for (char& c : noise)
    c = static_cast<char>(random());
  const std::vector<std::string> bad = {"hello\x1b[2J\n",
                                        "",
                                        noise,
                                        std::string(65000, '7'),
                                        "1,2,3\n",
                                        "1,0.5,nan,0,9.8\n",
                                        "1,0.5,inf,0,9.8\n",
                                        "1,0.5,1e999,0,9.8\n",
                                        "1,0.5,1e300,0,9.8\n",  // no phone
                                        ",,,,\n",
                                        "1,0.5,0,0,9.8,\n",
                                        "1;0.5;0;0;9.8\n",
                                        "-1,0.5,0,0,9.8\n",
                                        "0x10,0.5,0,0,9.8\n",
                                        "1,0.5,0,0,9.8\n2,0.6,0,0,9.8\n",
                                        std::string("1,0.5,0,0\0,9.8\n", 15)};
  for (const std::string& datagram : bad)
    peer.send_to(port, datagram);
  peer.send_to(port, reading(1));  // and it still reads a good one
  EXPECT_EQ(summary_after_the_stream(dashboard), "received 1, lost 0, reordered 0, duplicated 0");
  const std::string out = dashboard.out();
  EXPECT_EQ(count_of(out, "bad datagram from 127.0.0.1:" + std::to_string(peer.port)), 1u) << out;
  EXPECT_NE(out.find(R"("hello\x1b[2J\x0a")"), std::string::npos)
      << out;  // no escape reaches the terminal
  EXPECT_NE(out.find(fmt::format("bad {}\n", bad.size())), std::string::npos) << out;
  EXPECT_NE(out.find(fmt::format("{} bad datagrams (not readings)\n", bad.size())),
            std::string::npos)
      << out;
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

TEST(Dashboard, ReceivesOverIpv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
  const auto port = dashboard.port();
  const UdpPeer phone(AF_INET6);
  phone.send_to(port, "not a reading\n");
  phone.send_to(port, reading(0));
  EXPECT_EQ(summary_after_the_stream(dashboard), "received 1, lost 0, reordered 0, duplicated 0");
  EXPECT_NE(dashboard.out().find("bad datagram from [::1]:" + std::to_string(phone.port)),
            std::string::npos)
      << dashboard.out();
}

TEST(Dashboard, StopsOnSigtermOrSigintWithTheTotals) {
  for (const int signal : {SIGTERM, SIGINT}) {
    Child dashboard("extras-udp-stream/dashboard", {"--port", "0"});
    dashboard.port();
    dashboard.signal(signal);
    EXPECT_EQ(dashboard.wait(1500ms), 0) << "signal " << signal;
    EXPECT_EQ(last_line(dashboard.out()), "received 0, lost 0, reordered 0, duplicated 0");
  }
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

// Readings a second in the streaming tests: quick, and yet slow enough for a
// reader under Wine, where every poll and recv is a round trip to Wine's server.
const std::string kRate = "500";

// Reads what SENSOR sends to PEER until it has exited and nothing more comes:
// each datagram's sequence number, in the order they came.
std::vector<std::uint64_t> sequence_numbers(Child& sensor, const UdpPeer& peer) {
  // Read first, check after: a slow reader (under a sanitizer, on a busy
  // machine) would let the socket's buffer fill, and the system drop what
  // does not fit — a loss the sensor did not make.
  std::vector<std::string> datagrams;
  while (true) {
    // Loopback delivers a datagram before sendto returns: once the sensor has
    // exited, all it sent is already waiting here.
    const bool exited = !sensor.running();
    const auto datagram = peer.receive(exited ? 0ms : 100ms);
    if (!datagram && exited) break;
    if (datagram) datagrams.push_back(*datagram);
  }
  EXPECT_EQ(sensor.wait(), 0) << sensor.err();
  static const std::regex line(
      R"(([0-9]+),[0-9]+\.[0-9]{6},(-?[0-9]+\.[0-9]{3},){2}-?[0-9]+\.[0-9]{3}\n)");
  std::vector<std::uint64_t> numbers;
  for (const std::string& datagram : datagrams) {
    std::smatch match;
    EXPECT_TRUE(std::regex_match(datagram, match, line)) << datagram;  // one line, one reading
    if (!match.empty()) numbers.push_back(std::stoull(match[1]));
  }
  return numbers;
}

TEST(Sensor, SendsOneReadingADatagramNumberedFromZero) {
  const UdpPeer dashboard;
  Child sensor("extras-udp-stream/sensor",
               {"--port", std::to_string(dashboard.port), "--count", "20", "--rate", "1000"});
  const auto numbers = sequence_numbers(sensor, dashboard);
  std::vector<std::uint64_t> expected(20);
  for (std::uint64_t i = 0; i < 20; ++i)
    expected[i] = i;
  EXPECT_EQ(numbers, expected);
  EXPECT_NE(sensor.out().find("sent 20 readings to 127.0.0.1:" + std::to_string(dashboard.port) +
                              " (dropped 0 on purpose, swapped 0)"),
            std::string::npos)
      << sensor.out();
}

// With a fixed seed the dice fall the same way every run; with any seed,
// 1000 readings at 10% lose 100 +- 9.5 (one standard deviation): the bounds
// below are 4.7 of them away, so this test holds for any seed too.
TEST(Sensor, DropPointOneLosesAboutATenth) {
  const UdpPeer dashboard;
  Child sensor("extras-udp-stream/sensor",
               {"--port", std::to_string(dashboard.port), "--count", "1000", "--rate", kRate,
                "--drop", "0.1", "--seed", "7"});
  const auto numbers = sequence_numbers(sensor, dashboard);
  const std::set<std::uint64_t> distinct(numbers.begin(), numbers.end());
  EXPECT_EQ(distinct.size(), numbers.size()) << "a reading sent twice";
  EXPECT_TRUE(std::is_sorted(numbers.begin(), numbers.end())) << "reordered without --reorder";
  const long long lost = 1000 - static_cast<long long>(numbers.size());
  EXPECT_GE(lost, 55);
  EXPECT_LE(lost, 145);
  EXPECT_EQ(number_after(sensor.out(), "dropped"), lost) << sensor.out();
  EXPECT_EQ(number_after(sensor.out(), "sent"), static_cast<long long>(numbers.size()));
}

TEST(Sensor, ReorderSwapsAReadingWithTheNextAndLosesNone) {
  const UdpPeer dashboard;
  Child sensor("extras-udp-stream/sensor",
               {"--port", std::to_string(dashboard.port), "--count", "500", "--rate", kRate,
                "--reorder", "0.2", "--seed", "3"});
  const auto numbers = sequence_numbers(sensor, dashboard);
  ASSERT_EQ(numbers.size(), 500u);
  long long swapped = 0;
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) {
    if (numbers[i] < numbers[i + 1]) continue;
    EXPECT_EQ(numbers[i], numbers[i + 1] + 1) << "only neighbours swap, at " << i;
    ++swapped;
  }
  EXPECT_GT(swapped, 50);  // about 500 * 0.2 / 1.2
  EXPECT_EQ(number_after(sensor.out(), "swapped"), swapped) << sensor.out();
}

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

TEST(Sensor, StreamsOverIpv6) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  const UdpPeer dashboard(AF_INET6);
  Child sensor("extras-udp-stream/sensor",
               {"--host", "::1", "--port", std::to_string(dashboard.port), "--count", "3"});
  EXPECT_EQ(sequence_numbers(sensor, dashboard), (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_NE(sensor.out().find("to [::1]:"), std::string::npos) << sensor.out();
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
