// tests/extras_resolve_test.cpp — the resolve extra, held to the contract.
//
// No test needs the internet: the names are localhost and address literals
// (answered by /etc/hosts or by the parser), and the name that must fail is
// one the resolver refuses before asking anyone. What the program prints is
// compared with what getaddrinfo and getnameinfo say here, in the test, so the
// tests hold on any machine, whatever its /etc/hosts lists. (Where /etc/hosts
// lacks ::1, `-6 localhost` and `--reverse ::1` are passed on to DNS, if one is
// configured; the test expects whatever answer its own call got.)
//
// resolve's stages (ResolveStages, which ./workshop check runs against a
// learner's program) come first, in a learner's order: the talk's
// gethostbyname, then every address, -4/-6, --service, --reverse, a name
// that fails, a bad command line. A stage holds a program to the contract's
// words only; the family on each address line, and the resolver's reason to
// the byte, are checked in our own build only.
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

using harness::exit_text;
using harness::own_build;
using harness::same_bytes;
using harness::shown_command;
using harness::visible;

namespace {

const std::string kResolve = "extras-resolve/resolve";

// Longer than DNS allows (253 bytes in all), though each label keeps to 63: the
// resolver refuses it without sending a query (Python's idna codec lets it
// through, as it would not a 64-byte label), and .invalid never resolves
// anywhere (RFC 6761) should one be sent.
const std::string kUnresolvable = std::string(63, 'x') + "." + std::string(63, 'x') + "." +
                                  std::string(63, 'x') + "." + std::string(63, 'x') + ".invalid";

// The contract's error line, with the resolver's own reason for RC.
std::string cannot_resolve(const std::string& name, int rc = EAI_NONAME) {
  return "error: cannot resolve '" + name + "': " + ::gai_strerror(rc) + "\n";
}

// What the system's resolver says for HOST: the address of the first line
// (its first IPv4 address, else its first), and every distinct address; as
// resolve writes it, "HOST -> FIRST", then "  FAMILY ADDR" once per distinct
// address. Or the error line, when the name does not resolve.
struct Expected {
  std::string host;
  std::string first;
  std::vector<std::string> addresses;  // in getaddrinfo's order
  std::string out;                     // all of it, as our build writes it
  std::string err;
};

Expected expected_for(const std::string& host, int family = AF_UNSPEC) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
    return {host, "", {}, "", cannot_resolve(host, rc)};
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, ::freeaddrinfo);
  Expected expected{host, "", {}, "", ""};
  std::vector<std::string> lines;
  std::string first_ipv4;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[NI_MAXHOST] = {};
    EXPECT_EQ(
        ::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST), 0);
    const std::string line =
        std::string(a->ai_family == AF_INET6 ? "  AF_INET6 " : "  AF_INET  ") + text + "\n";
    if (std::ranges::find(lines, line) == lines.end()) {
      lines.push_back(line);
      expected.addresses.emplace_back(text);
    }
    if (expected.first.empty()) expected.first = text;
    if (first_ipv4.empty() && a->ai_family == AF_INET) first_ipv4 = text;
  }
  if (!first_ipv4.empty()) expected.first = first_ipv4;
  expected.out = host + " -> " + expected.first + "\n";
  for (const std::string& line : lines)
    expected.out += line;
  return expected;
}

// What getnameinfo says for ADDR: "ADDR -> NAME" (NAME in `first`), or the error line.
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
    return {address, "", {}, "", cannot_resolve(address, rc)};
  return {address, name, {}, address + " -> " + name + "\n", ""};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// The last word of a line ("  AF_INET  127.0.0.1" -> "127.0.0.1").
std::string last_word(std::string line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
    line.pop_back();
  return line.substr(line.find_last_of(" \t") + 1);  // npos + 1 is 0: all of it
}

std::string listed(const std::vector<std::string>& words) {
  std::string list;
  for (const std::string& word : words)
    list += (list.empty() ? "" : ", ") + word;
  return list.empty() ? "none" : list;
}

