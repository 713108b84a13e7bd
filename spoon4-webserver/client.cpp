// spoon4-webserver/client.cpp — Spoon 4: the other side, an HTTP client by hand.
//
// The talk's Tip: "for making requests, just use the requests library" — and
// curl_client.cpp does. But write one by hand once: a URL, getaddrinfo,
// connect, one GET, then read the answer the way HTTP says it ends. Our
// servers always sent a Content-Length. The web also sends bodies in chunks
// (Transfer-Encoding: chunked), bodies that end when the server closes, and
// servers that say nothing at all: a client must take every one of them.
//
// Try it:  ./workshop run spoon4-webserver/poll_server --root spoon4-webserver
//          ./workshop run spoon4-webserver/client --include http://127.0.0.1:8888/README.md
//          ./workshop run spoon4-webserver/client http://[::1]:8888/client.cpp | head
#include "common/cli.hpp"
#include "common/net.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// What a URL names: http://HOST[:PORT]/PATH.
struct Url {
  std::string host;          // a name or an address (an IPv6 one without its brackets)
  std::uint16_t port = 80;   // the talk's Fact: the default port for the web is 80
  std::string target = "/";  // the path and query: what the request line asks for
};

// region: parse_url
// http://HOST[:PORT]/PATH. An IPv6 address comes in brackets, http://[::1]:8888/,
// as its own colons would read as a port. A URL we cannot speak is a bad
// command line: https:// needs TLS (curl_client speaks it), other schemes
// are other protocols.
Url parse_url(std::string_view text, const cli::Options& options) {
  if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return c <= ' ' || c == 127; }))
    options.bad("a URL has no spaces or control characters (write a space as %20)");
  const std::size_t scheme_end = text.find("://");
  std::string scheme(text.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme == "https")
    options.bad("https:// needs TLS, which client does not speak: use curl_client");
  if (scheme != "http")
    options.bad(fmt::format("'{}' is not an http:// URL (http://HOST[:PORT]/PATH)", text));
  text.remove_prefix(scheme_end + 3);
  text = text.substr(0, text.find('#'));  // a #fragment is for the browser: never sent
  Url url;
  const std::size_t path_start = text.find_first_of("/?");
  if (path_start != std::string_view::npos)
    url.target =
        std::string(text[path_start] == '?' ? "/" : "") + std::string(text.substr(path_start));
  std::string_view authority = text.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos)
    options.bad("a user@ in the URL is not supported");
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) options.bad("an IPv6 address in a URL ends with ']'");
    url.host = authority.substr(1, close - 1);
    port_text = authority.substr(close + 1);
    if (!port_text.empty() && !port_text.starts_with(':'))
      options.bad(fmt::format("after ']' a URL wants ':PORT', not '{}'", port_text));
    port_text.remove_prefix(port_text.empty() ? 0 : 1);
  } else {
    const std::size_t colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) options.bad(fmt::format("'http://{}' names no host", authority));
  if (!port_text.empty()) {
    unsigned number = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), number);
    if (error != std::errc{} || end != port_text.data() + port_text.size() || number == 0 ||
        number > 65535)
      options.bad(fmt::format("a URL's port is a number from 1 to 65535, not '{}'", port_text));
    url.port = static_cast<std::uint16_t>(number);
  }
  return url;
}
// endregion

// getaddrinfo → socket → connect, trying each address HOST has (a name like
// localhost may have an IPv6 and an IPv4 one) until one answers.
net::Socket connect_to(const std::string& host, std::uint16_t port) {
  const std::string where = host.find(':') == std::string::npos
                                ? fmt::format("{}:{}", host, port)
                                : fmt::format("[{}]:{}", host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;      // Tip: AF_UNSPEC takes IPv4 and IPv6 alike
  hints.ai_socktype = SOCK_STREAM;  // TCP
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    cli::fail_because(gai_strerror(rc), fmt::format("cannot connect to {}", where));
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    net::Socket s{socket(address->ai_family, address->ai_socktype, address->ai_protocol)};
    if (s && connect(s.get(), address->ai_addr, address->ai_addrlen) == 0) return s;
  }
  cli::fail("cannot connect to {}", where);  // the last address's reason
}

