// tests/wire/pcap.hpp — a small reader of tcpdump's capture files, enough to
// tell what went over the wire between a server and its clients.
//
// `tcpdump -i lo -w FILE` writes the classic pcap format: a 24-byte file
// header, then one record per packet (a 16-byte header and the bytes). Each
// packet starts with a link-layer header that depends on the interface
// (Ethernet on Linux's lo, "cooked" SLL/SLL2 for -i any, NULL on BSD's lo0),
// then IPv4 or IPv6, then TCP, UDP or ICMP. We decode only what the lessons
// show: TCP flags and payload, UDP payload, ICMP "port unreachable".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wire {

enum class Protocol { tcp, udp, icmp_port_unreachable };

// One packet, as far as the lessons care.
struct Packet {
  double seconds = 0;  // the capture's time stamp
  Protocol protocol = Protocol::tcp;
  std::uint16_t source_port = 0;  // for ICMP: the ports of the datagram it refuses
  std::uint16_t destination_port = 0;
  bool syn = false, ack = false, fin = false, rst = false;  // TCP only
  std::size_t length = 0;  // how many bytes of data it carried (TCP or UDP)...
  std::string payload;     // ...and those the capture kept (tcpdump -s may cut it short)
};

// The packets of a capture file, in capture order (what is not IPv4/IPv6 TCP,
// UDP or ICMP port unreachable is left out). Throws std::runtime_error with
// the reason when the bytes are not a capture this reader knows.
std::vector<Packet> read_capture(std::string_view bytes);
std::vector<Packet> read_capture_file(const std::string& path);

// One packet of a conversation with the server on `server_port`, as a line:
//   client → server  SYN
//   server → client  24 bytes "Thank you for connecting"
//   client → server  5 bytes "hi\r\n" + FIN
// or nothing when the packet is not to or from that port.
std::optional<std::string> describe(const Packet& packet, std::uint16_t server_port);

// The packets' lines for that port, in order; with `times`, each is prefixed
// "+SECONDS.mmm " counted from the first of them.
std::vector<std::string> conversation(const std::vector<Packet>& packets, std::uint16_t server_port,
                                      bool times = false);

// Payload bytes as the lines show them: \r \n \t \\ \" escaped, other bytes
// outside printable ASCII as \xNN; past `limit` bytes, cut and marked "…".
std::string quoted(std::string_view bytes, std::size_t limit = 40);

}  // namespace wire