// What resolve printed for each HOST, read as the contract words it: a line
// `HOST -> ADDR`, then every distinct address, one a line. Our build writes
// `  AF_INET  127.0.0.1`; another program may write the address alone, or
// after other words: the last word of the line is the address.
struct Printed {
  std::string host;
  std::string first;
  std::vector<std::string> addresses;
};

std::vector<Printed> printed_answers(const std::string& out) {
  std::vector<Printed> printed;
  for (const std::string& line : lines_of(out)) {
    if (const auto arrow = line.find(" -> "); arrow != std::string::npos) {
      printed.push_back({line.substr(0, arrow), last_word(line.substr(arrow + 4)), {}});
    } else if (!last_word(line).empty()) {
      if (printed.empty()) printed.emplace_back();  // an address before any `HOST ->` line
      printed.back().addresses.push_back(last_word(line));
    }
  }
  return printed;
}

// Does OUT answer each name of EXPECTED that resolves, in their order? Our
// build: to the byte. Another program: each first line exactly, then the same
// distinct addresses, each once, in any order.
testing::AssertionResult answers(const std::string& out, const std::vector<Expected>& expected) {
  std::vector<const Expected*> resolved;
  std::string all;
  for (const Expected& name : expected) {
    if (!name.err.empty()) continue;
    resolved.push_back(&name);
    all += name.out;
  }
  if (own_build(kResolve)) return same_bytes({}, all, out);
  const std::vector<Printed> printed = printed_answers(out);
  std::string wrong;
  for (std::size_t i = 0; i < resolved.size(); ++i) {
    const Expected& want = *resolved[i];
    const std::string first = want.host + " -> " + want.first;
    if (i >= printed.size()) {
      wrong += "  no answer for " + want.host + ": expected a line " + visible(first) + "\n";
      continue;
    }
    const Printed& got = printed[i];
    if (got.host + " -> " + got.first != first)
      wrong += "  answer " + std::to_string(i + 1) + " begins " +
               visible(got.host + " -> " + got.first) + ", expected " + visible(first) + "\n";
    auto got_sorted = got.addresses;
    auto want_sorted = want.addresses;
    std::ranges::sort(got_sorted);
    std::ranges::sort(want_sorted);
    if (got_sorted != want_sorted)
      wrong += "  the addresses after it: " + listed(got.addresses) + "\n    expected each of " +
               listed(want.addresses) + " once, one a line (getaddrinfo's, without repeats)\n";
  }
  if (printed.size() > resolved.size())
    wrong += "  " + std::to_string(printed.size()) + " answers, for " +
             std::to_string(resolved.size()) + " names that resolve\n";
  if (wrong.empty()) return testing::AssertionSuccess();
  return testing::AssertionFailure() << wrong << "  its stdout: " << visible(out);
}

// Does ERR hold the contract's error line for each name of EXPECTED that does
// not resolve, and nothing else? Our build: the resolver's own reason, to the
// byte. Another program: any reason after the colon.
testing::AssertionResult errors(const std::string& err, const std::vector<Expected>& expected) {
  std::string all;
  std::vector<std::string> names;
  for (const Expected& name : expected) {
    all += name.err;
    if (!name.err.empty()) names.push_back(name.host);
  }
  if (own_build(kResolve)) return same_bytes({}, all, err);
  const auto lines = lines_of(err);
  bool right = lines.size() == names.size();
  for (std::size_t i = 0; right && i < names.size(); ++i) {
    const std::string start = "error: cannot resolve '" + names[i] + "': ";
    right = lines[i].starts_with(start) && lines[i].size() > start.size();
  }
  if (right) return testing::AssertionSuccess();
  std::string want;
  for (const std::string& name : names)
    want += "\n    error: cannot resolve '" + name + "': REASON";
  return testing::AssertionFailure() << "  its stderr: " << visible(err) << "\n  expected "
                                     << (want.empty() ? "nothing" : "one line a name:" + want);
}

