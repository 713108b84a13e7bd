// tests/spoon4_client_test.cpp — Spoon 4's two HTTP clients, held to the contract.
//
// client (by hand) and curl_client (libcurl) fetch from real servers — our
// own poll_server, Debian's nginx with a config of the test's own, Python's
// http.server — and from a server the test plays itself (harness::Listener),
// which can send what no real server would: a body in one-byte pieces, a
// broken status line, nothing at all.
#include "tests/support/harness.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

using harness::Child;
using harness::Connection;
using harness::own_build;
using harness::same_bytes;
using namespace std::chrono_literals;

namespace {

const std::string kClient = "spoon4-webserver/client";
const std::string kCurlClient = "spoon4-webserver/curl_client";

std::string url_of(std::uint16_t port, const std::string& path = "/",
                   const std::string& host = "127.0.0.1") {
  return "http://" + host + ":" + std::to_string(port) + path;
}

// Plays a server: takes the client's connection and reads its request, up
// to the empty line that ends it.
std::pair<Connection, std::string> take_request(const harness::Listener& listener) {
  Connection connection = listener.accept();
  std::string request;
  while (request.find("\r\n\r\n") == std::string::npos) {
    const std::string piece = connection.receive_some();
    if (piece.empty()) {
      ADD_FAILURE() << "no whole request came; so far: " << request;
      break;
    }
    request += piece;
  }
  return {std::move(connection), request};
}

// The head and the body of a client's --include output.
std::pair<std::string, std::string> split_head(const std::string& out) {
  const std::size_t end = out.find("\r\n\r\n");
  if (end == std::string::npos) return {out, ""};
  return {out.substr(0, end + 4), out.substr(end + 4)};
}

// The request a client sends for url_of(port), as a failure shows it.
std::string get_line(std::uint16_t port) {
  return "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n...";
}

std::string random_bytes(std::size_t size) {
  std::mt19937 random(12345);
  std::string bytes(size, '\0');
  for (char& byte : bytes)
    byte = static_cast<char>(random() & 0xff);
  for (const char c : {'\0', '\r', '\n', '\x1a', '\xff'})
    bytes += c;  // every byte a text mode might touch, surely there
  return bytes;
}

#ifdef _WIN32
#define LINUX_PEERS_ONLY() GTEST_SKIP() << "nginx and Python's http.server run in the Linux build"
#else
#define LINUX_PEERS_ONLY() (void)0
#endif

// A program on PATH (or in /usr/sbin, where Debian puts nginx), or nothing.
std::optional<std::string> find_program(const std::string& name) {
  const char* const path_variable = std::getenv("PATH");
  std::string path = path_variable != nullptr ? path_variable : "";
  path += ":/usr/sbin:/sbin";
  for (std::size_t start = 0; start <= path.size();) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::filesystem::path candidate =
        std::filesystem::path(path.substr(start, end - start)) / name;
    std::error_code error;
    if (end > start && std::filesystem::is_regular_file(candidate, error))
      return candidate.string();
    start = end + 1;
  }
  return std::nullopt;
}

// Debian's nginx, one process, on a free port of 127.0.0.1, serving `root`,
// with a config of its own in `dir`: /chunked/NAME is root/NAME passed
// through nginx's SSI filter, which drops the length, so nginx sends it
// chunked; everything else is a plain file (with a Content-Length) or a 404.
struct Nginx {
  std::optional<Child> process;
  std::uint16_t port = 0;
  Nginx(const std::filesystem::path& dir, const std::filesystem::path& root) {
    const std::optional<std::string> nginx = find_program("nginx");
    if (!nginx) {
      ADD_FAILURE() << "nginx is missing: ./workshop test installs it (nginx-light)";
      return;
    }
    // A free port, taken and let go: nginx binds it a moment later. Another
    // program may take it between; then nginx fails to bind, and we try again.
    for (int attempt = 0; attempt < 5 && !process; ++attempt) {
      { const net::Socket probe = harness::bound_to_loopback(SOCK_STREAM, port); }
      harness::write_file(dir / "nginx.conf", fmt::format(R"(daemon off;
master_process off;
pid {0}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 64; }}
http {{
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path {0}/body;
  proxy_temp_path {0}/proxy;
  fastcgi_temp_path {0}/fastcgi;
  uwsgi_temp_path {0}/uwsgi;
  scgi_temp_path {0}/scgi;
  server {{
    listen 127.0.0.1:{1};
    root {2};
    location /chunked/ {{ alias {2}/; ssi on; ssi_types *; }}
  }}
}}
)",
                                                          dir.string(), port, root.string()));
      process.emplace(*nginx, std::vector<std::string>{"-p", dir.string(), "-c",
                                                       (dir / "nginx.conf").string()});
      // nginx says this once its socket listens (ngx_os_status, after the cycle's init).
      if (!process->wait_for_err("getrlimit(RLIMIT_NOFILE)")) process.reset();
    }
    if (!process) ADD_FAILURE() << "nginx did not start; its config is in " << dir;
  }
};

