// tests/wire/wire_events.cpp — what went over the wire, one line a packet.
//
//   tcpdump -i lo -w capture.pcap port 12345     (Ctrl-C to stop)
//   build/tests/wire_events capture.pcap 12345
//
// prints the packets to and from port 12345, in capture order:
//   client → server  SYN
//   server → client  SYN-ACK
//   client → server  ACK
//   server → client  24 bytes "Thank you for connecting"
// The tour (./workshop tour --wire), the wire tests and the slides' sequence
// diagrams all read captures through this.
#include "common/cli.hpp"
#include "tests/wire/pcap.hpp"

#include <fmt/core.h>

#include <charconv>
#include <stdexcept>

namespace {

constexpr const char* kUsage =
    "usage: wire_events [--times] PCAP_FILE SERVER_PORT\n"
    "\n"
    "Prints the TCP segments, UDP datagrams and ICMP port-unreachable errors to\n"
    "and from SERVER_PORT in a tcpdump capture (tcpdump -i lo -w PCAP_FILE), one\n"
    "line each, in capture order: 'client → server  SYN', 'server → client  24\n"
    "bytes \"Thank you for connecting\"', ... The server is the side on SERVER_PORT.\n"
    "\n"
    "  --times   prefix each line with +SECONDS.mmm since the first packet\n";

}  // namespace

int main(int argc, char** argv) {
  cli::Options options(argc, argv, kUsage);
  const bool times = options.flag("--times");
  const std::vector<std::string> names = options.rest();
  if (names.size() != 2) options.bad("wants two arguments: PCAP_FILE SERVER_PORT");
  unsigned port = 0;
  const std::string& port_text = names[1];
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535)
    options.bad(fmt::format("SERVER_PORT wants a number from 1 to 65535, not '{}'", port_text));

  std::vector<wire::Packet> packets;
  try {
    packets = wire::read_capture_file(names[0]);
  } catch (const std::runtime_error& failure) {
    fmt::print(stderr, "error: {}\n", failure.what());
    return 1;
  }
  for (const std::string& line :
       wire::conversation(packets, static_cast<std::uint16_t>(port), times))
    fmt::print("{}\n", line);
  return 0;
}