// send() may take fewer bytes than offered: loop until all went (Python's sendall).
bool send_all(net::socket_t s, std::string_view data) {
  while (!data.empty()) {
    const auto sent = send(s, data.data(), static_cast<int>(data.size()), 0);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// The body goes to stdout byte for byte: a picture stays a picture.
void write_out(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0)
    cli::fail("cannot write to standard output");
}

// What has come from the server and is not used yet. The head is read from
// it line by line, the body piece by piece: recv's pieces fall anywhere
// (Fact: there is no EOT), in the middle of a line or of a chunk.
struct Incoming {
  net::socket_t s;
  std::string where;  // HOST:PORT, for the error lines
  std::chrono::steady_clock::time_point deadline;
  double timeout;
  std::string buffer;

  // One recv more onto the buffer; false once the server has closed.
  bool receive_more() {
    // region: time-out
    // --timeout is for the whole response, as curl's --max-time: with a clock
    // per recv, a server trickling a byte now and then could hold us forever.
    const double left =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left < 0.001) timed_out();
    if (net::set_timeout(s, SO_RCVTIMEO, left) != 0) cli::fail("setsockopt SO_RCVTIMEO");
    // endregion
    std::array<char, 65536> piece{};
    const auto received = recv(s, piece.data(), static_cast<int>(piece.size()), 0);
    if (received < 0 && net::is_timeout(net::last_error())) timed_out();
    if (received < 0) cli::fail("recv from {}", where);  // a reset, say
    buffer.append(piece.data(), static_cast<std::size_t>(received));
    return received > 0;  // Fact: recv returns 0 — the server has closed
  }

  // The next line without its "\r\n" (or a bare "\n"); nothing if the server closed first.
  std::optional<std::string> line() {
    std::size_t end = 0;
    while ((end = buffer.find('\n')) == std::string::npos) {
      if (buffer.size() > 65536) malformed("a line over 64 KiB");
      if (!receive_more()) return std::nullopt;
    }
    std::string text = buffer.substr(0, end);
    buffer.erase(0, end + 1);
    if (text.ends_with('\r')) text.pop_back();
    return text;
  }

  // Writes the next `count` bytes to stdout as they come; false if the server closed first.
  bool copy_out(std::uintmax_t count) {
    while (count > 0) {
      if (buffer.empty() && !receive_more()) return false;
      const std::size_t piece =
          static_cast<std::size_t>(std::min<std::uintmax_t>(count, buffer.size()));
      write_out(std::string_view(buffer).substr(0, piece));
      buffer.erase(0, piece);
      count -= piece;
    }
    return true;
  }

  [[noreturn]] void ended_early() const {
    cli::fail_because("the server closed before the end of the response",
                      fmt::format("incomplete response from {}", where));
  }
  [[noreturn]] void malformed(const std::string& why) const {
    cli::fail_because(why, fmt::format("malformed response from {}", where));
  }
  [[noreturn]] void timed_out() const {
    cli::fail_because(fmt::format("no whole response within {} s (--timeout)", timeout),
                      fmt::format("cannot read from {}", where));
  }
};

// A line of the server's, fit to show in an error: at most 40 characters, and
// none that would upset a terminal.
std::string printable(std::string_view line) {
  std::string shown(line.substr(0, 40));
  std::replace_if(
      shown.begin(), shown.end(), [](unsigned char c) { return c < ' ' || c >= 127; }, '?');
  return shown;
}

// Field names are case-insensitive: Content-Length, content-length, CONTENT-LENGTH.
bool field_is(std::string_view name, std::string_view wanted) {
  return std::equal(
      name.begin(), name.end(), wanted.begin(), wanted.end(),
      [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); });
}

// What the head says about the body to come.
struct Head {
  int status = 0;
  std::optional<std::uintmax_t> content_length;
  bool transfer_encoding = false;  // the body is encoded; its end is the encoding's
  bool chunked = false;            // ... and the last encoding is chunked, which we decode
};

// region: read_head
// The status line, "HTTP/1.1 200 OK": a version, a three-digit code, and a
// reason for people (which may be empty). Then "Name: value" fields, up to an
// empty line. With --include each line goes to stdout as it comes.
Head read_head(Incoming& incoming, bool include) {
  Head head;
  std::size_t head_size = 0;
  while (true) {
    const std::optional<std::string> line = incoming.line();
    if (!line && head.status == 0) incoming.malformed("the server closed without a response");
    if (!line) incoming.ended_early();
    if ((head_size += line->size()) > 65536) incoming.malformed("a head over 64 KiB");
    if (include) write_out(*line + "\r\n");
    const auto digit = [&](std::size_t at) {
      return at < line->size() && std::isdigit(static_cast<unsigned char>((*line)[at]));
    };
    if (head.status == 0) {
      if (!line->starts_with("HTTP/1.") || !digit(7) || (*line)[8] != ' ' || !digit(9) ||
          (*line)[9] == '0' || !digit(10) || !digit(11) ||
          (line->size() > 12 && (*line)[12] != ' '))
        incoming.malformed(fmt::format("not an HTTP/1 status line: '{}'", printable(*line)));
      head.status = std::stoi(line->substr(9, 3));
      continue;
    }
    if (line->empty()) return head;                               // the end of the head
    if (line->front() == ' ' || line->front() == '\t') continue;  // an old field's value goes on
    const std::size_t colon = line->find(':');
    if (colon == 0 || colon == std::string::npos)
      incoming.malformed(fmt::format("a field line without 'Name:': '{}'", printable(*line)));
    const std::string_view name = std::string_view(*line).substr(0, colon);
    std::string_view value = std::string_view(*line).substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
      value.remove_suffix(1);
    if (field_is(name, "Content-Length")) {
      std::uintmax_t length = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (error != std::errc{} || end != value.data() + value.size() || value.empty() ||
          (head.content_length && *head.content_length != length))
        incoming.malformed(fmt::format("a wrong Content-Length: '{}'", printable(value)));
      head.content_length = length;
    }
    if (field_is(name, "Transfer-Encoding")) {  // "gzip, chunked": chunked must come last
      std::string_view last = value.substr(value.find_last_of(',') + 1);
      while (!last.empty() && last.front() == ' ')
        last.remove_prefix(1);
      head.transfer_encoding = true;
      head.chunked = field_is(last, "chunked");
    }
  }
}
// endregion