// Exit, stdout and stderr of one run, against what the system says.
void expect_run(const harness::Result& result, const std::vector<Expected>& expected) {
  const bool all_resolve =
      std::ranges::all_of(expected, [](const Expected& name) { return name.err.empty(); });
  const int code = all_resolve ? 0 : 1;
  if (result.exit_code != code)
    ADD_FAILURE() << exit_text(result.exit_code) << " (expected " << code
                  << (all_resolve ? ": every name resolves)" : ": a name does not resolve)");
  STAGE_EXPECT(answers(result.out, expected)) << "\n(its stdout)";
  STAGE_EXPECT(errors(result.err, expected)) << "\n(its stderr)";
}

std::vector<Expected> expected_for_each(const std::vector<std::string>& hosts,
                                        int family = AF_UNSPEC) {
  std::vector<Expected> expected;
  expected.reserve(hosts.size());
  for (const std::string& host : hosts)
    expected.push_back(expected_for(host, family));
  return expected;
}

// resolve in a little world of its own: a user and mount namespace (unshare
// -rm) where /etc/hosts is HOSTS and /etc/nsswitch.conf says "files" only, so
// no question leaves the machine and no one's real files are touched. Many
// containers allow no namespaces; the tests that need one skip there.
#ifdef _WIN32
bool namespaces_allowed() { return false; }  // namespaces are Linux's
harness::Result run_with_hosts(const std::string& /*hosts*/,
                               const std::vector<std::string>& /*args*/, bool /*merged*/ = false) {
  return {};
}
#else
bool namespaces_allowed() {
  static const bool allowed =
      std::system(
          "unshare -rm sh -c 'mount --bind /etc/hosts /etc/hosts && "
          "mount --bind /etc/nsswitch.conf /etc/nsswitch.conf' >/dev/null 2>&1") == 0;
  return allowed;
}

