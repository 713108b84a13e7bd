// tests/check_test.cpp — the homework checker (./workshop check) itself: a
// lesson's test binary in checker mode, run on a learner's programs (small
// Python ones, written here) and on the repository's own build.
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

// A correct echo server in the talk's language, as a learner might write it:
// only the contract (options, "port N", exit codes), none of our wording.
const char* const kEchoServer = R"(import argparse, signal, socket, sys

def bad(message):
    print(f"error: {message}\nTry '--help' for more information.", file=sys.stderr)
    sys.exit(2)

class Parser(argparse.ArgumentParser):
    def error(self, message):
        bad(message)

parser = Parser()
parser.add_argument("--host", default="::")
parser.add_argument("--port", default="50007")
parser.add_argument("--timeout", type=float, default=5.0)
options = parser.parse_args()
if not options.port.isdigit() or int(options.port) > 65535:
    bad(f"--port wants a number from 0 to 65535, not '{options.port}'")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((options.host, int(options.port)))
listener.listen()
print("listening on port", listener.getsockname()[1], flush=True)
while True:
    conn, address = listener.accept()
    conn.settimeout(options.timeout)
    with conn:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError as error:
            print("dropped", address, error, flush=True)
)";

// The classic bug: one recv taken as the whole message.
std::string one_recv_echo_server() {
  std::string source = kEchoServer;
  const std::string loop = R"(            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
)";
  const std::string once = R"(            conn.sendall(conn.recv(65536))
)";
  source.replace(source.find(loop), loop.size(), once);
  return source;
}

// A sensor in the talk's language (the phone of its last slide), as a
// learner might write it from the contract: one reading a datagram, in CSV.
const char* const kSensor = R"(import argparse, random, signal, socket, sys, time

def bad(message):
    print(f"error: {message}\nTry '--help' for more information.", file=sys.stderr)
    sys.exit(2)

class Parser(argparse.ArgumentParser):
    def error(self, message):
        bad(message)

def probability(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value

parser = Parser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=5555)
parser.add_argument("--rate", type=float, default=50)
parser.add_argument("--count", type=int)
parser.add_argument("--drop", type=probability, default=0)
parser.add_argument("--reorder", type=probability, default=0)
options = parser.parse_args()
if not 0 <= options.port <= 65535:
    bad(f"--port wants a number from 0 to 65535, not {options.port}")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
family, _, _, _, address = socket.getaddrinfo(options.host, options.port, type=socket.SOCK_DGRAM)[0]
phone = socket.socket(family, socket.SOCK_DGRAM)
start = time.monotonic()
held = None
sequence = 0
while options.count is None or sequence < options.count:
    # --rate is the sensor's own promise: it paces itself by the clock (the
    # test waits on the datagrams). One clock reading, so the wait is never < 0.
    time.sleep(max(0.0, start + sequence / options.rate - time.monotonic()))
    reading = f"{sequence},{time.monotonic() - start:.6f},0.000,0.000,9.810\n".encode()
    sequence += 1
    if random.random() < options.drop:
        continue
    if held is None and random.random() < options.reorder:
        held = reading
        continue
    phone.sendto(reading, address)
    if held:
        phone.sendto(held, address)
        held = None
if held:
    phone.sendto(held, address)
)";

// The classic bug: a dropped reading takes no number, so the gap never shows.
std::string numbers_only_what_it_sends_sensor() {
  std::string source = kSensor;
  const std::string numbered = R"(    sequence += 1
    if random.random() < options.drop:
        continue
)";
  const std::string unnumbered = R"(    if random.random() < options.drop:
        continue
    sequence += 1
)";
  source.replace(source.find(numbered), numbered.size(), unnumbered);
  return source;
}

// A small web server in the talk's language, as a learner might write it:
// raw sockets (no http.server), HTTP/1.1 with Content-Length and keep-alive,
// a thread per client, only the contract's options.
const char* const kWebServer = R"(import argparse, signal, socket, sys, threading

class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"error: {message}\nTry '--help' for more information.", file=sys.stderr)
        sys.exit(2)

parser = Parser()
parser.add_argument("--port", type=int, default=8888)
parser.add_argument("--timeout", type=float, default=5.0)
options = parser.parse_args()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

def answer(status, body, keep_alive):
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
    head += "Connection: " + ("keep-alive" if keep_alive else "close") + "\r\n\r\n"
    return head.encode() + body

