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
#include <iostream>
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

std::string byte(unsigned value) { return {static_cast<char>(value & 0xffU)}; }

constexpr unsigned kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

std::string tcp(unsigned from, unsigned to, unsigned flags, const std::string& data = {}) {
  // Sequence and acknowledgement numbers 0; a 20-byte header (0x50); the flags.
  return be16(from) + be16(to) + std::string(8, '\0') + byte(0x50) + byte(flags) + be16(65535) +
         std::string(4, '\0') + data;
}
std::string udp(unsigned from, unsigned to, const std::string& data) {
  return be16(from) + be16(to) + be16(8 + static_cast<unsigned>(data.size())) + be16(0) + data;
}
std::string ipv4(unsigned protocol, const std::string& payload) {
  // Version 4, a 20-byte header (0x45); TTL 64; 127.0.0.1 to 127.0.0.1.
  return byte(0x45) + byte(0) + be16(20 + static_cast<unsigned>(payload.size())) +
         std::string(4, '\0') + byte(64) + byte(protocol) + std::string(2, '\0') +
         std::string("\x7f\0\0\x01\x7f\0\0\x01", 8) + payload;
}
std::string ipv6(unsigned next, const std::string& payload) {
  // Version 6; hop limit 64; ::1 to ::1.
  return byte(0x60) + std::string(3, '\0') + be16(static_cast<unsigned>(payload.size())) +
         byte(next) + byte(64) + std::string(15, '\0') + byte(1) + std::string(15, '\0') + byte(1) +
         payload;
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
  frames.reserve(packets.size());
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

TEST(WireReader, CountsTheBytesThatWentOverTheWireWhenTheCaptureKeptFewer) {
  // tcpdump -s 1024 keeps the start of each packet; the IP header says how long it was.
  std::string frame = ethernet(ipv4(6, tcp(12345, 40000, kAck, std::string(2000, 'y'))));
  frame.resize(14 + 20 + 20 + 10);
  std::string datagram = ethernet(ipv4(17, udp(40000, 12345, std::string(3000, 'z'))));
  datagram.resize(14 + 20 + 8 + 50);
  EXPECT_EQ(wire::conversation(wire::read_capture(pcap(1, {frame, datagram})), 12345),
            (std::vector<std::string>{
                "server → client  2000 bytes \"" + std::string(10, 'y') + "\"…",
                "client → server  UDP 3000 bytes \"" + std::string(40, 'z') + "\"…",
            }));
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

// --- the Facts on the wire ---------------------------------------------------

#ifndef _WIN32
namespace {

std::string tcpdump_path() {
  for (const char* path : {"/usr/bin/tcpdump", "/usr/sbin/tcpdump"})
    if (::access(path, X_OK) == 0) return path;
  return {};
}

// Why this machine cannot capture, or nothing when it can.
std::optional<std::string> cannot_capture() {
  if (tcpdump_path().empty())
    return "tcpdump is not installed (./workshop test installs it; Debian: apt-get install "
           "tcpdump)";
  // Capturing opens a raw packet socket: root, or CAP_NET_RAW (bit 13 of the
  // effective capabilities Linux lists in /proc/self/status).
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("CapEff:")) continue;
    const unsigned long long effective = std::stoull(line.substr(7), nullptr, 16);
    if ((effective >> 13 & 1U) != 0) return std::nullopt;
    return "capturing packets needs root or CAP_NET_RAW (CI runs these tests as root)";
  }
  if (::geteuid() == 0) return std::nullopt;
  return "capturing packets needs root or CAP_NET_RAW (CI runs these tests as root)";
}

#define SKIP_WITHOUT_CAPTURE()                                                         \
  do {                                                                                 \
    if (const std::optional<std::string> why = cannot_capture()) GTEST_SKIP() << *why; \
  } while (false)

// tcpdump on loopback, for one port: TCP and UDP to and from it, and the ICMP
// errors that quote it. It writes the capture to its stdout (-w -), which the
// Child collects; --immediate-mode hands each packet over as it comes, not a
// buffer-full later.
class Capture {
 public:
  explicit Capture(std::uint16_t port)
      : port_(port), marker_(harness::bound_to_loopback(SOCK_DGRAM, marker_port_)) {
    const std::string filter =
        fmt::format("port {} or udp port {} or icmp or icmp6", port_, marker_port_);
    tcpdump_.emplace(tcpdump_path(),
                     std::vector<std::string>{"-i", "lo", "--immediate-mode", "-U", "-s", "1024",
                                              "-B", "4096", "-n", "-w", "-", filter});
    // tcpdump says "listening on lo" once the filter is in place: from then on, nothing is missed.
    EXPECT_TRUE(tcpdump_->wait_for_err("listening on")) << tcpdump_->err();
  }

  // The packets so far, as wire_events prints them. A last datagram, to our
  // own marker port, closes the capture: once tcpdump has written it out, it
  // has written every packet before it, so we stop it without waiting on a clock.
  std::vector<std::string> lines() {
    const std::string marker = fmt::format("\nend of the capture of port {}\n", port_);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(marker_port_);
    EXPECT_EQ(::sendto(marker_.get(), marker.data(), marker.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(marker.size()));
    EXPECT_TRUE(tcpdump_->wait_for_line(marker.substr(1, marker.size() - 2)))
        << "tcpdump never wrote the marker; its stderr:\n"
        << tcpdump_->err();
    tcpdump_->signal(SIGINT);
    EXPECT_EQ(tcpdump_->wait(), 0) << tcpdump_->err();
    // A packet the kernel dropped (tcpdump too slow for its buffer) would make a false story.
    EXPECT_NE(tcpdump_->err().find("\n0 packets dropped by kernel"), std::string::npos)
        << tcpdump_->err();
    std::vector<std::string> lines = wire::conversation(wire::read_capture(tcpdump_->out()), port_);
    std::string all;
    for (const std::string& line : lines)
      all += "  " + line + "\n";
    testing::Test::RecordProperty("wire", all);  // the packets, in the XML report too
    std::cout << "on the wire (port " << port_ << "):\n" << all;
    return lines;
  }

 private:
  std::uint16_t port_;
  std::uint16_t marker_port_ = 0;
  net::Socket marker_;
  std::optional<harness::Child> tcpdump_;
};

// The index of the first line from `start` that is `line`, or of one that starts with it.
std::optional<std::size_t> find(const std::vector<std::string>& lines, std::string_view line,
                                std::size_t start = 0) {
  for (std::size_t i = start; i < lines.size(); ++i)
    if (lines[i].starts_with(line)) return i;
  return std::nullopt;
}

std::string listing(const std::vector<std::string>& lines) {
  std::string all = "the packets:\n";
  for (const std::string& line : lines)
    all += "  " + line + "\n";
  return all;
}

// A TCP connection of the test's own on 127.0.0.1, both ends plain descriptors
// (no RAII: some Facts are about exactly which call closes).
struct Pair {
  std::uint16_t port = 0;
  int client = -1;
  int server = -1;
};

int listening_socket(std::uint16_t& port) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::listen(s, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return s;
}

Pair connect_pair(int listener, std::uint16_t port) {
  Pair pair;
  pair.port = port;
  pair.client = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_EQ(::connect(pair.client, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  pair.server = ::accept(listener, nullptr, nullptr);
  EXPECT_GE(pair.server, 0);
  return pair;
}

// Reads exactly `count` bytes from `s` (or fails the test at the deadline).
std::string receive(int s, std::size_t count) {
  std::string data;
  const auto deadline = harness::Clock::now() + harness::kPatience;
  while (data.size() < count && harness::wait_readable(s, deadline)) {
    char buffer[4096];
    const ssize_t n = ::recv(s, buffer, std::min(sizeof buffer, count - data.size()), 0);
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(data.size(), count);
  return data;
}

void send_text(int s, std::string_view text) {
  EXPECT_EQ(::send(s, text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
}

void set_nodelay(int s, int on) {
  EXPECT_EQ(::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on), 0);
}

// A few questions and answers first: the receiving side sees that it answers
// at once, so it stops acknowledging each segment on its own and waits (up to
// its delayed-ACK time-out, 40 ms on Linux) to carry the ACK on its answer.
// That is the conversation in which Nagle is felt.
void warm_up(const Pair& pair) {
  for (int round = 0; round < 8; ++round) {
    send_text(pair.client, "question\n");
    EXPECT_EQ(receive(pair.server, 9), "question\n");
    send_text(pair.server, "answer\n");
    EXPECT_EQ(receive(pair.client, 7), "answer\n");
  }
}

}  // namespace

// Fact: a TCP connection starts with the three-way handshake — the client's
// SYN, the server's SYN-ACK, the client's ACK — before a byte of data. Here
// the thank-you server and its client (spoon2-echo), and the rest of their
// exchange: the server's line, then its FIN (it shuts down, then closes).
TEST(Wire, AConnectionStartsWithSynSynAckAck) {
  SKIP_WITHOUT_CAPTURE();
  harness::Child server("spoon2-echo/server", {"--port", "0", "--log",
                                               (harness::temp_dir("wire") / "file.txt").string()});
  const std::uint16_t port = server.port();
  Capture capture(port);
  const harness::Result client =
      harness::run("spoon2-echo/client", {"--port", std::to_string(port)});
  EXPECT_EQ(client.exit_code, 0) << client.err;
  const std::vector<std::string> lines = capture.lines();
  ASSERT_GE(lines.size(), 4U) << listing(lines);
  EXPECT_EQ(lines[0], "client → server  SYN") << listing(lines);
  EXPECT_EQ(lines[1], "server → client  SYN-ACK") << listing(lines);
  EXPECT_EQ(lines[2], "client → server  ACK") << listing(lines);
  const auto thanks = find(lines, "server → client  24 bytes \"Thank you for connecting\"", 3);
  ASSERT_TRUE(thanks) << listing(lines);
  EXPECT_TRUE(find(lines, "server → client  FIN", *thanks) || lines[*thanks].ends_with(" + FIN"))
      << listing(lines);
  EXPECT_FALSE(find(lines, "server → client  RST")) << listing(lines);
}

// Tip: shutdown(SHUT_WR) is the half-close. It sends a FIN at once — the
// peer's recv returns 0 — while the other direction keeps carrying data. The
// echo client (spoon2-echo) half-closes at the end of its input; here the test
// plays the server: it reads to the FIN, then still sends, and the client still reads.
TEST(Wire, ShutdownSendsFinAtOnceWhileTheOtherDirectionKeepsCarryingData) {
  SKIP_WITHOUT_CAPTURE();
  harness::Listener listener;
  Capture capture(listener.port);
  harness::Child client("spoon2-echo/echo_client", {"--port", std::to_string(listener.port)});
  harness::Connection connection = listener.accept();
  client.write_stdin("hello\n");
  client.close_stdin();
  // The FIN came while the client still runs and reads: recv returned 0 here.
  EXPECT_EQ(connection.receive_until_close(), "hello\n");
  EXPECT_TRUE(connection.send_all("after your FIN\n"));
  connection = harness::Connection(net::Socket{});  // closes: our FIN
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_EQ(client.out(), "after your FIN\n");
  const std::vector<std::string> lines = capture.lines();
  std::optional<std::size_t> fin;
  for (std::size_t i = 0; i < lines.size() && !fin; ++i)
    if (lines[i].starts_with("client → server") && lines[i].ends_with("FIN")) fin = i;
  ASSERT_TRUE(fin) << "no FIN from the client; " << listing(lines);
  const auto data = find(lines, "server → client  15 bytes \"after your FIN\\n\"", *fin);
  EXPECT_TRUE(data) << "no data to the client after its FIN; " << listing(lines);
  EXPECT_FALSE(find(lines, "client → server  RST")) << listing(lines);
}

// Fact: close() on a socket with data still unread in its receive buffer
// sends RST, not FIN: the peer learns its data was thrown away (and may lose
// what was in flight to it). Hence the talk's tip: shutdown before close, and
// read what the peer sent.
TEST(Wire, CloseWithUnreadDataSendsRstNotFin) {
  SKIP_WITHOUT_CAPTURE();
  std::uint16_t port = 0;
  const int listener = listening_socket(port);
  Capture capture(port);
  const Pair pair = connect_pair(listener, port);
  send_text(pair.client, "never read");
  EXPECT_TRUE(harness::wait_readable(pair.server, harness::Clock::now() + harness::kPatience));
  ::close(pair.server);  // "never read" is still in its receive buffer
  const std::vector<std::string> lines = capture.lines();
  ::close(pair.client);
  ::close(listener);
  EXPECT_TRUE(find(lines, "server → client  RST")) << listing(lines);
  EXPECT_FALSE(find(lines, "server → client  FIN")) << listing(lines);
}

// Fact: with SO_LINGER on and a linger time of 0, close() drops the
// connection with RST at once: no FIN, no TIME_WAIT. (What a test does to
// play a client that crashes; never a way to end a conversation.)
TEST(Wire, SoLingerZeroSendsRst) {
  SKIP_WITHOUT_CAPTURE();
  std::uint16_t port = 0;
  const int listener = listening_socket(port);
  Capture capture(port);
  const Pair pair = connect_pair(listener, port);
  send_text(pair.client, "read");
  EXPECT_EQ(receive(pair.server, 4), "read");  // nothing unread: only the linger decides
  const linger abort_on_close{1, 0};
  EXPECT_EQ(
      ::setsockopt(pair.client, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close), 0);
  ::close(pair.client);
  const std::vector<std::string> lines = capture.lines();
  ::close(pair.server);
  ::close(listener);
  EXPECT_TRUE(find(lines, "client → server  RST")) << listing(lines);
  EXPECT_FALSE(find(lines, "client → server  FIN")) << listing(lines);
}

// Fact: there is no EOT on a socket — TCP carries a stream of bytes, not
// messages. Two send() calls may travel as one segment (and arrive as one
// recv): here with Nagle on, "b" and "c\n" both wait for the ACK of "a",
// then go together.
TEST(Wire, TwoSendsMayTravelAsOneSegment) {
  SKIP_WITHOUT_CAPTURE();
  std::uint16_t port = 0;
  const int listener = listening_socket(port);
  Capture capture(port);
  const Pair pair = connect_pair(listener, port);
  warm_up(pair);
  send_text(pair.client, "a");
  send_text(pair.client, "b");
  send_text(pair.client, "c\n");
  EXPECT_EQ(receive(pair.server, 4), "abc\n");
  const std::vector<std::string> lines = capture.lines();
  ::close(pair.client);
  ::close(pair.server);
  ::close(listener);
  EXPECT_TRUE(find(lines, "client → server  3 bytes \"bc\\n\"")) << listing(lines);
}

// Fact: UDP has no connection, so nothing answers a datagram sent to a port
// where nobody listens — but the system there does: ICMP "port unreachable",
// which a connected UDP socket sees as ECONNREFUSED (the udp_client's early error).
TEST(Wire, UdpToAClosedPortComesBackAsIcmpPortUnreachable) {
  SKIP_WITHOUT_CAPTURE();
  std::uint16_t port = 0;
  harness::bound_to_loopback(SOCK_DGRAM, port);  // a free port, closed again at once
  Capture capture(port);
  const harness::Result client =
      harness::run("spoon2-echo/udp_client", {"--port", std::to_string(port)}, "hello\n");
  EXPECT_EQ(client.exit_code, 1);
  const std::vector<std::string> lines = capture.lines();
  const auto datagram = find(lines, "client → server  UDP 5 bytes \"hello\"");
  ASSERT_TRUE(datagram) << listing(lines);
  EXPECT_TRUE(find(lines, "server → client  ICMP port unreachable", *datagram)) << listing(lines);
}

// Tip: Nagle's algorithm. With it on (the default), a small write waits while
// an earlier one is unacknowledged — and a peer that delays its ACK (up to
// 40 ms) delays the write: the chat lesson's 40 ms. So "b" goes only after an
// ACK from the server has come back.
TEST(Wire, WithNagleASmallWriteWaitsForAnAck) {
  SKIP_WITHOUT_CAPTURE();
  std::uint16_t port = 0;
  const int listener = listening_socket(port);
  Capture capture(port);
  const Pair pair = connect_pair(listener, port);
  warm_up(pair);
  send_text(pair.client, "a");
  send_text(pair.client, "b\n");
  EXPECT_EQ(receive(pair.server, 3), "ab\n");
  const std::vector<std::string> lines = capture.lines();
  ::close(pair.client);
  ::close(pair.server);
  ::close(listener);
  const auto a = find(lines, "client → server  1 bytes \"a\"");
  ASSERT_TRUE(a) << listing(lines);
  ASSERT_LT(*a + 2, lines.size()) << listing(lines);
  EXPECT_EQ(lines[*a + 1], "server → client  ACK") << listing(lines);
  EXPECT_EQ(lines[*a + 2], "client → server  2 bytes \"b\\n\"") << listing(lines);
}

// Tip: TCP_NODELAY turns Nagle off: each small write goes at once, without
// waiting for the ACK of the one before (what an interactive client wants).
TEST(Wire, WithTcpNodelayASmallWriteGoesAtOnce) {
  SKIP_WITHOUT_CAPTURE();
  std::uint16_t port = 0;
  const int listener = listening_socket(port);
  Capture capture(port);
  const Pair pair = connect_pair(listener, port);
  set_nodelay(pair.client, 1);
  warm_up(pair);
  send_text(pair.client, "a");
  send_text(pair.client, "b\n");
  EXPECT_EQ(receive(pair.server, 3), "ab\n");
  const std::vector<std::string> lines = capture.lines();
  ::close(pair.client);
  ::close(pair.server);
  ::close(listener);
  const auto a = find(lines, "client → server  1 bytes \"a\"");
  ASSERT_TRUE(a) << listing(lines);
  ASSERT_LT(*a + 1, lines.size()) << listing(lines);
  EXPECT_EQ(lines[*a + 1], "client → server  2 bytes \"b\\n\"") << listing(lines);
}
#else
TEST(Wire, CapturesNeedTcpdumpOnLoopback) {
  GTEST_SKIP() << "capturing is done with tcpdump on Linux's loopback; not on Windows";
}
#endif
