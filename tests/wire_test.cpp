// tests/wire_test.cpp — the talk's Facts, seen on the wire (label wire).
//
// The Facts tests (facts_test.cpp) check what the socket calls return; these
// check what went between the two sides. Each test starts tcpdump on loopback,
// filtered to its own port (other tests talk on loopback at the same time),
// does one experiment, and reads the capture back with the reader in
// tests/wire/, line by line as build/tests/wire_events prints it:
//
//   client → server  SYN
//   server → client  SYN-ACK
//   client → server  ACK
//
// Capturing needs root or CAP_NET_RAW: without it the capture tests skip and
// say why (CI runs as root). The reader's own tests come first and run everywhere.
#include "tests/support/harness.hpp"
#include "tests/wire/pcap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#ifndef _WIN32
#include <netinet/tcp.h>
#include <unistd.h>

#include <csignal>
#endif

namespace {

// --- a capture built byte by byte, to test the reader on ---------------------

std::string be16(unsigned value) {
  return {static_cast<char>(value >> 8 & 0xffU), static_cast<char>(value & 0xffU)};
}
std::string u32(std::uint32_t value, bool big_endian) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i)
    bytes[big_endian ? 3 - i : i] = static_cast<char>(value >> (8 * i) & 0xffU);
  return bytes;
}

constexpr unsigned kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

std::string tcp(unsigned from, unsigned to, unsigned flags, const std::string& data = {}) {
  return be16(from) + be16(to) + std::string(8, '\0') + "\x50" + static_cast<char>(flags) +
         be16(65535) + std::string(4, '\0') + data;
}
std::string udp(unsigned from, unsigned to, const std::string& data) {
  return be16(from) + be16(to) + be16(8 + static_cast<unsigned>(data.size())) + be16(0) + data;
}
std::string ipv4(unsigned protocol, const std::string& payload) {
  return "\x45" + std::string(1, '\0') + be16(20 + static_cast<unsigned>(payload.size())) +
         std::string(4, '\0') + "\x40" + static_cast<char>(protocol) + std::string(2, '\0') +
         std::string("\x7f\0\0\x01\x7f\0\0\x01", 8) + payload;
}
std::string ipv6(unsigned next, const std::string& payload) {
  return "\x60" + std::string(3, '\0') + be16(static_cast<unsigned>(payload.size())) +
         static_cast<char>(next) + "\x40" + std::string(15, '\0') + "\x01" + std::string(15, '\0') +
         "\x01" + payload;
}
std::string icmp_port_unreachable(const std::string& refused_ipv4) {
  return std::string("\x03\x03", 2) + std::string(6, '\0') + refused_ipv4;
}
std::string icmpv6_port_unreachable(const std::string& refused_ipv6) {
  return std::string("\x01\x04", 2) + std::string(6, '\0') + refused_ipv6;
}

// Link-layer headers, as tcpdump writes them for each link type.
std::string ethernet(const std::string& ip) {
  return std::string(12, '\0') + be16((ip[0] & 0xf0) == 0x60 ? 0x86dd : 0x0800) + ip;
}
std::string linux_sll(const std::string& ip) {
  return std::string(14, '\0') + be16((ip[0] & 0xf0) == 0x60 ? 0x86dd : 0x0800) + ip;
}
std::string linux_sll2(const std::string& ip) {
  return be16((ip[0] & 0xf0) == 0x60 ? 0x86dd : 0x0800) + std::string(18, '\0') + ip;
}
std::string null_link(const std::string& ip, bool big_endian) {  // BSD lo0: AF_INET 2, AF_INET6 30
  return u32((ip[0] & 0xf0) == 0x60 ? 30 : 2, big_endian) + ip;
}