// Python's http.server answering every GET as HTTP/1.0 does: no length, the
// body ends when the server closes. (BaseHTTPRequestHandler speaks HTTP/1.0
// unless told otherwise.) The body comes in many writes.
const char* const kPythonServer = R"(
import http.server
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        for i in range(2000):
            self.wfile.write(b"line %d of a body that ends at the close\n" % i)
            self.wfile.flush()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print("port", server.server_address[1], flush=True)
server.serve_forever()
)";

std::string python_body() {
  std::string body;
  for (int i = 0; i < 2000; ++i)
    body += "line " + std::to_string(i) + " of a body that ends at the close\n";
  return body;
}

}  // namespace

// --- Both clients: what the contract says of both ---------------------------

class BothClients : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
#ifndef CURL_CLIENT_BUILT
    if (GetParam() == kCurlClient)
      GTEST_SKIP()
          << "curl_client is not built here: no libcurl (the Windows cross build has none)";
#endif
  }
  [[nodiscard]] static Child start(std::vector<std::string> args) {
    return Child(GetParam(), std::move(args));
  }
  [[nodiscard]] static harness::Result fetch(std::vector<std::string> args) {
    return harness::run(GetParam(), std::move(args));
  }
  static Child poll_server(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--port", "0"});
    return Child("spoon4-webserver/poll_server", args);
  }
  std::filesystem::path dir = harness::temp_dir("spoon4");
  void TearDown() override { std::filesystem::remove_all(dir); }
};

INSTANTIATE_TEST_SUITE_P(, BothClients, testing::Values(kClient, kCurlClient),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param == kClient ? "client" : "curlclient";
                         });

