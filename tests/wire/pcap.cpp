// tests/wire/pcap.cpp — the capture reader: pcap file → packets → lines.
#include "tests/wire/pcap.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace wire {
namespace {

// The link types tcpdump writes for a loopback capture (see pcap-linktype(7)).
constexpr std::uint32_t kNull = 0;         // BSD's lo0: a 4-byte address family, writer's order
constexpr std::uint32_t kEthernet = 1;     // Linux's lo: a 14-byte Ethernet header of zeros
constexpr std::uint32_t kRaw = 101;        // no link header: the IP packet itself
constexpr std::uint32_t kLoop = 108;       // OpenBSD's lo0: the family in network order
constexpr std::uint32_t kLinuxSll = 113;   // -i any, older libpcap: 16-byte "cooked" header
constexpr std::uint32_t kLinuxSll2 = 276;  // -i any, libpcap 1.10+: 20-byte cooked header
constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpv6 = 58;

// Bytes with bounds: every read past the end gives zero, and ok() says
// whether one was tried, so a short packet is dropped, never overrun.
class Bytes {
 public:
  explicit Bytes(std::string_view bytes) : bytes_(bytes) {}
  [[nodiscard]] std::size_t size() const { return bytes_.size(); }
  [[nodiscard]] std::uint8_t u8(std::size_t at) const {
    if (at >= bytes_.size()) return 0;
    return static_cast<std::uint8_t>(bytes_[at]);
  }
  [[nodiscard]] std::uint16_t be16(std::size_t at) const {
    return static_cast<std::uint16_t>(u8(at) << 8 | u8(at + 1));
  }
  [[nodiscard]] std::uint32_t u32(std::size_t at, bool big_endian) const {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const std::uint32_t byte = u8(at + (big_endian ? i : 3 - i));
      value = value << 8 | byte;
    }
    return value;
  }
  [[nodiscard]] Bytes from(std::size_t at, std::size_t length = std::string_view::npos) const {
    if (at > bytes_.size()) return Bytes{{}};
    return Bytes{bytes_.substr(at, length)};
  }
  [[nodiscard]] std::string_view view() const { return bytes_; }

 private:
  std::string_view bytes_;
};

struct Ports {
  std::uint16_t source = 0, destination = 0;
};

// IPv6 extension headers sit between the fixed header and TCP/UDP: skip them.
std::size_t skip_ipv6_extensions(const Bytes& ip, std::uint8_t& next, std::size_t at) {
  while ((next == 0 || next == 43 || next == 60 || next == 44 || next == 51) && at < ip.size()) {
    const std::uint8_t following = ip.u8(at);
    if (next == 44)
      at += 8;  // fragment
    else if (next == 51)
      at += (std::size_t{ip.u8(at + 1)} + 2) * 4;  // AH
    else
      at += (std::size_t{ip.u8(at + 1)} + 1) * 8;  // hop-by-hop, routing, options
    next = following;
  }
  return at;
}

// The UDP ports of the datagram an ICMP error quotes (its IP header + 8 bytes).
std::optional<Ports> quoted_udp_ports(const Bytes& ip) {
  std::uint8_t next = 0;
  std::size_t at = 0;
  if (ip.u8(0) >> 4 == 4) {
    next = ip.u8(9);
    at = std::size_t{ip.u8(0) & 0x0fU} * 4;
  } else if (ip.u8(0) >> 4 == 6) {
    next = ip.u8(6);
    at = skip_ipv6_extensions(ip, next, 40);
  } else {
    return std::nullopt;
  }
  if (next != kUdp || at + 4 > ip.size()) return std::nullopt;
  return Ports{ip.be16(at), ip.be16(at + 2)};
}