def serve(conn):
    conn.settimeout(options.timeout)
    buffer = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, _, version = (lines[0].split(" ") + ["", ""])[:3]
            fields = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
                      for l in lines[1:] if ":" in l}
            keep_alive = version == "HTTP/1.1" and fields.get("connection") != "close"
            body = b"Hello, World!"
            response = answer("200 OK", body, keep_alive)
            if method == "HEAD":
                response = response[: -len(body)]
            conn.sendall(response)
            if not keep_alive:
                return

listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("::", options.port))
listener.listen()
print("port", listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
)";

// The talk's bug: a response without Content-Length (the body ends at the
// close). A browser copes; the stage named for it does not.
std::string web_server_without_content_length() {
  std::string source = kWebServer;
  const auto replace = [&source](const std::string& from, const std::string& to) {
    source.replace(source.find(from), from.size(), to);
  };
  replace(R"(\r\nContent-Length: {len(body)}\r\n")", R"(\r\n")");
  replace(R"(keep_alive = version == "HTTP/1.1" and fields.get("connection") != "close")",
          "keep_alive = False");
  return source;
}

void set_env(const char* name, const std::string& value) {
#ifdef _WIN32
  _putenv_s(name, value.c_str());
#else
  setenv(name, value.c_str(), 1);
#endif
}

// Runs a lesson's test binary as the checker of `program`, up to `stage`,
// against `command` (nothing: our own build).
harness::Result check(const std::string& binary, const std::string& program,
                      const std::vector<std::string>& command = {}, const std::string& stage = {}) {
  set_env("SPOON_CHECK_PROGRAM", program);
  set_env("SPOON_CHECK_STAGE", stage);
  std::vector<std::string> args;
  if (!command.empty()) {
    args.emplace_back("--");
    args.insert(args.end(), command.begin(), command.end());
  }
  auto result = harness::run("tests/" + binary, args, {}, 120s);
  set_env("SPOON_CHECK_PROGRAM", "");  // the children of later tests are not checked
  set_env("SPOON_CHECK_STAGE", "");
  return result;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The checker's PASS / FAIL / SKIP lines, one a line, without the time a slow
// stage adds ("  (1.2 s)": under a sanitizer any stage may be slow).
std::string stage_lines(const std::string& out) {
  std::string lines;
  std::size_t start = 0;
  for (std::size_t end = 0; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    std::string line = out.substr(start, end - start);
    if (!line.starts_with("PASS  ") && !line.starts_with("FAIL  ") && !line.starts_with("SKIP  "))
      continue;
    if (line.ends_with(" s)")) line.erase(line.rfind("  ("));
    lines += line + "\n";
  }
  return lines;
}

class Check : public testing::Test {
 protected:
  void SetUp() override {
#ifdef _WIN32
    GTEST_SKIP() << "the learner's programs here are Python, started on POSIX";
#else
    if (std::system("command -v python3 >/dev/null 2>&1") != 0)
      GTEST_FAIL() << "python3 is missing: the checker's own tests check Python programs";
#endif
  }
  std::filesystem::path dir = harness::temp_dir("check");
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& source) {
    harness::write_file(dir / name, source);
    return (dir / name).string();
  }
};

const std::vector<std::string> kEchoServerStages = {"prints_port",
                                                    "echoes_a_line",
                                                    "echoes_until_the_client_closes",
                                                    "serves_one_client_after_another",
                                                    "echoes_every_byte_of_a_mebibyte",
                                                    "survives_a_client_that_resets",
                                                    "drops_a_silent_client_after_the_timeout",
                                                    "drops_a_client_that_never_reads",
                                                    "serves_ipv6",
                                                    "exits_zero_on_sigterm",
                                                    "refuses_a_bad_command_line"};

}  // namespace

TEST_F(Check, APythonEchoServerPassesEveryStage) {
  const auto result = check("spoon2_echo_test", "spoon2-echo/echo_server",
                            {"python3", write("echo_server.py", kEchoServer)});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const std::string& stage : kEchoServerStages)
    EXPECT_TRUE(has(result.out, "PASS  " + stage) ||
                (stage == "serves_ipv6" && has(result.out, "SKIP  " + stage)))
        << stage << "\n"
        << result.out;
  EXPECT_TRUE(has(result.out, "checking python3 ")) << result.out;
}

