// tests/extras_resolve_test.cpp — the resolve extra, held to the contract.
//
// No test needs the internet: the names are localhost and address literals
// (answered by /etc/hosts or by the parser), and the name that must fail is
// one the resolver refuses before asking anyone. What the program prints is
// compared with what getaddrinfo and getnameinfo say here, in the test, so the
// tests hold on any machine, whatever its /etc/hosts lists. (Where /etc/hosts
// lacks ::1, `-6 localhost` and `--reverse ::1` are passed on to DNS, if one is
// configured; the test expects whatever answer its own call got.)
#include "tests/support/harness.hpp"

#include <gtest/gtest.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

// A DNS label holds at most 63 bytes: glibc refuses this name without sending
// a query, and .invalid never resolves anywhere (RFC 6761) should one be sent.
const std::string kUnresolvable = std::string(64, 'x') + ".invalid";

// The contract's error line, with the resolver's own reason for RC.
std::string cannot_resolve(const std::string& name, int rc = EAI_NONAME) {
  return "error: cannot resolve '" + name + "': " + ::gai_strerror(rc) + "\n";
}

// What the system's resolver says for HOST, written as resolve writes it:
// "HOST -> FIRST" (its first IPv4 address, else its first), then "  FAMILY ADDR"
// once per distinct address. Or the error line, when the name does not resolve.
struct Expected {
  std::string out;
  std::string err;
};

Expected expected_for(const std::string& host, int family = AF_UNSPEC) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
    return {"", cannot_resolve(host, rc)};
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, ::freeaddrinfo);
  std::vector<std::string> lines;
  std::string first_ipv4;
  std::string first;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[NI_MAXHOST] = {};
    EXPECT_EQ(
        ::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST), 0);
    const std::string line =
        std::string(a->ai_family == AF_INET6 ? "  AF_INET6 " : "  AF_INET  ") + text + "\n";
    if (std::ranges::find(lines, line) == lines.end()) lines.push_back(line);
    if (first.empty()) first = text;
    if (first_ipv4.empty() && a->ai_family == AF_INET) first_ipv4 = text;
  }
  std::string out = host + " -> " + (first_ipv4.empty() ? first : first_ipv4) + "\n";
  for (const std::string& line : lines)
    out += line;
  return {out, ""};
}

// What getnameinfo says for ADDR: "ADDR -> NAME", or the error line.
Expected expected_reverse(const std::string& address) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (::getaddrinfo(address.c_str(), nullptr, &hints, &found) != 0) {
    ADD_FAILURE() << address << " is not an address";
    return {};
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, ::freeaddrinfo);
  char name[NI_MAXHOST] = {};
  if (const int rc = ::getnameinfo(found->ai_addr, found->ai_addrlen, name, sizeof name, nullptr, 0,
                                   NI_NAMEREQD);
      rc != 0)
    return {"", cannot_resolve(address, rc)};
  return {address + " -> " + name + "\n", ""};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// resolve in a little world of its own: a user and mount namespace (unshare
// -rm) where /etc/hosts is HOSTS and /etc/nsswitch.conf says "files" only, so
// no question leaves the machine and no one's real files are touched. Many
// containers allow no namespaces; the tests that need one skip there.
#ifdef _WIN32
bool namespaces_allowed() { return false; }  // namespaces are Linux's
struct Outcome {
  int exit_code = -1;
  std::string output;
};
Outcome run_with_hosts(const std::string&, const std::vector<std::string>&) { return {}; }
#else
bool namespaces_allowed() {
  static const bool allowed =
      std::system(
          "unshare -rm sh -c 'mount --bind /etc/hosts /etc/hosts && "
          "mount --bind /etc/nsswitch.conf /etc/nsswitch.conf' >/dev/null 2>&1") == 0;
  return allowed;
}