// region: chunked
// Transfer-Encoding: chunked, for a body whose length the server does not
// know as it starts (a page still being made): pieces, each after its size
// in hex on a line of its own, "1a\r\n" + 26 bytes + "\r\n", up to a piece
// of size 0; then trailer fields, if any, and an empty line.
void copy_chunked_body(Incoming& incoming) {
  while (true) {
    const std::optional<std::string> size_line = incoming.line();
    if (!size_line) incoming.ended_early();
    std::uintmax_t size = 0;
    const char* const last = size_line->data() + size_line->size();
    const auto [end, error] = std::from_chars(size_line->data(), last, size, 16);
    // After the size may come ";name=value" extensions: they mean nothing to us.
    if (error != std::errc{} || (end != last && *end != ';' && *end != ' ' && *end != '\t'))
      incoming.malformed(fmt::format("a chunk size that is not hex: '{}'", printable(*size_line)));
    if (size == 0) break;
    if (!incoming.copy_out(size)) incoming.ended_early();
    const std::optional<std::string> after = incoming.line();
    if (!after) incoming.ended_early();
    if (!after->empty()) incoming.malformed("a chunk longer than its size");
  }
  std::optional<std::string> trailer;
  while ((trailer = incoming.line()) && !trailer->empty()) {
  }  // trailer fields: nothing we need
  if (!trailer) incoming.ended_early();
}
// endregion

int main(int argc, char** argv) {
  cli::Options options(
      argc, argv,
      "usage: client [--include] [--head] [--timeout SECONDS] URL\n"
      "Sends one HTTP GET to URL (http://HOST[:PORT]/PATH; IPv6 as\n"
      "http://[::1]:8888/) and writes the body to standard output, unchanged.\n"
      "  --include          the status line and fields first\n"
      "  --head             send HEAD instead: the head alone (shown, as curl -I)\n"
      "  --timeout SECONDS  give up when the whole response has not come\n"
      "                     that long after connecting (default 30)\n"
      "Exits 0 on any complete response (a 404 too), 1 when none came.\n");
  const bool head_only = options.flag("--head");
  const bool include = options.flag("--include") || head_only;
  const double timeout = options.seconds("--timeout", 30);
  const std::vector<std::string> urls = options.rest();
  if (urls.size() != 1)
    options.bad(urls.empty() ? "client needs a URL: client http://HOST[:PORT]/PATH"
                             : "client takes one URL");
  const Url url = parse_url(urls[0], options);
  const net::Startup startup;

  const net::Socket s = connect_to(url.host, url.port);
  const std::string host =
      url.host.find(':') == std::string::npos ? url.host : "[" + url.host + "]";
  const std::string where = fmt::format("{}:{}", host, url.port);

  // region: request
  // One request, and "Connection: close": after this answer the server
  // closes at once, rather than keep us (and a slot of its own) alive until
  // its idle time-out; and the close can end a body that has no length.
  const std::string request = fmt::format(
      "{} {} HTTP/1.1\r\nHost: {}{}\r\nUser-Agent: spoon4-client\r\nAccept: */*\r\n"
      "Connection: close\r\n\r\n",
      head_only ? "HEAD" : "GET", url.target, host,
      url.port == 80 ? "" : fmt::format(":{}", url.port));
  if (net::set_timeout(s.get(), SO_SNDTIMEO, timeout) != 0) cli::fail("setsockopt SO_SNDTIMEO");
  if (!send_all(s.get(), request)) cli::fail("send to {}", where);
  // endregion

  const auto deadline = std::chrono::steady_clock::now() +  // for the whole response, from here
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(timeout));
  Incoming incoming{s.get(), where, deadline, timeout, {}};
  Head head = read_head(incoming, include);
  // 100 Continue, 103 Early Hints: a word before the answer; the answer follows.
  while (head.status / 100 == 1)
    head = read_head(incoming, include);

  // region: body
  // Where does the body end? RFC 9112 §6.3, in its order: a HEAD's answer,
  // 204 and 304 have none; then chunked; then Content-Length; else the close.
  if (head_only || head.status == 204 || head.status == 304) return 0;
  if (head.chunked) {
    copy_chunked_body(incoming);
  } else if (head.content_length && !head.transfer_encoding) {
    if (!incoming.copy_out(*head.content_length)) incoming.ended_early();
  } else {  // HTTP/1.0's way, and any encoding but chunked: the body ends at the close
    do {
      write_out(incoming.buffer);
      incoming.buffer.clear();
    } while (incoming.receive_more());
  }
  // endregion
  return 0;
}