TEST_F(Check, APythonEchoServerThatTakesOneRecvAsTheMessageFailsWhereThatShows) {
  const auto result = check("spoon2_echo_test", "spoon2-echo/echo_server",
                            {"python3", write("one_recv.py", one_recv_echo_server())});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const std::string& out = result.out;
  EXPECT_TRUE(has(out, "PASS  prints_port")) << out;  // (a slow stage's time may follow)
  EXPECT_TRUE(has(out, "PASS  echoes_a_line")) << out;
  // What a learner needs under the failure: sent, expected, what came, a
  // caret, the hint and the command to see it by hand, with the real port.
  EXPECT_TRUE(has(stage_lines(out), "FAIL  echoes_until_the_client_closes\n")) << out;
  EXPECT_TRUE(has(out,
                  "        sent      \"two\\n\" (4 bytes)\n"
                  "        expected  \"two\\n\" (4 bytes)\n"
                  "        got       \"\" (0 bytes)\n"
                  "                   ^ first difference, at byte 0"))
      << out;
  EXPECT_TRUE(has(out, "      hint: Fact: there is no EOT on a socket")) << out;
  EXPECT_TRUE(
      has(out, "      by hand: (printf 'one '; sleep 1; printf 'two\\n') | nc -N 127.0.0.1 "))
      << out;
  EXPECT_TRUE(has(out, "PASS  refuses_a_bad_command_line")) << out << "later stages run too";
  EXPECT_TRUE(has(out, "spoon2-echo/echo_server: ")) << out;
  EXPECT_TRUE(has(out, " failed, ")) << out;
}

TEST_F(Check, ACommandThatNeverPrintsItsPortFailsTheFirstStageAtOnceWithItsStderr) {
  const auto start = harness::Clock::now();
  const auto result =
      check("spoon2_echo_test", "spoon2-echo/echo_server",
            {"python3", write("no_port.py", "import sys\nsys.exit('cannot bind: no luck')\n")});
  EXPECT_LT(harness::Clock::now() - start, 5s);
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_TRUE(has(stage_lines(result.out), "FAIL  prints_port\n")) << result.out;
  EXPECT_TRUE(has(result.out, "printed no line with 'port N'")) << result.out;
  EXPECT_TRUE(has(result.out, "exited with code 1")) << result.out;
  EXPECT_TRUE(has(result.out, "cannot bind: no luck")) << result.out;
  EXPECT_TRUE(has(result.out, "SKIP  echoes_a_line\n")) << result.out;  // the rest cannot run
  EXPECT_TRUE(has(result.out, "0 of 11 stages passed, 1 failed, 10 skipped")) << result.out;
}

// The talk's bot looks for "PING" anywhere in what it read: someone's
// message that says PING gets a PONG. The checker says which stage shows it.
TEST_F(Check, APythonBotThatFindsPingAnywhereFailsPongOnlyToAPingCommand) {
  const char* const bot = R"(import argparse, socket, sys
parser = argparse.ArgumentParser()
for option in ("--server", "--port", "--nick", "--channel", "--log"):
    parser.add_argument(option)
options = parser.parse_args()
irc = socket.create_connection((options.server, int(options.port)))
def send(line):
    irc.sendall((line + "\r\n").encode())
send("NICK " + options.nick)
send("USER " + options.nick + " 0 * :" + options.nick)
while True:
    text = irc.recv(4096).decode()
    if not text:
        sys.exit(1)
    if " 001 " in text:
        send("JOIN " + options.channel)
    if "PING" in text:
        send("PONG " + text.split("PING", 1)[1].split("\r\n")[0].strip())
)";
  const auto result = check("spoon1_irc_test", "spoon1-irc/bot", {"python3", write("bot.py", bot)},
                            "pong_only_to_a_ping_command");
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(has(result.out, "PASS  registers")) << result.out;
  EXPECT_TRUE(has(result.out, "FAIL  pong_only_to_a_ping_command")) << result.out;
  EXPECT_TRUE(has(result.out, "PONG :gotcha")) << result.out;
}