TEST_P(BothClients, HelpPrintsUsageToStdoutAndExitsZero) {
  const auto result = fetch({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("usage:"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--timeout"), std::string::npos) << result.out;
  EXPECT_EQ(result.err, "");
}

// 100 Continue, 103 Early Hints: a word before the answer, not the answer.
TEST_P(BothClients, SkipsAnInterimResponseToTheRealOne) {
  const harness::Listener listener;
  Child client = start({url_of(listener.port)});
  auto [connection, request] = take_request(listener);
  ASSERT_TRUE(
      connection.send_all("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  EXPECT_EQ(client.wait(5s), 0) << client.err();
  EXPECT_EQ(client.out(), "ok");
}

TEST_P(BothClients, DecodesNginxsChunkedBody) {
  LINUX_PEERS_ONLY();
  std::string page;
  for (int i = 0; i < 8000; ++i)
    page += "<p>paragraph " + std::to_string(i) + ", one of many chunks</p>\n";
  harness::write_file(dir / "www" / "page.html", page);
  const Nginx nginx(dir, dir / "www");
  ASSERT_TRUE(nginx.process);
  const auto result = fetch({"--include", url_of(nginx.port, "/chunked/page.html")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto [head, body] = split_head(result.out);
  EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << head;
  EXPECT_EQ(body.size(), page.size());
  EXPECT_TRUE(body == page) << "the body differs from the page";
}

TEST_P(BothClients, WritesABinaryFileFromNginxByteForByte) {
  LINUX_PEERS_ONLY();
  const std::string bytes = random_bytes(300000);
  harness::write_file(dir / "www" / "data.bin", bytes);
  const Nginx nginx(dir, dir / "www");
  ASSERT_TRUE(nginx.process);
  const auto result = fetch({url_of(nginx.port, "/data.bin")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.size(), bytes.size());
  EXPECT_TRUE(result.out == bytes) << "the bytes differ";
}

// Like curl: a 404 is a whole, well-formed answer, so the exit is 0.
TEST_P(BothClients, A404FromNginxIsACompleteResponseSoTheExitIsZero) {
  LINUX_PEERS_ONLY();
  std::filesystem::create_directories(dir / "www");
  const Nginx nginx(dir, dir / "www");
  ASSERT_TRUE(nginx.process);
  const auto result = fetch({"--include", url_of(nginx.port, "/missing.html")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto [head, body] = split_head(result.out);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 404 Not Found\r\n")) << head;
  EXPECT_NE(body.find("<title>404 Not Found</title>"), std::string::npos) << body;
  EXPECT_TRUE(body.ends_with("</html>\r\n")) << body;  // whole, by its Content-Length
}

TEST_P(BothClients, ReadsAnHttp10BodyThatEndsWhenTheServerCloses) {
  LINUX_PEERS_ONLY();
  if (!find_program("python3")) GTEST_FAIL() << "python3 is missing: ./workshop test installs it";
  Child server("/usr/bin/env", {"python3", "-c", kPythonServer});
  const auto result = fetch({"--include", url_of(server.port(), "/anything")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto [head, body] = split_head(result.out);
  EXPECT_TRUE(head.starts_with("HTTP/1.0 200 OK\r\n")) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_EQ(body.size(), python_body().size());
  EXPECT_TRUE(body == python_body()) << "the body differs";
}

// --- client alone (WebClient: spoon2 has its own Client)
// -------------------------------------------------------------

TEST(WebClient, HttpsIsABadCommandLineThatPointsAtCurlClient) {
  const auto result = harness::run(kClient, {"https://127.0.0.1/"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
  EXPECT_NE(result.err.find("curl_client"), std::string::npos) << result.err;
}

// Connection: close asks poll_server, which keeps connections alive, to
// close after this one answer; it says so in the answer.
TEST(WebClient, AsksForConnectionCloseAndPollServerAgreesInItsAnswer) {
  Child server("spoon4-webserver/poll_server", {"--port", "0", "--timeout", "60"});
  const auto result = harness::run(kClient, {"--include", url_of(server.port())});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("\r\nConnection: close\r\n"), std::string::npos) << result.out;
  EXPECT_TRUE(server.wait_for_line(" closed", 5s));
}

TEST(WebClient, SaysConnectionCloseInItsRequest) {
  const harness::Listener listener;
  Child client(kClient, {url_of(listener.port)});
  auto [connection, request] = take_request(listener);
  EXPECT_NE(request.find("\r\nConnection: close\r\n"), std::string::npos) << request;
  ASSERT_TRUE(connection.send_all("HTTP/1.1 204 No Content\r\n\r\n"));
  EXPECT_EQ(client.wait(5s), 0) << client.err();
}

// --- The stages of client and of curl_client -----------------------------------
//
// One suite for the two (they keep one contract), instantiated once per
// client: Client/HttpClientStages is client's, CurlClient/HttpClientStages
// curl_client's. The servers are the test's own: poll_server, or the test
// playing one (a Listener) to send what no real server would.

const harness::StagesOf client_stages(kClient, "Client/HttpClientStages");
const harness::StagesOf curl_client_stages(kCurlClient, "CurlClient/HttpClientStages");
const std::string kReadme = "spoon4-webserver/README.md, 'The other side: an HTTP client by hand'";

class HttpClientStages : public harness::Stages, public testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    harness::Stages::SetUp();
#ifndef CURL_CLIENT_BUILT
    if (GetParam() == kCurlClient)
      GTEST_SKIP()
          << "curl_client is not built here: no libcurl (the Windows cross build has none)";
#endif
  }
  [[nodiscard]] static Child start(std::vector<std::string> args) {
    return Child(GetParam(), std::move(args));
  }
  [[nodiscard]] static harness::Result fetch(std::vector<std::string> args) {
    return harness::run(GetParam(), std::move(args));
  }
  static Child poll_server(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--port", "0"});
    return Child("spoon4-webserver/poll_server", args);
  }
  // How to play the server by hand: nc listening on `port`, sending `response`.
  static std::string nc_playing(std::uint16_t port, const std::string& response) {
    return "printf '" + printf_text(response) + "' | nc -N -l 127.0.0.1 " + std::to_string(port) +
           " & " + harness::shown_command(GetParam()) + " " + url_of(port);
  }
  // The bytes as printf's format gives them back: \r and \n spelt out.
  static std::string printf_text(const std::string& bytes) {
    std::string printed;
    for (const char c : bytes)
      printed += c == '\r' ? "\\r" : c == '\n' ? "\\n" : std::string(1, c);
    return printed;
  }
  // A response from the test playing the server, then its close; the client's result.
  static harness::Result answered_with(const std::string& response, bool byte_by_byte = false) {
    const harness::Listener listener;
    harness::by_hand(nc_playing(listener.port, response));
    Child client = start({url_of(listener.port)});
    {
      auto [connection, request] = take_request(listener);
      if (byte_by_byte) {
        for (const char byte : response)
          if (!connection.send_all(std::string(1, byte))) break;
      } else {
        connection.send_all(response);
      }
    }  // and close
    const auto code = client.wait(5s);
    return {code, client.out(), client.err()};
  }
};

TEST_P(HttpClientStages, prints_the_body) {
  harness::hint(
      "connect, send 'GET /PATH HTTP/1.1' with a Host field and an empty line, then write the "
      "body, and only the body, to stdout and exit 0 (" +
      kReadme + ")");
  Child server = poll_server();
  harness::by_hand(harness::shown_command(GetParam()) + " " + url_of(server.port()) +
                   "   (against a server: curl -s " + url_of(server.port()) + " does the same)");
  const auto result = fetch({url_of(server.port())});
  if (result.exit_code != 0)
    ADD_FAILURE() << harness::exit_text(result.exit_code) << " (expected 0); its stderr "
                  << harness::visible(result.err);
  STAGE_EXPECT(same_bytes(get_line(server.port()), "Hello, World!", result.out))
      << "\n(its stdout)";
  if (own_build(GetParam())) {
    EXPECT_EQ(result.err, "");
  }
}

TEST_P(HttpClientStages, asks_for_the_path_with_its_host) {
  harness::hint(
      "the request line names the URL's path and query (never its #fragment), and Host the "
      "URL's host and port (" +
      kReadme + ")");
  const harness::Listener listener;
  harness::by_hand("nc -l 127.0.0.1 " + std::to_string(listener.port) + " & " +
                   harness::shown_command(GetParam()) + " " +
                   url_of(listener.port, "/some/path?x=1"));
  Child client = start({url_of(listener.port, "/some/path?x=1#not-sent")});
  auto [connection, request] = take_request(listener);
  STAGE_EXPECT(
      same_bytes({}, "GET /some/path?x=1 HTTP/1.1\r\n", request.substr(0, request.find('\n') + 1)))
      << "\n(its request line)";
  EXPECT_NE(request.find("\r\nHost: 127.0.0.1:" + std::to_string(listener.port) + "\r\n"),
            std::string::npos)
      << "no 'Host: 127.0.0.1:" << listener.port << "' in " << harness::visible(request);
  ASSERT_TRUE(connection.send_all("HTTP/1.1 204 No Content\r\n\r\n"));  // no body, by its status
  EXPECT_EQ(client.wait(5s), 0) << "after '204 No Content' (no body): " << client.err();
  EXPECT_EQ(client.out(), "");
}

// The server keeps the connection open after the body: the body's end is
// where Content-Length says, not the close.
TEST_P(HttpClientStages, stops_at_content_length) {
  harness::hint(
      "Fact: there is no EOT on a socket: the body ends after Content-Length bytes, and the "
      "server may keep the connection open; stop there, do not wait for the close (" +
      kReadme + ")");
  const harness::Listener listener;
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  harness::by_hand("(printf '" + printf_text(response) + "'; sleep 10) | nc -l 127.0.0.1 " +
                   std::to_string(listener.port) + " & " + harness::shown_command(GetParam()) +
                   " " + url_of(listener.port));
  Child client = start({url_of(listener.port)});
  auto [connection, request] = take_request(listener);
  ASSERT_TRUE(connection.send_all(response));
  const auto code = client.wait(5s);
  if (code != 0)
    ADD_FAILURE() << harness::exit_text(code)
                  << " within 5 s, with the connection still open (expected 0)";
  STAGE_EXPECT(same_bytes(response, "hello", client.out())) << "\n(its stdout)";
}

TEST_P(HttpClientStages, include_writes_the_head_first) {
  harness::hint("--include: the status line and the fields, as they came, then the body (" +
                kReadme + ")");
  Child server = poll_server();
  harness::by_hand(harness::shown_command(GetParam()) + " --include " + url_of(server.port()) +
                   "   (curl -si " + url_of(server.port()) + " does the same)");
  const auto result = fetch({"--include", url_of(server.port())});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto [head, body] = split_head(result.out);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << harness::visible(head);
  EXPECT_NE(head.find("\r\nContent-Length: 13\r\n"), std::string::npos) << harness::visible(head);
  STAGE_EXPECT(same_bytes({}, "Hello, World!", body)) << "\n(after the head)";
}

// poll_server keeps a connection open after a HEAD's answer (curl_client
// lets it): a client that waited for the 13 bytes Content-Length announces
// would wait until its time-out.
TEST_P(HttpClientStages, head_writes_the_head_alone) {
  harness::hint(
      "--head: send HEAD, write the head, and stop: the answer to HEAD has no body, whatever "
      "its Content-Length says (" +
      kReadme + ")");
  Child server = poll_server({"--timeout", "60"});
  harness::by_hand(harness::shown_command(GetParam()) + " --head " + url_of(server.port()) +
                   "   (curl -sI " + url_of(server.port()) + " does the same)");
  const auto result = fetch({"--head", url_of(server.port())});
  EXPECT_EQ(result.exit_code, 0) << "with poll_server keeping the connection open: "
                                 << harness::exit_text(result.exit_code) << result.err;
  EXPECT_TRUE(result.out.starts_with("HTTP/1.1 200 OK\r\n")) << harness::visible(result.out);
  EXPECT_NE(result.out.find("\r\nContent-Length: 13\r\n"), std::string::npos)
      << harness::visible(result.out);
  EXPECT_TRUE(result.out.ends_with("\r\n\r\n")) << harness::visible(result.out);
}

// Chunks, a chunk extension and a trailer field, sent one byte at a time (as
// TCP may deliver them).
TEST_P(HttpClientStages, decodes_a_chunked_body) {
  harness::hint(
      "Transfer-Encoding: chunked: each chunk is its size in hex (maybe ';extensions'), "
      "\\r\\n, the bytes, \\r\\n; a 0 chunk and the trailer fields end the body (" +
      kReadme + ")");
  const std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: yes\r\n\r\n";
  const auto result = answered_with(response, true);
  EXPECT_EQ(result.exit_code, 0) << harness::exit_text(result.exit_code) << result.err;
  STAGE_EXPECT(same_bytes(response, "hello, chunked!", result.out)) << "\n(its stdout)";
}

TEST_P(HttpClientStages, reads_until_the_server_closes) {
  harness::hint(
      "no Content-Length and not chunked (HTTP/1.0's way): the body ends when the server "
      "closes; read until recv returns 0 (" +
      kReadme + ")");
  std::string body;
  for (int i = 0; i < 2000; ++i)
    body += "line " + std::to_string(i) + " of a body that ends at the close\n";
  const auto result = answered_with("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body);
  EXPECT_EQ(result.exit_code, 0) << harness::exit_text(result.exit_code) << result.err;
  STAGE_EXPECT(same_bytes("HTTP/1.0 200 OK ... (no length)", body, result.out)) << "\n(its stdout)";
}

TEST_P(HttpClientStages, exits_one_when_refused) {
  harness::hint(
      "connect() fails with 'Connection refused' when nothing listens: say 'error: ...' on "
      "stderr and exit 1 (" +
      kReadme + ")");
  std::uint16_t port = 0;
  const net::Socket bound = harness::bound_to_loopback(SOCK_STREAM, port);  // bound, not listening
  harness::by_hand(harness::shown_command(GetParam()) + " " + url_of(port) + "; echo \"exit $?\"");
  const auto result = fetch({url_of(port)});
  if (result.exit_code != 1)
    ADD_FAILURE() << harness::exit_text(result.exit_code) << " (expected 1)";
  if (own_build(GetParam())) {
    STAGE_EXPECT(same_bytes({},
                            "error: cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                                harness::reason(ECONNREFUSED) + "\n",
                            result.err))
        << "\n(its stderr)";
  } else if (!result.err.starts_with("error: ")) {
    ADD_FAILURE() << "stderr " << harness::visible(result.err) << " (expected 'error: ...')";
  }
  EXPECT_EQ(result.out, "");
}

// The listener's queue completes the handshake, and nobody ever answers.
TEST_P(HttpClientStages, gives_up_at_the_timeout) {
  harness::hint(
      "--timeout S: a server that says nothing for S seconds is an 'error: ...', exit 1 — "
      "never a wait without end (" +
      kReadme + ")");
  const harness::Listener listener;
  harness::by_hand("nc -l 127.0.0.1 " + std::to_string(listener.port) + " & " +
                   harness::shown_command(GetParam()) + " --timeout 0.5 " + url_of(listener.port) +
                   "; echo \"exit $?\"");
  const auto started = harness::Clock::now();
  Child client = start({"--timeout", "0.5", url_of(listener.port)});
  const auto code = client.wait(5s);
  if (code != 1)
    ADD_FAILURE() << harness::exit_text(code) << " within 5 s, with --timeout 0.5 (expected 1)";
  EXPECT_GE(harness::Clock::now() - started, 400ms) << "it gave up before its time-out";
  EXPECT_TRUE(client.err().starts_with("error: ")) << harness::visible(client.err());
}

TEST_P(HttpClientStages, a_malformed_response_exits_one) {
  harness::hint(
      "a response that is not HTTP (no status line, letters for digits, a bad length or "
      "chunk size) is an 'error: ...', exit 1 (" +
      kReadme + ")");
  const std::vector<std::string> responses = {
      "",                         // closed without a word
      "HELLO\r\n\r\n",            // not HTTP
      "HTTP/1.1 2OO OK\r\n\r\n",  // letters for digits
      "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
  };
  for (const std::string& response : responses) {
    const auto result = answered_with(response);
    EXPECT_EQ(result.exit_code, 1) << "answered " << harness::visible(response) << ": "
                                   << harness::exit_text(result.exit_code) << " (expected 1)";
    EXPECT_TRUE(result.err.starts_with("error: ")) << harness::visible(result.err);
  }
}

TEST_P(HttpClientStages, a_body_cut_short_exits_one) {
  harness::hint(
      "a close before the body Content-Length (or the chunks) promised is no complete "
      "response: write what came, then 'error: ...', exit 1 (" +
      kReadme + ")");
  const std::vector<std::string> responses = {
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly this\r\n",
  };
  for (const std::string& response : responses) {
    const auto result = answered_with(response);
    EXPECT_EQ(result.exit_code, 1) << "answered " << harness::visible(response) << ": "
                                   << harness::exit_text(result.exit_code) << " (expected 1)";
    EXPECT_TRUE(result.err.starts_with("error: ")) << harness::visible(result.err);
    if (own_build(GetParam())) {
      EXPECT_EQ(result.out, "only this");  // what came, came out
    }
  }
}

TEST_P(HttpClientStages, fetches_from_an_ipv6_literal) {
  if (!harness::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 on loopback here";
  harness::hint("an IPv6 literal is written in brackets, http://[::1]:PORT/; connect to ::1 (" +
                kReadme + ")");
  Child server = poll_server();
  harness::by_hand(harness::shown_command(GetParam()) + " " + url_of(server.port(), "/", "[::1]"));
  const auto result = fetch({url_of(server.port(), "/", "[::1]")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  STAGE_EXPECT(same_bytes({}, "Hello, World!", result.out)) << "\n(its stdout)";
}

TEST_P(HttpClientStages, refuses_a_bad_command_line) {
  harness::hint(
      "a bad command line — no URL, an unknown option, a scheme it cannot speak, a port over "
      "65535 — prints 'error: ...' on stderr, nothing on stdout, and exits 2");
  harness::by_hand(harness::shown_command(GetParam()) + " ftp://127.0.0.1/; echo \"exit $?\"");
  const std::vector<std::vector<std::string>> bad = {{},
                                                     {"--bogus", "http://127.0.0.1/"},
                                                     {"ftp://127.0.0.1/"},
                                                     {"127.0.0.1:8888"},
                                                     {"http://"},
                                                     {"http://127.0.0.1:99999/"},
                                                     {"--timeout", "soon", "http://127.0.0.1/"},
                                                     {"--timeout", "0", "http://127.0.0.1/"},
                                                     {"http://127.0.0.1/", "http://127.0.0.1/"}};
  for (const auto& args : bad) {
    const auto result = fetch(args);
    if (result.exit_code != 2 || !result.err.starts_with("error: ") || !result.out.empty())
      ADD_FAILURE() << "given " << testing::PrintToString(args) << ":\n  exit code "
                    << harness::exit_text(result.exit_code) << " (expected 2)\n  stderr    "
                    << harness::visible(result.err) << " (expected 'error: ...')\n  stdout    "
                    << harness::visible(result.out) << " (expected nothing)";
  }
}

INSTANTIATE_TEST_SUITE_P(Client, HttpClientStages, testing::Values(kClient),
                         [](const auto& /*info*/) { return "client"; });
INSTANTIATE_TEST_SUITE_P(CurlClient, HttpClientStages, testing::Values(kCurlClient),
                         [](const auto& /*info*/) { return "curlclient"; });
