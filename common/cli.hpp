// common/cli.hpp — what every program shares with its user: the command line,
// the error lines, and the way a peer's address is written.
//
// The contract: --help prints the usage and exits 0; a bad command line prints
// one "error: ..." line and a hint on stderr and exits 2, before anything is
// bound or connected; any other failure prints "error: WHAT: REASON", exits 1.
#pragma once

#include "net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace net {

// A peer as the contract writes it: IP:PORT for IPv4 (also an IPv4 client
// reaching an IPv6 dual-stack socket as ::ffff:a.b.c.d), [IP]:PORT for IPv6.
inline std::string to_string(const sockaddr_storage& address) {
  char host[NI_MAXHOST] = "?";
  char port[NI_MAXSERV] = "?";
  const socklen_t length =
      address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, port,
              sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
  std::string ip = host;
  if (ip.starts_with("::ffff:") && ip.find('.') != std::string::npos) ip.erase(0, 7);
  return ip.find(':') == std::string::npos ? fmt::format("{}:{}", ip, port)
                                           : fmt::format("[{}]:{}", ip, port);
}

// The port in an address, IPv4 or IPv6 (network byte order turned to ours).
inline std::uint16_t port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
}

}  // namespace net

namespace cli {

// "error: WHAT: the system's reason" on stderr, then exit 1.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> what, Args&&... args) {
  const std::string reason = net::error_text();  // first, before anything can change it
  fmt::print(stderr, "error: {}: {}\n", fmt::format(what, std::forward<Args>(args)...), reason);
  std::exit(1);
}

// The same, for a reason that is not the system's last error (getaddrinfo's own).
[[noreturn]] inline void fail_because(const std::string& reason, const std::string& what) {
  fmt::print(stderr, "error: {}: {}\n", what, reason);
  std::exit(1);
}

// Read options by name, in any order: `--port 80` or `--port=80`.
// Call done() (or rest(), for programs that take names) after the last one.
class Options {
 public:
  Options(int argc, char** argv, std::string usage) : usage_(std::move(usage)) {
    program_ = argc > 0 ? std::string_view(argv[0]) : "program";
    program_ = program_.substr(program_.find_last_of("/\\") + 1);
    if (program_.ends_with(".exe")) program_.remove_suffix(4);  // Windows
    net::binary_output();  // the usage and errors below are the same bytes everywhere
    for (int i = 1; i < argc; ++i)
      args_.emplace_back(argv[i]);
  }

  std::string text(std::string_view name, std::string fallback) {
    return take(name).value_or(std::move(fallback));
  }

  std::uint16_t port(std::uint16_t fallback) {
    const std::optional<std::string> value = take("--port");
    if (!value) return fallback;
    unsigned number = 0;
    const auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), number);
    if (error != std::errc{} || end != value->data() + value->size() || number > 65535)
      bad(fmt::format("--port wants a number from 0 to 65535, not '{}'", *value));
    return static_cast<std::uint16_t>(number);
  }

  double seconds(std::string_view name, double fallback) {
    const std::optional<std::string> value = take(name);
    if (!value) return fallback;
    char* end = nullptr;
    const double number = std::strtod(value->c_str(), &end);
    // Below a millisecond a system may round a time-out to 0, which means
    // "wait forever" to setsockopt: the opposite of what was asked.
    if (*end != '\0' || !(number >= 0.001 && number < 1e6))
      bad(fmt::format("{} wants a number of seconds from 0.001 to 999999, not '{}'", name, *value));
    return number;
  }

  bool flag(std::string_view name) {
    const auto it = std::find(args_.begin(), args_.end(), name);
    if (it == args_.end()) return false;
    args_.erase(it);
    if (std::find(args_.begin(), args_.end(), name) != args_.end())
      bad(fmt::format("{} was given twice", name));
    return true;
  }

  // What is left once every option is taken: the program's names or addresses.
  // --help is answered here, once every option has taken its value, so that
  // `--nick --help` is a missing nick, not a request for help.
  std::vector<std::string> rest() {
    for (const std::string& arg : args_) {
      if (arg == "--help" || arg == "-h") {
        fmt::print("{}", usage_);
        std::exit(0);
      }
    }
    for (const std::string& arg : args_)
      if (arg.size() > 1 && arg[0] == '-') bad(fmt::format("unknown option '{}'", arg));
    return std::exchange(args_, {});
  }

  void done() {
    for (const std::string& arg : rest())
      bad(fmt::format("unexpected argument '{}'", arg));
  }

  [[noreturn]] void bad(const std::string& message) const {
    fmt::print(stderr, "error: {}\nTry '{} --help' for more information.\n", message, program_);
    std::exit(2);
  }

 private:
  // The value of NAME (`NAME VALUE` or `NAME=VALUE`), taken out of the list.
  std::optional<std::string> take(std::string_view name) {
    std::optional<std::string> value;
    for (auto it = args_.begin(); it != args_.end();) {
      const bool joined =
          it->starts_with(name) && it->size() > name.size() && (*it)[name.size()] == '=';
      if (!joined && *it != name) {
        ++it;
        continue;
      }
      if (value) bad(fmt::format("{} was given twice", name));
      if (joined) {
        value = it->substr(name.size() + 1);
        it = args_.erase(it);
        continue;
      }
      // The next word is the value, unless it is another option: `--nick --help`.
      if (it + 1 == args_.end() || (it + 1)->starts_with("--") || *(it + 1) == "-h")
        bad(fmt::format("{} needs a value", name));
      value = *(it + 1);
      it = args_.erase(it, it + 2);
    }
    if (value && value->empty()) bad(fmt::format("{} needs a value, not an empty one", name));
    return value;
  }

  std::string_view program_;
  std::string usage_;
  std::vector<std::string> args_;
};

}  // namespace cli