// Exit code and stdout+stderr (each line is written as it happens, so their
// order is the program's). `timeout` is the deadline: popen itself has none.
struct Outcome {
  int exit_code = -1;
  std::string output;
};
Outcome run_with_hosts(const std::string& hosts, const std::vector<std::string>& args) {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  const auto dir = std::filesystem::temp_directory_path() /
                   (std::string("resolve-") + info->name() + "-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "hosts") << hosts;
  std::ofstream(dir / "nsswitch.conf") << "hosts: files\nservices: files\n";
  std::string command = "timeout 10 unshare -rm sh -c 'mount --bind " + (dir / "hosts").string() +
                        " /etc/hosts && mount --bind " + (dir / "nsswitch.conf").string() +
                        " /etc/nsswitch.conf && exec " +
                        harness::program_path("extras-resolve/resolve");
  for (const std::string& arg : args)
    command += " " + arg;  // plain names and flags: nothing to quote
  command += "' 2>&1";
  Outcome run;
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe == nullptr) return run;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    run.output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  std::filesystem::remove_all(dir);
  return run;
}
#endif

// both.test: an IPv6 address and two IPv4 ones, one of them listed twice.
// Not ::1 there: glibc answers an IPv4 question about a name listed as ::1 with
// 127.0.0.1. loop.test: ::1, which getaddrinfo sorts before IPv4 where IPv6 works.
const std::string kHosts =
    "2001:db8::1  both.test\n"
    "127.0.0.2    both.test\n"
    "127.0.0.2    both.test\n"
    "127.0.0.3    both.test\n"
    "::1          loop.test\n"
    "127.0.0.5    loop.test\n";

}  // namespace

// --- the command line --------------------------------------------------------