// The transport part of an IP packet, once the IP header is off: the bytes
// captured, and how long it was on the wire (tcpdump -s keeps only the start).
std::optional<Packet> transport(std::uint8_t protocol, const Bytes& segment,
                                std::size_t wire_size) {
  Packet packet;
  if (protocol == kTcp) {
    const std::size_t header = static_cast<std::size_t>(segment.u8(12) >> 4) * 4;
    if (header < 20 || header > segment.size()) return std::nullopt;
    const std::uint8_t flags = segment.u8(13);
    packet.protocol = Protocol::tcp;
    packet.source_port = segment.be16(0);
    packet.destination_port = segment.be16(2);
    packet.fin = (flags & 0x01U) != 0;
    packet.syn = (flags & 0x02U) != 0;
    packet.rst = (flags & 0x04U) != 0;
    packet.ack = (flags & 0x10U) != 0;
    packet.payload = std::string(segment.from(header).view());
    packet.length = std::max(wire_size, segment.size()) - header;
    return packet;
  }
  if (protocol == kUdp) {
    if (segment.size() < 8) return std::nullopt;
    const std::size_t length = segment.be16(4);  // header included; trims link padding
    packet.protocol = Protocol::udp;
    packet.source_port = segment.be16(0);
    packet.destination_port = segment.be16(2);
    packet.length = length >= 8 ? length - 8 : 0;
    packet.payload = std::string(segment.from(8, packet.length).view());
    return packet;
  }
  const bool unreachable = (protocol == kIcmp && segment.u8(0) == 3 && segment.u8(1) == 3) ||
                           (protocol == kIcmpv6 && segment.u8(0) == 1 && segment.u8(1) == 4);
  if (!unreachable) return std::nullopt;
  const std::optional<Ports> refused = quoted_udp_ports(segment.from(8));
  if (!refused) return std::nullopt;
  packet.protocol = Protocol::icmp_port_unreachable;
  packet.source_port = refused->source;
  packet.destination_port = refused->destination;
  return packet;
}

std::optional<Packet> ip_packet(const Bytes& ip) {
  const int version = ip.u8(0) >> 4;
  if (version == 4) {
    const std::size_t header = std::size_t{ip.u8(0) & 0x0fU} * 4;
    std::size_t total = ip.be16(2);
    if (total == 0) total = ip.size();  // 0: a packet too big for the field (segmentation offload)
    const std::size_t captured = std::min(total, ip.size());  // less than total: cut by tcpdump -s
    if (header < 20 || header > captured) return std::nullopt;
    if ((ip.be16(6) & 0x1fffU) != 0) return std::nullopt;  // a later fragment: no ports in it
    return transport(ip.u8(9), ip.from(header, captured - header), total - header);
  }
  if (version == 6) {
    if (ip.size() < 40) return std::nullopt;
    std::size_t end = 40 + std::size_t{ip.be16(4)};
    if (end == 40) end = ip.size();  // a jumbogram, or segmentation offload
    const std::size_t captured = std::min(end, ip.size());
    std::uint8_t next = ip.u8(6);
    const std::size_t at = skip_ipv6_extensions(ip, next, 40);
    if (at > captured) return std::nullopt;
    return transport(next, ip.from(at, captured - at), end - at);
  }
  return std::nullopt;
}

// Strips the link-layer header: what is left is an IP packet, or nothing.
std::optional<Bytes> ip_of(std::uint32_t link_type, const Bytes& frame, bool big_endian) {
  std::uint16_t ether_type = 0;
  std::size_t at = 0;
  switch (link_type) {
    case kNull:
    case kLoop: {
      const std::uint32_t family = frame.u32(0, link_type == kLoop || big_endian);
      // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24, 28 or 30 (the BSDs, macOS).
      if (family == 2)
        ether_type = kEtherIpv4;
      else if (family == 10 || family == 24 || family == 28 || family == 30)
        ether_type = kEtherIpv6;
      at = 4;
      break;
    }
    case kEthernet:
      ether_type = frame.be16(12);
      at = 14;
      if (ether_type == kEtherVlan) {
        ether_type = frame.be16(16);
        at = 18;
      }
      break;
    case kLinuxSll:
      ether_type = frame.be16(14);
      at = 16;
      break;
    case kLinuxSll2:
      ether_type = frame.be16(0);
      at = 20;
      break;
    case kRaw:
      return frame;
    default:
      return std::nullopt;
  }
  if (ether_type != kEtherIpv4 && ether_type != kEtherIpv6) return std::nullopt;
  if (at > frame.size()) return std::nullopt;
  return frame.from(at);
}

}  // namespace