// Runs resolve (or the learner's program in its place) with ARGS there.
// `merged`: stderr goes to stdout, so that the order of answers and errors shows.
harness::Result run_with_hosts(const std::string& hosts, const std::vector<std::string>& args,
                               bool merged = false) {
  const auto dir = harness::temp_dir("resolve");
  harness::write_file(dir / "hosts", hosts);
  harness::write_file(dir / "nsswitch.conf", "hosts: files\nservices: files\n");
  harness::write_file(dir / "world.sh",
                      "mount --bind " + (dir / "hosts").string() + " /etc/hosts && mount --bind " +
                          (dir / "nsswitch.conf").string() + " /etc/nsswitch.conf && exec \"$@\"" +
                          (merged ? " 2>&1" : "") + "\n");
  std::vector<std::string> argv = {"unshare", "-rm", "sh", (dir / "world.sh").string()};
  if (own_build(kResolve))
    argv.push_back(harness::program_path(kResolve));
  else
    argv.insert(argv.end(), harness::checked_command().begin(), harness::checked_command().end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = harness::run("/usr/bin/env", argv);
  std::filesystem::remove_all(dir);
  return result;
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

// How to see the hosts file's world by hand: the same namespace, in one line.
std::string by_hand_with_hosts(const std::string& args) {
  return "unshare -rm sh -c 'printf \"2001:db8::1 both.test\\n127.0.0.2 both.test\\n127.0.0.2 "
         "both.test\\n127.0.0.3 both.test\\n::1 loop.test\\n127.0.0.5 loop.test\\n\" >/tmp/hosts "
         "&& mount --bind /tmp/hosts /etc/hosts && " +
         shown_command(kResolve) + " " + args + "'";
}

// In the hosts file's world: did OUT answer HOST with one of FIRSTS on its
// first line, then each of ADDRESSES once? Our build: with the family of each,
// and the first IPv4 address it printed on the first line.
void expect_hosts_answer(const std::string& out, const std::string& host,
                         const std::vector<std::string>& firsts,
                         std::vector<std::string> addresses) {
  const auto printed = printed_answers(out);
  const auto answer = std::ranges::find(printed, host, &Printed::host);
  if (answer == printed.end()) {
    ADD_FAILURE() << "no line '" << host << " -> ADDR' in its stdout " << visible(out);
    return;
  }
  if (std::ranges::find(firsts, answer->first) == firsts.end())
    ADD_FAILURE() << "its first line " << visible(host + " -> " + answer->first)
                  << "\n  expected the first IPv4 address, " << listed(firsts)
                  << "\n  (its stdout: " << visible(out) << ")";
  auto got = answer->addresses;
  std::ranges::sort(got);
  std::ranges::sort(addresses);
  if (got != addresses)
    ADD_FAILURE() << "the addresses of " << host << ": " << listed(answer->addresses)
                  << "\n  expected each of " << listed(addresses)
                  << " once (the hosts file lists 127.0.0.2 twice)\n  (its stdout: " << visible(out)
                  << ")";
  if (!own_build(kResolve)) return;
  // Our build: its own lines, each address with its family, the first line's
  // address being the first IPv4 one among them.
  const auto lines = lines_of(out);
  auto line = std::ranges::find_if(
      lines, [&](const std::string& text) { return text.starts_with(host + " -> "); });
  std::string first_ipv4;
  for (++line; line != lines.end() && line->starts_with("  "); ++line) {
    EXPECT_EQ(line->starts_with("  AF_INET6 "), line->find(':') != std::string::npos) << *line;
    if (first_ipv4.empty() && line->starts_with("  AF_INET ")) first_ipv4 = last_word(*line);
  }
  if (!first_ipv4.empty()) {
    EXPECT_EQ(answer->first, first_ipv4) << out;
  }
}

}  // namespace

// --- resolve's stages ------------------------------------------------------------

class ResolveStages : public harness::Stages {};

TEST_F(ResolveStages, resolves_localhost_to_its_ipv4_address) {
  harness::hint(
      "the talk's Tip, socket.gethostbyname('localhost'): ask getaddrinfo for the name and "
      "print 'HOST -> ADDR', its first IPv4 address (extras-resolve/README.md, 'gethostbyname, "
      "and why getaddrinfo replaced it')");
  harness::by_hand(shown_command(kResolve) + " localhost");
  const Expected expected = expected_for("localhost");
  if (!expected.err.empty()) GTEST_SKIP() << "localhost does not resolve here: " << expected.err;
  const auto result = harness::run(kResolve, {"localhost"});
  if (result.exit_code != 0)
    ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0); its stderr "
                  << visible(result.err);
  const auto lines = lines_of(result.out);
  STAGE_EXPECT(
      same_bytes({}, "localhost -> " + expected.first + "\n", lines.empty() ? "" : lines[0] + "\n"))
      << "\n(its first line)";
}

TEST_F(ResolveStages, prints_every_address_once) {
  harness::hint(
      "after the first line, every distinct address getaddrinfo returns, one a line: ask for "
      "SOCK_STREAM, and print an address once however often it comes (extras-resolve/README.md, "
      "'Why getaddrinfo gives each address three times, unless you ask')");
  harness::by_hand(shown_command(kResolve) + " localhost 127.0.0.1 ::1; getent ahosts localhost");
  const std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
  expect_run(harness::run(kResolve, hosts), expected_for_each(hosts));
}