// A pcap file: its header, then one record per frame, a millisecond apart.
std::string pcap(std::uint32_t link_type, const std::vector<std::string>& frames,
                 bool big_endian = false) {
  std::string file = u32(0xa1b2c3d4, big_endian) +
                     std::string(big_endian ? "\0\x02\0\x04" : "\x02\0\x04\0", 4) +
                     u32(0, big_endian) + u32(0, big_endian) + u32(262144, big_endian) +
                     u32(link_type, big_endian);
  std::uint32_t microseconds = 0;
  for (const std::string& frame : frames) {
    const auto length = static_cast<std::uint32_t>(frame.size());
    file += u32(1700000000, big_endian) + u32(microseconds, big_endian) + u32(length, big_endian) +
            u32(length, big_endian) + frame;
    microseconds += 1000;
  }
  return file;
}

// The thank-you server's exchange, server on 12345, client on 40000.
std::vector<std::string> thank_you_exchange() {
  return {
      ipv4(6, tcp(40000, 12345, kSyn)),
      ipv4(6, tcp(12345, 40000, kSyn | kAck)),
      ipv4(6, tcp(40000, 12345, kAck)),
      ipv4(6, tcp(12345, 40000, kPsh | kAck, "Thank you for connecting")),
      ipv4(6, tcp(12345, 40000, kFin | kAck)),
      ipv4(6, tcp(40000, 12345, kFin | kPsh | kAck, "hi\r\n")),
      ipv4(6, tcp(40000, 12345, kRst)),
      ipv4(6, tcp(40001, 8080, kSyn)),  // someone else's: not shown
  };
}
const std::vector<std::string> kThankYouLines = {
    "client → server  SYN", "server → client  SYN-ACK",
    "client → server  ACK", "server → client  24 bytes \"Thank you for connecting\"",
    "server → client  FIN", "client → server  4 bytes \"hi\\r\\n\" + FIN",
    "client → server  RST",
};

std::vector<std::string> framed(const std::vector<std::string>& packets,
                                std::string (*frame)(const std::string&)) {
  std::vector<std::string> frames;
  for (const std::string& packet : packets)
    frames.push_back(frame(packet));
  return frames;
}

}  // namespace

TEST(WireReader, ReadsTcpOnLinuxLoopbackAsTheLinesOfTheConversation) {
  const std::string file = pcap(1, framed(thank_you_exchange(), ethernet));
  EXPECT_EQ(wire::conversation(wire::read_capture(file), 12345), kThankYouLines);
}

TEST(WireReader, ReadsEveryLinkTypeTcpdumpWritesForLoopback) {
  EXPECT_EQ(wire::conversation(
                wire::read_capture(pcap(113, framed(thank_you_exchange(), linux_sll))), 12345),
            kThankYouLines);
  EXPECT_EQ(wire::conversation(
                wire::read_capture(pcap(276, framed(thank_you_exchange(), linux_sll2))), 12345),
            kThankYouLines);
  for (const bool big_endian : {false, true}) {
    std::vector<std::string> frames;
    for (const std::string& packet : thank_you_exchange())
      frames.push_back(null_link(packet, big_endian));
    EXPECT_EQ(wire::conversation(wire::read_capture(pcap(0, frames, big_endian)), 12345),
              kThankYouLines)
        << (big_endian ? "big-endian" : "little-endian");
  }
}

TEST(WireReader, ReadsIpv6UdpAndIcmpPortUnreachable) {
  const std::string refused = udp(40000, 12345, "hello");
  const std::string file = pcap(1, framed(
                                       {
                                           ipv6(6, tcp(40000, 12345, kSyn)),
                                           ipv4(17, refused),
                                           ipv4(1, icmp_port_unreachable(ipv4(17, refused))),
                                           ipv6(17, udp(12345, 40000, "hello")),
                                           ipv6(58, icmpv6_port_unreachable(ipv6(17, refused))),
                                           ipv4(1, icmp_port_unreachable(ipv4(17, udp(1, 2, "x")))),
                                       },
                                       ethernet));
  EXPECT_EQ(wire::conversation(wire::read_capture(file), 12345),
            (std::vector<std::string>{
                "client → server  SYN",
                "client → server  UDP 5 bytes \"hello\"",
                "server → client  ICMP port unreachable",
                "server → client  UDP 5 bytes \"hello\"",
                "server → client  ICMP port unreachable",
            }));
}