std::vector<Packet> read_capture(std::string_view bytes) {
  const Bytes file{bytes};
  if (file.size() < 24) throw std::runtime_error("not a pcap capture (shorter than its header)");
  // The magic number says the writer's byte order, and whether time stamps
  // are in micro- or nanoseconds.
  bool big_endian = false;
  double tick = 1e-6;
  const std::uint32_t magic = file.u32(0, false);
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    big_endian = false;
  } else if (file.u32(0, true) == 0xa1b2c3d4 || file.u32(0, true) == 0xa1b23c4d) {
    big_endian = true;
  } else if (magic == 0x0a0d0d0a) {
    throw std::runtime_error(
        "a pcapng capture; write pcap: tcpdump -w FILE (not Wireshark's default)");
  } else {
    throw std::runtime_error("not a pcap capture (unknown magic number)");
  }
  if (file.u32(0, big_endian) == 0xa1b23c4d) tick = 1e-9;
  const std::uint32_t link_type = file.u32(20, big_endian) & 0xffffU;  // the high bits: FCS length
  if (link_type != kNull && link_type != kEthernet && link_type != kRaw && link_type != kLoop &&
      link_type != kLinuxSll && link_type != kLinuxSll2)
    throw std::runtime_error(fmt::format("link type {} is not one this reader knows", link_type));

  std::vector<Packet> packets;
  std::size_t at = 24;
  // A record cut short at the end is a capture stopped mid-write: the
  // packets before it still stand.
  while (at + 16 <= file.size()) {
    const std::uint32_t whole_seconds = file.u32(at, big_endian);
    const std::uint32_t fraction = file.u32(at + 4, big_endian);
    const std::size_t captured = file.u32(at + 8, big_endian);
    at += 16;
    if (captured > file.size() - at) break;
    const Bytes frame = file.from(at, captured);
    at += captured;
    const std::optional<Bytes> ip = ip_of(link_type, frame, big_endian);
    if (!ip) continue;
    std::optional<Packet> packet = ip_packet(*ip);
    if (!packet) continue;
    packet->seconds = whole_seconds + fraction * tick;
    packets.push_back(std::move(*packet));
  }
  return packets;
}

std::vector<Packet> read_capture_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  try {
    return read_capture(bytes.str());
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(fmt::format("cannot read {}: {}", path, error.what()));
  }
}

std::string quoted(std::string_view bytes, std::size_t limit) {
  std::string text = "\"";
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    switch (byte) {
      case '\r':
        text += "\\r";
        break;
      case '\n':
        text += "\\n";
        break;
      case '\t':
        text += "\\t";
        break;
      case '\\':
        text += "\\\\";
        break;
      case '"':
        text += "\\\"";
        break;
      default:
        if (byte >= 0x20 && byte < 0x7f)
          text += static_cast<char>(byte);
        else
          text += fmt::format("\\x{:02x}", byte);
    }
  }
  text += '"';
  if (bytes.size() > limit) text += "…";
  return text;
}

namespace {
// The data as a line shows it: its first 40 bytes, and "…" when there was more
// (also when the capture kept less of it than went over the wire).
std::string shown(const Packet& packet) {
  constexpr std::size_t kShown = 40;
  const std::string_view kept = std::string_view(packet.payload).substr(0, kShown);
  return quoted(kept, kShown) + (packet.length > kept.size() ? "…" : "");
}
}  // namespace

std::optional<std::string> describe(const Packet& packet, std::uint16_t server_port) {
  // For ICMP the ports are the refused datagram's: the error goes back the other way.
  const bool icmp = packet.protocol == Protocol::icmp_port_unreachable;
  bool from_server = false;
  if (packet.source_port == server_port)
    from_server = !icmp;
  else if (packet.destination_port == server_port)
    from_server = icmp;
  else
    return std::nullopt;
  const char* direction = from_server ? "server → client" : "client → server";

  std::string what;
  const auto add = [&what](const std::string& part) { what += what.empty() ? part : " + " + part; };
  switch (packet.protocol) {
    case Protocol::icmp_port_unreachable:
      add("ICMP port unreachable");
      break;
    case Protocol::udp:
      add(fmt::format("UDP {} bytes {}", packet.length, shown(packet)));
      break;
    case Protocol::tcp:
      if (packet.syn) add(packet.ack ? "SYN-ACK" : "SYN");
      if (packet.length > 0) add(fmt::format("{} bytes {}", packet.length, shown(packet)));
      if (packet.fin) add("FIN");
      if (packet.rst) add("RST");
      if (what.empty()) add("ACK");  // nothing but an acknowledgement (or a bare window update)
      break;
  }
  return fmt::format("{}  {}", direction, what);
}

std::vector<std::string> conversation(const std::vector<Packet>& packets, std::uint16_t server_port,
                                      bool times) {
  std::vector<std::string> lines;
  std::optional<double> first;
  for (const Packet& packet : packets) {
    std::optional<std::string> line = describe(packet, server_port);
    if (!line) continue;
    if (!first) first = packet.seconds;
    if (times) line = fmt::format("+{:.3f} {}", packet.seconds - *first, *line);
    lines.push_back(std::move(*line));
  }
  return lines;
}

}  // namespace wire