TEST_F(Check, APythonSensorPassesEveryStage) {
  const auto result = check("extras_udp_stream_test", "extras-udp-stream/sensor",
                            {"python3", write("sensor.py", kSensor)});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const std::string stage :
       {"sends_readings_as_csv_lines", "stops_after_count_readings", "keeps_to_the_rate",
        "drop_loses_about_a_tenth", "reorder_swaps_readings", "refuses_a_bad_command_line"})
    EXPECT_TRUE(has(result.out, "PASS  " + stage)) << stage << "\n" << result.out;
}

TEST_F(Check, APythonSensorThatNumbersOnlyWhatItSendsFailsDropLosesAboutATenth) {
  const auto result =
      check("extras_udp_stream_test", "extras-udp-stream/sensor",
            {"python3", write("unnumbered.py", numbers_only_what_it_sends_sensor())},
            "drop_loses_about_a_tenth");
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(has(result.out, "PASS  keeps_to_the_rate")) << result.out;
  EXPECT_TRUE(has(result.out, "FAIL  drop_loses_about_a_tenth")) << result.out;
  EXPECT_TRUE(has(result.out, "\n      of 500 readings with --drop 0.1, 0 did not come\n"))
      << result.out;
  EXPECT_TRUE(has(result.out, "      hint: --drop P: throw each reading away")) << result.out;
  EXPECT_TRUE(has(result.out, "      by hand: nc -u -l ")) << result.out;
}

TEST_F(Check, APythonWebServerPassesTheFirstStagesOfServerAndOfPollServer) {
  const std::string server = write("web_server.py", kWebServer);
  const auto talks = check("spoon4_webserver_test", "spoon4-webserver/server", {"python3", server},
                           "sends_content_length");
  EXPECT_EQ(talks.exit_code, 0) << talks.out << talks.err;
  for (const std::string stage : {"prints_port", "answers_hello_world", "sends_content_length"})
    EXPECT_TRUE(has(talks.out, "PASS  " + stage)) << stage << "\n" << talks.out;
  EXPECT_TRUE(has(talks.out, "all 3 stages up to sends_content_length (of 14) passed"))
      << talks.out;
  const auto many = check("spoon4_webserver_test", "spoon4-webserver/poll_server",
                          {"python3", server}, "answers_head_with_the_head_alone");
  EXPECT_EQ(many.exit_code, 0) << many.out << many.err;
  for (const std::string stage : {"prints_port", "answers_hello_world", "sends_content_length",
                                  "keeps_the_connection_alive", "answers_head_with_the_head_alone"})
    EXPECT_TRUE(has(many.out, "PASS  " + stage)) << stage << "\n" << many.out;
}

TEST_F(Check, APythonWebServerWithoutContentLengthFailsSendsContentLength) {
  const auto result = check("spoon4_webserver_test", "spoon4-webserver/server",
                            {"python3", write("no_length.py", web_server_without_content_length())},
                            "sends_content_length");
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const std::string& out = result.out;
  EXPECT_EQ(stage_lines(out),
            "PASS  prints_port\nPASS  answers_hello_world\nFAIL  sends_content_length\n")
      << out;
  EXPECT_TRUE(has(out, "no Content-Length field in the answer's head: \"HTTP/1.1 200 OK\\r\\n"))
      << out;
  EXPECT_TRUE(has(out, "      hint: without Content-Length")) << out;
  EXPECT_TRUE(has(out, "      by hand: curl -i http://127.0.0.1:")) << out;
}

// The talk's own server, given the contract's --port and "port N" line: it
// does what the talk says (stages 1 and 2) and fails where the lesson fixes it.
TEST_F(Check, TheTalksWebServerPassesItsFirstStagesAndFailsSendsContentLength) {
  const char* const talks = R"(import argparse, socket
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8888)
PORT = parser.parse_args().port
listen_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listen_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listen_socket.bind(('', PORT))
listen_socket.listen(1)
print(f'port {listen_socket.getsockname()[1]}', flush=True)
while True:
    client_connection, client_address = listen_socket.accept()
    request_data = client_connection.recv(1024)
    print(request_data.decode('utf-8'))
    http_response = b"""\
HTTP/1.1 200 OK

Hello, World!
"""
    client_connection.sendall(http_response)
    client_connection.close()
)";
  const auto result = check("spoon4_webserver_test", "spoon4-webserver/server",
                            {"python3", write("talk.py", talks)}, "sends_content_length");
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_EQ(stage_lines(result.out),
            "PASS  prints_port\nPASS  answers_hello_world\nFAIL  sends_content_length\n")
      << result.out;
  EXPECT_TRUE(
      has(result.out,
          "\n      no Content-Length field in the answer's head: \"HTTP/1.1 200 OK\\n\\n\"\n"))
      << result.out;
}

