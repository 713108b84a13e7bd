// extras-resolve/resolve.cpp — Extras: names to addresses, the talk's gethostbyname Tip done right.
//
// The talk's Tip: "You don't always need a client-server case to use the socket
// module": socket.gethostbyname('www.google.com') gives '216.58.223.68'. That call
// knows IPv4 only and gives one address. getaddrinfo, its replacement, answers
// for IPv4 and IPv6 alike (AF_UNSPEC) with every address the name has.
// New since Spoon 2: no socket at all. connect_to() took the first address that
// answered; here we print them all, and go back from an address to its name.
//
// Try it:  ./workshop run extras-resolve/resolve localhost 127.0.0.1 ::1
//          ./workshop run extras-resolve/resolve --reverse 127.0.0.1
//          ./workshop run extras-resolve/resolve --service http
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// TODO: your homework. This is extras-resolve/resolve.cpp with its socket calls
// taken out: each TODO below says which call to write, and which Fact it shows.
// Until you write one, todo() stands in for it and fails as the call would (the
// resolver's EAI_FAIL: "Non-recoverable failure in name resolution"), so the
// file builds and runs as it is, and the checker shows how far it gets:
//     ./workshop check extras-resolve/resolve -- ./homework/extras-resolve/resolve
// todo() takes what the call would take, so nothing goes unused meanwhile.
int todo(const auto&... /*what the call would take*/) { return EAI_FAIL; }

// Contract: the resolver's own reason, on stderr; the other names still get their answer.
bool cannot_resolve(const std::string& name, const char* reason) {
  fmt::print(stderr, "error: cannot resolve '{}': {}\n", name, reason);
  return false;
}

// HOST -> the first IPv4 address (what gethostbyname gave), then every distinct
// address getaddrinfo returns, with its family.
bool resolve(const std::string& host, int family) {
  // region: getaddrinfo
  addrinfo hints{};
  hints.ai_family = family;         // Tip: AF_INET6 for IPv6, AF_UNSPEC for both
  hints.ai_socktype = SOCK_STREAM;  // else each address comes 3 times: TCP, UDP, raw
  addrinfo* found = nullptr;
  // TODO getaddrinfo(): every address of `host`, as `hints` asks for them,
  // into `found` (no service: nullptr). It returns 0, or an error code for
  // gai_strerror. (Tip: gethostbyname knew IPv4 only, and one address.)
  if (const int rc = todo(hints); rc != 0) return cannot_resolve(host, gai_strerror(rc));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  // endregion

  std::vector<std::pair<int, std::string>> distinct;  // family, address as text
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    // With NI_NUMERICHOST, getnameinfo only writes the address as text; it asks no one.
    char text[NI_MAXHOST] = {};
    // TODO getnameinfo(): this address (address->ai_addr, ai_addrlen bytes) as
    // text, into `text`; NI_NUMERICHOST: the digits, not a name.
    if (const int rc = todo(); rc != 0) return cannot_resolve(host, gai_strerror(rc));
    std::pair<int, std::string> entry{address->ai_family, text};
    // /etc/hosts may list an address twice; print it once.
    if (std::ranges::find(distinct, entry) == distinct.end()) distinct.push_back(std::move(entry));
  }

  // gethostbyname's answer: the first IPv4 address. A name with none (::1, or
  // any name with -6) shows its first address of all.
  auto first = std::ranges::find(distinct, AF_INET, &std::pair<int, std::string>::first);
  if (first == distinct.end()) first = distinct.begin();
  fmt::print("{} -> {}\n", host, first->second);
  for (const auto& [address_family, text] : distinct)
    fmt::print("  {:<8} {}\n", address_family == AF_INET6 ? "AF_INET6" : "AF_INET", text);
  return true;
}

// ADDR -> NAME: getnameinfo without NI_NUMERICHOST asks the resolver for the name.
bool reverse(const std::string& text) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;  // ADDR must be an address: turn it into a sockaddr, no lookup
  addrinfo* found = nullptr;
  // TODO getaddrinfo(): `text` turned into an address in `found` (hints: AI_NUMERICHOST).
  if (const int rc = todo(hints); rc != 0) return cannot_resolve(text, gai_strerror(rc));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> address(found, freeaddrinfo);
  char name[NI_MAXHOST] = {};
  // NI_NAMEREQD: an address without a name is an error, not its own text handed back.
  // TODO getnameinfo(): the name of found->ai_addr (ai_addrlen bytes), into
  // `name`; NI_NAMEREQD: no name is an error, not the address handed back.
  if (const int rc = todo(name); rc != 0) return cannot_resolve(text, gai_strerror(rc));
  fmt::print("{} -> {}\n", text, name);
  return true;
}

// NAME -> PORT/tcp. Fact: "the default port for web communication is port 80":
// the resolver reads it from the services database (/etc/services).
bool service(const std::string& name) {
  // getaddrinfo takes "" as no service at all, and a number above 65535 wraps
  // silently (99999 becomes 34463): a port is 16 bits, so refuse both here.
  if (name.empty()) return cannot_resolve(name, "a service needs a name or a port number");
  if (name.find_first_not_of("0123456789") == std::string::npos &&
      (name.size() > 5 || std::stoul(name) > 65535))
    return cannot_resolve(name, "a port number is at most 65535");
  addrinfo hints{};
  hints.ai_family = AF_INET;        // any family carries the same port; IPv4 is enough
  hints.ai_socktype = SOCK_STREAM;  // the TCP port: a service may list TCP and UDP
  addrinfo* found = nullptr;
  // TODO getaddrinfo(): no host (nullptr), the service `name`: its port, in
  // found->ai_addr. (Fact: the default port for the web is port 80.)
  if (const int rc = todo(hints); rc != 0) return cannot_resolve(name, gai_strerror(rc));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> address(found, freeaddrinfo);
  const auto* ipv4 = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
  fmt::print("{} -> {}/tcp\n", name, ntohs(ipv4->sin_port));  // network byte order to ours
  return true;
}

int main(int argc, char** argv) {
  cli::Options options(
      argc, argv,
      "usage: resolve [-4|-6] HOST...    HOST -> its first IPv4 address (as\n"
      "                                  gethostbyname), then all its addresses\n"
      "       resolve --reverse ADDR...  ADDR -> its name\n"
      "       resolve --service NAME...  NAME -> PORT/tcp (http -> 80/tcp)\n"
      "  -4, -6  IPv4 (AF_INET) or IPv6 (AF_INET6) addresses only\n"
      "Asks the system's resolver, as getaddrinfo and getnameinfo do. A name that\n"
      "does not resolve is an error (exit 1), reported after the others.\n");
  const bool ipv4 = options.flag("-4");
  const bool ipv6 = options.flag("-6");
  const bool reverse_lookup = options.flag("--reverse");
  const bool service_lookup = options.flag("--service");
  const std::vector<std::string> names = options.rest();
  if (names.empty()) options.bad("nothing to resolve: give at least one name");
  if (int{ipv4} + int{ipv6} + int{reverse_lookup} + int{service_lookup} > 1)
    options.bad("-4, -6, --reverse and --service exclude each other");
  const net::Startup startup;

  const int family = ipv4 ? AF_INET : ipv6 ? AF_INET6 : AF_UNSPEC;
  bool all_resolved = true;
  for (const std::string& name : names) {
    const bool resolved = reverse_lookup   ? reverse(name)
                          : service_lookup ? service(name)
                                           : resolve(name, family);
    all_resolved = all_resolved && resolved;
  }
  return all_resolved ? 0 : 1;
}