// getaddrinfo sorts the addresses (RFC 3484/6724), so where IPv6 lands depends on
// the machine; what must hold anywhere: the first line names the first IPv4
// address, and every address comes once.
TEST_F(ResolveStages, prints_every_address_from_a_hosts_file) {
  if (!namespaces_allowed())
    GTEST_SKIP() << "no user namespaces here (unshare -rm): this stage gives the program a hosts "
                    "file of its own, and cannot here";
  harness::hint(
      "a name may have IPv4 and IPv6 addresses, and /etc/hosts may list one twice: the first "
      "line is its first IPv4 address even where an IPv6 one comes first, then each address "
      "once (extras-resolve/README.md, 'Where the answers come from')");
  harness::by_hand(by_hand_with_hosts("both.test loop.test"));
  const auto result = run_with_hosts(kHosts, {"both.test", "loop.test"});
  if (result.exit_code != 0)
    ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0); its stderr "
                  << visible(result.err);
  expect_hosts_answer(result.out, "both.test", {"127.0.0.2", "127.0.0.3"},
                      {"127.0.0.2", "127.0.0.3", "2001:db8::1"});
  expect_hosts_answer(result.out, "loop.test", {"127.0.0.5"}, {"127.0.0.5", "::1"});
}

TEST_F(ResolveStages, dash_4_and_dash_6_keep_one_family) {
  harness::hint(
      "-4 asks getaddrinfo for AF_INET only, -6 for AF_INET6 only; a name without an address of "
      "that family does not resolve (extras-resolve/README.md, 'AF_INET, AF_INET6, AF_UNSPEC')");
  harness::by_hand(shown_command(kResolve) + " -4 localhost ::1; " + shown_command(kResolve) +
                   " -6 ::1 127.0.0.1");
  for (const auto& [option, family] :
       {std::pair{std::string("-4"), AF_INET}, std::pair{std::string("-6"), AF_INET6}}) {
    const std::vector<std::string> hosts = {"localhost", "::1", "127.0.0.1"};
    std::vector<std::string> args = {option};
    args.insert(args.end(), hosts.begin(), hosts.end());
    SCOPED_TRACE("given " + option + " localhost ::1 127.0.0.1");
    expect_run(harness::run(kResolve, args), expected_for_each(hosts, family));
  }
  if (!namespaces_allowed()) return;  // the rest needs a hosts file of its own
  SCOPED_TRACE("given -6 both.test, then -4 both.test, where both.test has both");
  const auto six = run_with_hosts(kHosts, {"-6", "both.test"});
  EXPECT_EQ(six.exit_code, 0) << six.err;
  expect_hosts_answer(six.out, "both.test", {"2001:db8::1"}, {"2001:db8::1"});
  const auto four = run_with_hosts(kHosts, {"-4", "both.test"});
  EXPECT_EQ(four.exit_code, 0) << four.err;
  expect_hosts_answer(four.out, "both.test", {"127.0.0.2", "127.0.0.3"},
                      {"127.0.0.2", "127.0.0.3"});
}

// Fact: "The default port for web communication is port 80."
TEST_F(ResolveStages, service_http_is_port_80) {
  harness::hint(
      "the talk's Fact, the web's default port is 80: --service looks a name up in the services "
      "database (getaddrinfo or getservbyname) and prints 'NAME -> PORT/tcp' "
      "(extras-resolve/README.md, 'Try it')");
  harness::by_hand(shown_command(kResolve) + " --service http https ssh");
  const auto result = harness::run(kResolve, {"--service", "http", "https", "ssh"});
  if (result.exit_code != 0)
    ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0); its stderr "
                  << visible(result.err) << " (is /etc/services there? netbase has it)";
  STAGE_EXPECT(same_bytes({}, "http -> 80/tcp\nhttps -> 443/tcp\nssh -> 22/tcp\n", result.out))
      << "\n(its stdout)";
}