TEST(Resolve, HelpPrintsUsageToStdoutAndExitsZero) {
  const auto result = harness::run("extras-resolve/resolve", {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.out.starts_with("usage: resolve")) << result.out;
  EXPECT_NE(result.out.find("--reverse"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--service"), std::string::npos) << result.out;
  EXPECT_EQ(result.err, "");
}

TEST(Resolve, BadCommandLinesPrintOneErrorLineAndExitTwo) {
  const std::vector<std::vector<std::string>> bad = {{},
                                                     {"-4"},
                                                     {"--bogus", "localhost"},
                                                     {"-4", "-6", "localhost"},
                                                     {"--reverse", "--service", "http"},
                                                     {"-4", "--reverse", "127.0.0.1"},
                                                     {"-6", "--service", "http"}};
  for (const auto& args : bad) {
    const auto result = harness::run("extras-resolve/resolve", args);
    EXPECT_EQ(result.exit_code, 2) << testing::PrintToString(args);
    EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");  // nothing resolved, nothing said
  }
}

// --- HOST... -------------------------------------------------------------------

TEST(Resolve, LocalhostComesFirstAsItsIpv4LoopbackAddressAsGethostbynameGaveIt) {
  const auto result = harness::run("extras-resolve/resolve", {"localhost"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const auto lines = lines_of(result.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines[0].starts_with("localhost -> 127.")) << lines[0];  // 127/8 is IPv4 loopback
  EXPECT_EQ(result.out, expected_for("localhost").out);
}

TEST(Resolve, PrintsTheSameDistinctAddressesAsTheSystemsGetaddrinfoEachWithItsFamily) {
  const std::vector<std::pair<std::vector<std::string>, int>> cases = {
      {{"localhost"}, AF_UNSPEC}, {{"-4", "localhost"}, AF_INET}, {{"-6", "localhost"}, AF_INET6}};
  for (const auto& [args, family] : cases) {
    const auto result = harness::run("extras-resolve/resolve", args);
    const Expected expected = expected_for("localhost", family);
    EXPECT_EQ(result.out, expected.out) << testing::PrintToString(args);
    EXPECT_EQ(result.err, expected.err) << testing::PrintToString(args);
    EXPECT_EQ(result.exit_code, expected.err.empty() ? 0 : 1);
    // Every address once: no line after the first repeats.
    auto lines = lines_of(result.out);
    if (!lines.empty()) lines.erase(lines.begin());
    std::ranges::sort(lines);
    EXPECT_EQ(std::ranges::adjacent_find(lines), lines.end()) << result.out;
  }
}

TEST(Resolve, Dash4GivesOnlyIpv4AddressesAndRefusesAnIpv6Literal) {
  const auto result = harness::run("extras-resolve/resolve", {"-4", "localhost", "::1"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, expected_for("localhost", AF_INET).out);
  for (const std::string& line : lines_of(result.out))
    EXPECT_EQ(line.find("AF_INET6"), std::string::npos) << line;
  EXPECT_EQ(result.err, expected_for("::1", AF_INET).err);
  EXPECT_TRUE(result.err.starts_with("error: cannot resolve '::1': ")) << result.err;
}

TEST(Resolve, Dash6GivesOnlyIpv6AddressesAndRefusesAnIpv4Literal) {
  const auto result = harness::run("extras-resolve/resolve", {"-6", "::1", "127.0.0.1"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "::1 -> ::1\n  AF_INET6 ::1\n");
  EXPECT_EQ(result.err, expected_for("127.0.0.1", AF_INET6).err);
  EXPECT_TRUE(result.err.starts_with("error: cannot resolve '127.0.0.1': ")) << result.err;
}

TEST(Resolve, NumericIpv4AndIpv6LiteralsPassThrough) {
  const auto result = harness::run("extras-resolve/resolve", {"127.0.0.1", "::1", "0:0::1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "127.0.0.1 -> 127.0.0.1\n  AF_INET  127.0.0.1\n"
            "::1 -> ::1\n  AF_INET6 ::1\n"
            "0:0::1 -> ::1\n  AF_INET6 ::1\n");  // the address as the system writes it
  EXPECT_EQ(result.err, "");
}

TEST(Resolve, AnswersSeveralNamesInTheOrderGiven) {
  const auto result = harness::run("extras-resolve/resolve", {"::1", "localhost", "127.0.0.1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, expected_for("::1").out + expected_for("localhost").out +
                            expected_for("127.0.0.1").out);
}

TEST(Resolve, AnUnresolvableNameIsAnErrorWithTheResolversReasonAfterTheOthersAreAnswered) {
  ASSERT_FALSE(expected_for(kUnresolvable).err.empty()) << "this resolver found " << kUnresolvable;
  const auto result =
      harness::run("extras-resolve/resolve", {"localhost", kUnresolvable, "127.0.0.1"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, expected_for("localhost").out + expected_for("127.0.0.1").out);
  EXPECT_EQ(result.err, expected_for(kUnresolvable).err);  // one line, the resolver's own words
  EXPECT_TRUE(result.err.starts_with("error: cannot resolve '" + kUnresolvable + "': "));
}

// getaddrinfo sorts the addresses (RFC 3484/6724), so where IPv6 lands depends on
// the machine; what must hold anywhere: the first line names the first IPv4
// address printed, and every address comes once, with its family.
TEST(ResolveWithAHostsFile, FirstLineIsTheFirstIpv4AddressThenEveryDistinctAddressOnce) {
  if (!namespaces_allowed()) GTEST_SKIP() << "no user namespaces here (unshare -rm)";
  const std::vector<std::pair<std::string, std::vector<std::string>>> names = {
      {"both.test", {"  AF_INET  127.0.0.2", "  AF_INET  127.0.0.3", "  AF_INET6 2001:db8::1"}},
      {"loop.test", {"  AF_INET  127.0.0.5", "  AF_INET6 ::1"}}};
  for (const auto& [name, addresses] : names) {
    const Outcome run = run_with_hosts(kHosts, {name});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    auto lines = lines_of(run.output);
    ASSERT_EQ(lines.size(), addresses.size() + 1) << run.output;
    const auto first_ipv4 = std::ranges::find_if(
        lines, [](const std::string& line) { return line.starts_with("  AF_INET "); });
    ASSERT_NE(first_ipv4, lines.end()) << run.output;
    EXPECT_EQ(lines[0], name + " -> " + first_ipv4->substr(first_ipv4->rfind(' ') + 1));
    lines.erase(lines.begin());
    std::ranges::sort(lines);
    EXPECT_EQ(lines, addresses) << run.output;
  }
}

TEST(ResolveWithAHostsFile, Dash4AndDash6KeepOneFamily) {
  if (!namespaces_allowed()) GTEST_SKIP() << "no user namespaces here (unshare -rm)";
  Outcome run = run_with_hosts(kHosts, {"-6", "both.test"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output, "both.test -> 2001:db8::1\n  AF_INET6 2001:db8::1\n");
  run = run_with_hosts(kHosts, {"-4", "both.test"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output, "both.test -> 127.0.0.2\n  AF_INET  127.0.0.2\n  AF_INET  127.0.0.3\n");
}

TEST(ResolveWithAHostsFile, ANameTheFileLacksIsAnErrorAndTheOthersAreAnswered) {
  if (!namespaces_allowed()) GTEST_SKIP() << "no user namespaces here (unshare -rm)";
  const Outcome run = run_with_hosts(kHosts, {"-6", "loop.test", "nowhere.test", "both.test"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.output, "loop.test -> ::1\n  AF_INET6 ::1\n" + cannot_resolve("nowhere.test") +
                            "both.test -> 2001:db8::1\n  AF_INET6 2001:db8::1\n");
}

TEST(ResolveWithAHostsFile, ReverseFindsTheNameInTheFileOrSaysThereIsNone) {
  if (!namespaces_allowed()) GTEST_SKIP() << "no user namespaces here (unshare -rm)";
  const Outcome run =
      run_with_hosts(kHosts, {"--reverse", "127.0.0.3", "127.0.0.9", "2001:db8::1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.output, "127.0.0.3 -> both.test\n" + cannot_resolve("127.0.0.9") +
                            "2001:db8::1 -> both.test\n");
}

// --- --reverse ADDR... -----------------------------------------------------------

TEST(Resolve, ReverseGivesTheNameOf127001AsTheSystemKnowsIt) {
  const Expected expected = expected_reverse("127.0.0.1");
  ASSERT_FALSE(expected.out.empty()) << "127.0.0.1 has no name here: " << expected.err;
  const auto result = harness::run("extras-resolve/resolve", {"--reverse", "127.0.0.1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, expected.out);  // usually "127.0.0.1 -> localhost", from /etc/hosts
  EXPECT_EQ(result.err, "");
}

TEST(Resolve, ReverseOfIpv6LoopbackGivesItsNameOrSaysItHasNone) {
  const auto result = harness::run("extras-resolve/resolve", {"--reverse", "::1", "127.0.0.1"});
  const Expected ipv6 = expected_reverse("::1");
  EXPECT_EQ(result.out, ipv6.out + expected_reverse("127.0.0.1").out);
  EXPECT_EQ(result.err, ipv6.err);  // /etc/hosts may have no line for ::1: then an error
  EXPECT_EQ(result.exit_code, ipv6.err.empty() ? 0 : 1);
}

TEST(Resolve, ReverseOfSomethingThatIsNotAnAddressIsAnError) {
  const auto result = harness::run("extras-resolve/resolve", {"--reverse", "localhost"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(result.err.starts_with("error: cannot resolve 'localhost': ")) << result.err;
}

// --- --service NAME... -----------------------------------------------------------

// Fact: "The default port for web communication is port 80."
TEST(Resolve, ServiceHttpIsPort80) {
  const auto result = harness::run("extras-resolve/resolve", {"--service", "http"});
  EXPECT_EQ(result.exit_code, 0) << result.err << " (is /etc/services there? netbase has it)";
  EXPECT_EQ(result.out, "http -> 80/tcp\n");
  EXPECT_EQ(result.err, "");
}

TEST(Resolve, ServiceAnswersSeveralNamesAndNumbersAndReportsAnUnknownOneAfterThem) {
  const auto result = harness::run("extras-resolve/resolve",
                                   {"--service", "https", "no-such-service", "ssh", "8080"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "https -> 443/tcp\nssh -> 22/tcp\n8080 -> 8080/tcp\n");
  EXPECT_TRUE(result.err.starts_with("error: cannot resolve 'no-such-service': ")) << result.err;
  EXPECT_EQ(std::ranges::count(result.err, '\n'), 1) << result.err;
}

// getaddrinfo itself wraps 99999 to 34463 and takes "" as no service at all.
TEST(Resolve, ServiceRefusesAnEmptyNameAndAPortAbove65535) {
  for (const std::string name : {"", "65536", "99999", "1000000000000000000000"}) {
    const auto result = harness::run("extras-resolve/resolve", {"--service", name, "http"});
    EXPECT_EQ(result.exit_code, 1) << "'" << name << "'";
    EXPECT_EQ(result.out, "http -> 80/tcp\n") << "'" << name << "'";
    EXPECT_TRUE(result.err.starts_with(fmt::format("error: cannot resolve '{}': ", name)))
        << result.err;
  }
  const auto highest = harness::run("extras-resolve/resolve", {"--service", "65535"});
  EXPECT_EQ(highest.exit_code, 0) << highest.err;
  EXPECT_EQ(highest.out, "65535 -> 65535/tcp\n");
}