TEST_F(Check, StageStopsAfterTheNamedStage) {
  const auto result = check("spoon2_echo_test", "spoon2-echo/echo_server", {}, "echoes_a_line");
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_TRUE(has(result.out, "PASS  prints_port")) << result.out;
  EXPECT_TRUE(has(result.out, "PASS  echoes_a_line")) << result.out;
  EXPECT_FALSE(has(result.out, "echoes_until_the_client_closes")) << result.out;
  EXPECT_TRUE(has(result.out,
                  "\nspoon2-echo/echo_server: all 2 stages up to echoes_a_line (of 11) passed\n"))
      << result.out;
}

TEST_F(Check, BadCommandLinesExitTwoNamingWhatThereIs) {
  const auto stage = check("spoon2_echo_test", "spoon2-echo/echo_server", {}, "no_such_stage");
  EXPECT_EQ(stage.exit_code, 2);
  EXPECT_TRUE(stage.err.starts_with("error: no stage 'no_such_stage' in spoon2-echo/echo_server\n"))
      << stage.err;
  EXPECT_TRUE(has(stage.err, "\n  prints_port\n  echoes_a_line\n")) << stage.err;
  const auto program = check("spoon2_echo_test", "spoon2-echo/nothing");
  EXPECT_EQ(program.exit_code, 2);
  EXPECT_TRUE(has(program.err, "error: no stages for spoon2-echo/nothing")) << program.err;
  EXPECT_TRUE(has(program.err, "  spoon2-echo/echo_server\n")) << program.err;
  EXPECT_EQ(program.out, "");
}

// The repository's own build passes every stage of every program with stages.
class OwnBuild : public testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(OwnBuild, PassesEveryStage) {
  const auto& [binary, program] = GetParam();
  const auto result = check(binary, program);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  // (A stage this machine cannot run, without IPv6 or namespaces, is skipped.)
  EXPECT_TRUE(has(result.out, program + ": all ") || has(result.out, ", 0 failed, ")) << result.out;
  EXPECT_FALSE(has(result.out, "FAIL  ")) << result.out;
}

// Every program with stages, and the binary that holds them (epoll_server
// where epoll is, curl_client where libcurl is).
namespace {
std::vector<std::pair<std::string, std::string>> programs_with_stages() {
  std::vector<std::pair<std::string, std::string>> programs = {
      {"spoon2_echo_test", "spoon2-echo/server"},
      {"spoon2_echo_test", "spoon2-echo/client"},
      {"spoon2_echo_test", "spoon2-echo/echo_server"},
      {"spoon2_echo_test", "spoon2-echo/echo_client"},
      {"spoon2_echo_test", "spoon2-echo/udp_server"},
      {"spoon2_echo_test", "spoon2-echo/udp_client"},
      {"spoon3_chat_test", "spoon3-chat/server"},
      {"spoon3_chat_test", "spoon3-chat/client"},
      {"spoon1_irc_test", "spoon1-irc/bot"},
      {"spoon4_webserver_test", "spoon4-webserver/server"},
      {"spoon4_webserver_test", "spoon4-webserver/poll_server"},
      {"spoon4_webserver_test", "spoon4-webserver/async_server"},
      {"spoon4_client_test", "spoon4-webserver/client"},
      {"extras_resolve_test", "extras-resolve/resolve"},
      {"extras_udp_stream_test", "extras-udp-stream/dashboard"},
      {"extras_udp_stream_test", "extras-udp-stream/sensor"}};
#ifdef SPOON_HAVE_EPOLL
  programs.emplace_back("spoon4_webserver_test", "spoon4-webserver/epoll_server");
#endif
#ifdef CURL_CLIENT_BUILT
  programs.emplace_back("spoon4_client_test", "spoon4-webserver/curl_client");
#endif
  return programs;
}
}  // namespace

INSTANTIATE_TEST_SUITE_P(Check, OwnBuild, testing::ValuesIn(programs_with_stages()),
                         [](const auto& info) {
                           std::string name = info.param.second;
                           std::erase_if(name,
                                         [](char c) { return c == '-' || c == '/' || c == '_'; });
                           return name;
                         });