TEST_F(ResolveStages, reverse_gives_the_name) {
  const Expected loopback = expected_reverse("127.0.0.1");
  if (loopback.out.empty())
    GTEST_SKIP() << "127.0.0.1 has no name on this machine: " << loopback.err;
  harness::hint(
      "--reverse: getnameinfo with NI_NAMEREQD turns the address into its name; print "
      "'ADDR -> NAME', one line an address (extras-resolve/README.md, 'gethostbyname, and why "
      "getaddrinfo replaced it': its opposite, getnameinfo)");
  harness::by_hand(shown_command(kResolve) + " --reverse 127.0.0.1");
  const auto result = harness::run(kResolve, {"--reverse", "127.0.0.1"});
  if (result.exit_code != 0)
    ADD_FAILURE() << exit_text(result.exit_code) << " (expected 0); its stderr "
                  << visible(result.err);
  const auto lines = lines_of(result.out);
  if (own_build(kResolve)) {
    STAGE_EXPECT(same_bytes({}, loopback.out, result.out)) << "\n(its stdout)";
  } else if (lines.size() != 1 || last_word(lines[0]) != loopback.first) {
    ADD_FAILURE() << "its stdout " << visible(result.out) << "\n  expected one line, "
                  << visible(loopback.out) << " (at least ending in the name)";
  }
  if (!namespaces_allowed()) return;
  const auto named = run_with_hosts(kHosts, {"--reverse", "127.0.0.3", "2001:db8::1"});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  const auto named_lines = lines_of(named.out);
  const bool right = own_build(kResolve)
                         ? named.out == "127.0.0.3 -> both.test\n2001:db8::1 -> both.test\n"
                         : named_lines.size() == 2 &&
                               std::ranges::all_of(named_lines, [](const std::string& line) {
                                 return last_word(line) == "both.test";
                               });
  if (!right)
    ADD_FAILURE() << "given --reverse 127.0.0.3 2001:db8::1, where the hosts file names both "
                     "both.test:\n  its stdout "
                  << visible(named.out)
                  << "\n  expected \"127.0.0.3 -> both.test\\n2001:db8::1 -> both.test\\n\"";
}

TEST_F(ResolveStages, an_unresolvable_name_is_an_error_after_the_others) {
  harness::hint(
      "a name that does not resolve: 'error: cannot resolve 'NAME': REASON' on stderr (REASON "
      "in the resolver's words, gai_strerror), then on with the other names, and exit 1 at the "
      "end (extras-resolve/README.md, 'Try it')");
  harness::by_hand(shown_command(kResolve) +
                   " localhost nosuch.invalid 127.0.0.1; echo \"exit $?\"");
  const std::vector<std::string> hosts = {"localhost", kUnresolvable, "127.0.0.1"};
  const auto expected = expected_for_each(hosts);
  ASSERT_FALSE(expected[1].err.empty()) << "this resolver found " << kUnresolvable;
  expect_run(harness::run(kResolve, hosts), expected);
}

TEST_F(ResolveStages, refuses_a_bad_command_line) {
  // The three forms of the contract's synopsis, and nothing else.
  harness::refuses_bad_command_lines(kResolve,
                                     {{},
                                      {"-4"},
                                      {"--bogus", "localhost"},
                                      {"-4", "-6", "localhost"},
                                      {"--reverse"},
                                      {"--service"},
                                      {"--reverse", "--service", "http"}},
                                     "-4 -6 localhost");
}

// --- beyond the stages: our own decisions and wording ----------------------------

TEST(Resolve, HelpPrintsUsageToStdoutAndExitsZero) {
  const auto result = harness::run(kResolve, {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.out.starts_with("usage: resolve")) << result.out;
  EXPECT_NE(result.out.find("--reverse"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--service"), std::string::npos) << result.out;
  EXPECT_EQ(result.err, "");
}

// Beyond the synopsis's forms (the stage refuses_a_bad_command_line): -4 and -6
// ask about names, so they go with neither --reverse nor --service.
TEST(Resolve, AFamilyWithReverseOrServiceIsABadCommandLine) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-4", "--reverse", "127.0.0.1"},
        std::vector<std::string>{"-6", "--service", "http"}}) {
    const auto result = harness::run(kResolve, args);
    EXPECT_EQ(result.exit_code, 2) << testing::PrintToString(args);
    EXPECT_TRUE(result.err.starts_with("error: ")) << result.err;
    EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
  }
}