TEST(WireReader, EscapesThePayloadAndShowsAtMostFortyBytes) {
  EXPECT_EQ(wire::quoted("a\r\n\t\\\"\x01\xff"), R"("a\r\n\t\\\"\x01\xff")");
  EXPECT_EQ(wire::quoted(std::string(40, 'x')), "\"" + std::string(40, 'x') + "\"");
  EXPECT_EQ(wire::quoted(std::string(41, 'x')), "\"" + std::string(40, 'x') + "\"…");
  const std::string file =
      pcap(1, {ethernet(ipv4(6, tcp(12345, 40000, kAck, std::string(100, 'y'))))});
  EXPECT_EQ(
      wire::conversation(wire::read_capture(file), 12345),
      std::vector<std::string>{"server → client  100 bytes \"" + std::string(40, 'y') + "\"…"});
}

TEST(WireReader, TimesCountFromTheFirstPacketOfThePort) {
  const std::string file = pcap(1, framed(thank_you_exchange(), ethernet));
  const std::vector<std::string> lines = wire::conversation(wire::read_capture(file), 12345, true);
  ASSERT_EQ(lines.size(), kThankYouLines.size());
  EXPECT_EQ(lines[0], "+0.000 client → server  SYN");
  EXPECT_EQ(lines[2], "+0.002 client → server  ACK");
}

TEST(WireReader, RefusesWhatIsNotAPcapCaptureAndKeepsPacketsBeforeACutRecord) {
  EXPECT_THROW(wire::read_capture("not a capture at all, not at all"), std::runtime_error);
  EXPECT_THROW(wire::read_capture(std::string("\x0a\x0d\x0d\x0a", 4) + std::string(40, '\0')),
               std::runtime_error);  // pcapng
  EXPECT_THROW(wire::read_capture(pcap(147, {})),
               std::runtime_error);  // a link type it does not know
  std::string file = pcap(1, framed(thank_you_exchange(), ethernet));
  file.resize(file.size() - 10);  // tcpdump stopped in the middle of its last record
  EXPECT_EQ(wire::conversation(wire::read_capture(file), 12345), kThankYouLines);
}

TEST(WireEvents, PrintsTheConversationOfOnePortAndFailsOnAnUnreadableCapture) {
  const auto dir = harness::temp_dir("wire");
  harness::write_file(dir / "thank_you.pcap", pcap(1, framed(thank_you_exchange(), ethernet)));
  harness::write_file(dir / "garbage.pcap", "garbage, not a capture");
  const harness::Result printed =
      harness::run("tests/wire_events", {(dir / "thank_you.pcap").string(), "12345"});
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  std::string expected;
  for (const std::string& line : kThankYouLines)
    expected += line + "\n";
  EXPECT_EQ(printed.out, expected);
  const harness::Result timed =
      harness::run("tests/wire_events", {"--times", (dir / "thank_you.pcap").string(), "12345"});
  EXPECT_TRUE(
      timed.out.starts_with("+0.000 client → server  SYN\n+0.001 server → client  SYN-ACK\n"))
      << timed.out;
  const harness::Result unreadable =
      harness::run("tests/wire_events", {(dir / "garbage.pcap").string(), "12345"});
  EXPECT_EQ(unreadable.exit_code, 1);
  EXPECT_TRUE(unreadable.err.starts_with("error: cannot read ")) << unreadable.err;
  const harness::Result missing =
      harness::run("tests/wire_events", {(dir / "none.pcap").string(), "12345"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(missing.err.starts_with("error: cannot open ")) << missing.err;
  const harness::Result bad =
      harness::run("tests/wire_events", {(dir / "thank_you.pcap").string(), "port"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(bad.err.starts_with("error: ")) << bad.err;
}
