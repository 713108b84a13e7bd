// spoon4-webserver/http.hpp — the little HTTP both web servers speak.
//
// Sockets carry bytes, not requests (the talk's Fact: there is no EOT). HTTP
// says where a request's head ends: at the first empty line. This header finds
// that line, reads the request line and the few header fields a server must
// look at, and writes a response with honest `\r\n` line ends. The servers
// decide what to answer; this file only knows the grammar.
#pragma once

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace http {

// A head bigger than this gets 431. It also caps what one client can make us hold.
inline constexpr std::size_t max_head = 8192;

struct Request {
  enum class State { incomplete, complete, bad, too_large } state = State::incomplete;
  std::size_t length = 0;  // bytes of the head, its empty line included
  std::string_view method, target, version, head;
  bool keep_alive = false;  // may another request follow on this connection?
};

inline bool same_text(std::string_view a, std::string_view b) {  // ignoring case
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

inline bool is_token(std::string_view text) {  // a method or a field name: no spaces, no controls
  return !text.empty() && std::ranges::all_of(text, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

inline std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// The request line: METHOD SP TARGET SP HTTP/1.x (1.0 or 1.1: what this server speaks).
inline bool parse_request_line(std::string_view line, Request& request) {
  line = trim(line);
  const std::size_t space1 = line.find(' ');
  const std::size_t space2 = line.find(' ', space1 + 1);
  if (space1 == std::string_view::npos || space2 == std::string_view::npos) return false;
  request.method = line.substr(0, space1);
  request.target = line.substr(space1 + 1, space2 - space1 - 1);
  request.version = line.substr(space2 + 1);
  // A control character (a NUL, say) in the target is not HTTP: 400, not a
  // name looked up with the NUL cutting it short.
  const bool has_control = std::ranges::any_of(
      request.target, [](char c) { return static_cast<unsigned char>(c) < 0x21 || c == 0x7f; });
  return is_token(request.method) && !request.target.empty() && !has_control &&
         (request.version == "HTTP/1.1" || request.version == "HTTP/1.0");
}

// Reads the request at the start of `data`. Lines end in "\r\n" (a bare "\n"
// is forgiven, as RFC 9112 allows, so you can type a request into `nc`).
inline Request parse(std::string_view data) {
  Request request;
  const std::size_t first_end = data.find('\n');
  std::size_t end = data.find("\n\r\n");  // the line end before the empty line
  std::size_t blank = 3;
  if (const std::size_t bare = data.find("\n\n"); bare < end) {  // bare "\n"s came first
    end = bare;
    blank = 2;
  }
  // Judged in one order, so that the answer never depends on how the bytes
  // were cut on the way (all at once, or a few at a time): a request line over
  // max_head is 431; then a wrong request line is 400, without waiting for
  // the rest; then a head over max_head is 431.
  const std::size_t line_length = first_end == std::string_view::npos ? data.size() : first_end;
  if (line_length > max_head) {
    request.state = Request::State::too_large;
    return request;
  }
  if (first_end != std::string_view::npos &&
      !parse_request_line(data.substr(0, first_end), request)) {
    request.state = Request::State::bad;
    return request;
  }
  if (end == std::string_view::npos) {  // not all here yet
    if (data.size() > max_head) request.state = Request::State::too_large;
    return request;
  }
  request.length = end + blank;
  if (request.length > max_head) {
    request.state = Request::State::too_large;
    return request;
  }
  request.state = Request::State::bad;  // until every line has passed
  request.head = data.substr(0, request.length);

  // The header fields: "Name: value", one a line. A few of them matter to us.
  bool has_host = false;
  bool has_body = false;
  bool close = request.version == "HTTP/1.0";  // 1.0 closes unless asked to keep alive
  std::string_view fields = data.substr(first_end + 1, end + 1 - (first_end + 1));
  while (!fields.empty()) {
    const std::size_t eol = fields.find('\n');
    const std::string_view field = fields.substr(0, eol);
    fields.remove_prefix(eol + 1);
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) return request;
    if (field.find('\0') != std::string_view::npos) return request;  // RFC 9110 §5.5: reject
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    if (same_text(name, "Host")) has_host = true;
    if (same_text(name, "Connection")) close = !same_text(value, "keep-alive");
    // We never read a body: after one, the next request would start mid-body.
    if (same_text(name, "Transfer-Encoding") || (same_text(name, "Content-Length") && value != "0"))
      has_body = true;
  }
  if (request.version == "HTTP/1.1" && !has_host) return request;  // RFC 9112: 400
  request.keep_alive = !close && !has_body;  // whatever order the fields came in
  request.state = Request::State::complete;
  return request;
}

// The status a request earns by its form alone; 0 while it is incomplete.
inline int status_of(const Request& request) {
  switch (request.state) {
    case Request::State::incomplete:
      return 0;
    case Request::State::bad:
      return 400;
    case Request::State::too_large:
      return 431;
    case Request::State::complete:
      break;
  }
  return request.method == "GET" || request.method == "HEAD" ? 200 : 405;
}

inline std::string_view reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Internal Server Error";
  }
}

// What a file holds, told by its extension (".html"), for the Content-Type field.
inline std::string_view content_type(std::string_view extension) {
  if (extension == ".html" || extension == ".htm") return "text/html; charset=utf-8";
  if (extension == ".txt" || extension == ".md") return "text/plain; charset=utf-8";
  // Source code, shown as text: a browser offers to download a type it does not know.
  if (extension == ".cpp" || extension == ".hpp" || extension == ".h" || extension == ".c")
    return "text/plain; charset=utf-8";
  if (extension == ".css") return "text/css";
  if (extension == ".js") return "text/javascript";
  if (extension == ".json") return "application/json";
  if (extension == ".png") return "image/png";
  if (extension == ".jpg" || extension == ".jpeg") return "image/jpeg";
  if (extension == ".svg") return "image/svg+xml";
  return "application/octet-stream";
}

// "Sun, 06 Nov 1994 08:49:37 GMT": a server with a clock must send a Date.
// Made once a second, not once a request (std::gmtime's buffer is shared:
// fine for our one thread).
inline std::string_view date() {
  static std::time_t made = 0;
  static std::array<char, 64> text{};
  if (const std::time_t now = std::time(nullptr); now != made) {
    std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&now));
    made = now;
  }
  return text.data();
}

// Appends a whole response to `out`: the status line, the fields, the empty
// line, then the body (none for HEAD: the same fields, so Content-Length
// still says how long the body would be). respond_head() writes the head
// alone, for a body that follows later (a file sent in pieces).
inline void respond_head(std::string& out, int status, std::string_view content_type,
                         std::uintmax_t content_length, bool keep_alive) {
  out += fmt::format(
      "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
      "Connection: {}\r\n{}\r\n",
      status, reason(status), date(), content_type, content_length,
      keep_alive ? "keep-alive" : "close", status == 405 ? "Allow: GET, HEAD\r\n" : "");
}
inline void respond(std::string& out, int status, std::string_view content_type,
                    std::string_view body, bool head_only, bool keep_alive) {
  respond_head(out, status, content_type, body.size(), keep_alive);
  if (!head_only) out.append(body);
}

// An error's answer: a short text body, and the connection closes after it.
inline void respond_error(std::string& out, int status) {
  respond(out, status, "text/plain; charset=utf-8", fmt::format("{} {}\n", status, reason(status)),
          false, false);
}

}  // namespace http