TEST(Resolve, NumericIpv4AndIpv6LiteralsPassThrough) {
  const auto result = harness::run(kResolve, {"127.0.0.1", "::1", "0:0::1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "127.0.0.1 -> 127.0.0.1\n  AF_INET  127.0.0.1\n"
            "::1 -> ::1\n  AF_INET6 ::1\n"
            "0:0::1 -> ::1\n  AF_INET6 ::1\n");  // the address as the system writes it
  EXPECT_EQ(result.err, "");
}

TEST(ResolveWithAHostsFile, ANameTheFileLacksIsAnErrorAndTheOthersAreAnswered) {
  if (!namespaces_allowed()) GTEST_SKIP() << "no user namespaces here (unshare -rm)";
  const auto run = run_with_hosts(kHosts, {"-6", "loop.test", "nowhere.test", "both.test"}, true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "loop.test -> ::1\n  AF_INET6 ::1\n" + cannot_resolve("nowhere.test") +
                         "both.test -> 2001:db8::1\n  AF_INET6 2001:db8::1\n");
}

// Our decision (README, 'Decisions beyond the talk'): NI_NAMEREQD, so an
// address without a name is an error, not its own text handed back.
TEST(ResolveWithAHostsFile, ReverseOfAnAddressWithoutANameIsAnErrorInItsPlace) {
  if (!namespaces_allowed()) GTEST_SKIP() << "no user namespaces here (unshare -rm)";
  const auto run =
      run_with_hosts(kHosts, {"--reverse", "127.0.0.3", "127.0.0.9", "2001:db8::1"}, true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, "127.0.0.3 -> both.test\n" + cannot_resolve("127.0.0.9") +
                         "2001:db8::1 -> both.test\n");
}

TEST(Resolve, ReverseOfIpv6LoopbackGivesItsNameOrSaysItHasNone) {
  const auto result = harness::run(kResolve, {"--reverse", "::1", "127.0.0.1"});
  const Expected ipv6 = expected_reverse("::1");
  EXPECT_EQ(result.out, ipv6.out + expected_reverse("127.0.0.1").out);
  EXPECT_EQ(result.err, ipv6.err);  // /etc/hosts may have no line for ::1: then an error
  EXPECT_EQ(result.exit_code, ipv6.err.empty() ? 0 : 1);
}

TEST(Resolve, ReverseOfSomethingThatIsNotAnAddressIsAnError) {
  const auto result = harness::run(kResolve, {"--reverse", "localhost"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_TRUE(result.err.starts_with("error: cannot resolve 'localhost': ")) << result.err;
}

TEST(Resolve, ServiceAnswersSeveralNamesAndNumbersAndReportsAnUnknownOneAfterThem) {
  const auto result =
      harness::run(kResolve, {"--service", "https", "no-such-service", "ssh", "8080"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "https -> 443/tcp\nssh -> 22/tcp\n8080 -> 8080/tcp\n");
  EXPECT_TRUE(result.err.starts_with("error: cannot resolve 'no-such-service': ")) << result.err;
  EXPECT_EQ(std::ranges::count(result.err, '\n'), 1) << result.err;
}

// getaddrinfo itself wraps 99999 to 34463 and takes "" as no service at all.
TEST(Resolve, ServiceRefusesAnEmptyNameAndAPortAbove65535) {
  for (const std::string name : {"", "65536", "99999", "1000000000000000000000"}) {
    const auto result = harness::run(kResolve, {"--service", name, "http"});
    EXPECT_EQ(result.exit_code, 1) << "'" << name << "'";
    EXPECT_EQ(result.out, "http -> 80/tcp\n") << "'" << name << "'";
    EXPECT_TRUE(result.err.starts_with(fmt::format("error: cannot resolve '{}': ", name)))
        << result.err;
  }
  const auto highest = harness::run(kResolve, {"--service", "65535"});
  EXPECT_EQ(highest.exit_code, 0) << highest.err;
  EXPECT_EQ(highest.out, "65535 -> 65535/tcp\n");
}
