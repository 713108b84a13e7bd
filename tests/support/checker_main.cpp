// tests/support/checker_main.cpp — the main of every lesson's test binary.
//
// Under ctest it is GoogleTest's usual main. With SPOON_CHECK_PROGRAM set it
// is the homework checker (./workshop check): it runs that program's stages
// — the tests of its suite <Program>Stages, in file order, up to
// SPOON_CHECK_STAGE — against the command given after `--` (or the
// repository's own build), and prints one line per stage a learner can act on.
#include "tests/support/harness.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// echo_server -> EchoServerStages: the suite that holds a program's stages.
std::string stages_suite_of(std::string_view program) {
  std::string suite;
  bool word_start = true;
  for (const char c : program.substr(program.rfind('/') + 1)) {
    if (c == '_') {
      word_start = true;
      continue;
    }
    suite += word_start ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    word_start = false;
  }
  return suite + "Stages";
}

// EchoServerStages -> echo_server: the program a suite's stages are for.
std::string program_of(std::string_view suite) {
  suite.remove_suffix(std::string_view("Stages").size());
  std::string program;
  for (const char c : suite) {
    if (std::isupper(static_cast<unsigned char>(c)) && !program.empty()) program += '_';
    program += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return program;
}

// A stage's name: its test's name, without the "/param" of a parametrised
// suite (poll_server, epoll_server and async_server share one, each
// instantiated for one program: prints_port/pollserver is prints_port).
std::string stage_of(std::string_view test_name) {
  return std::string(test_name.substr(0, test_name.find('/')));
}

std::string indented(const std::string& text, const std::string& indent = "      ") {
  std::string out = indent;
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += indent;
  }
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

// A failure's message without GoogleTest's framing: "Failed" before an
// ADD_FAILURE's text, "Value of: EXPR / Actual / Expected" before an
// EXPECT_TRUE's; what the stage says comes after.
std::string for_a_learner(std::string message) {
  if (message.starts_with("Failed\n")) message.erase(0, 7);
  if (message.starts_with("Value of: ")) {
    std::size_t end = message.find("\nExpected: ");
    if (end != std::string::npos) end = message.find('\n', end + 1);
    message.erase(0, end == std::string::npos ? message.size() : end + 1);
    if (message.empty()) message = "a check failed";
  }
  return message;
}

// One line per stage, and under a failure what a learner needs to fix it.
class CheckerPrinter : public testing::EmptyTestEventListener {
 public:
  // `upto`: the last stage asked for ("" for all), of `all_stages` in all.
  CheckerPrinter(std::string program, std::string upto, std::size_t all_stages)
      : program_(std::move(program)), upto_(std::move(upto)), all_stages_(all_stages) {}

  void OnTestProgramStart(const testing::UnitTest& /*unit*/) override {
    std::printf("checking %s against %s's stages\n", harness::shown_command(program_).c_str(),
                program_.c_str());
    std::fflush(stdout);
  }

  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    // A thrown exception only ends a stage whose failure was already said.
    const std::string message = result.message();
    if (message.starts_with("C++ exception") && !failures_.empty()) return;
    failures_.push_back(for_a_learner(message));
  }

  void OnTestEnd(const testing::TestInfo& test) override {
    const testing::TestResult& result = *test.result();
    const std::string stage = stage_of(test.name());
    // A slow stage says how slow: a learner's program that waits out a time-out shows here.
    const auto seconds = static_cast<double>(result.elapsed_time()) / 1000;
    const std::string took = seconds >= 1 ? fmt::format("  ({:.1f} s)", seconds) : "";
    if (result.Skipped()) {
      ++skipped_;
      std::printf("SKIP  %s\n", stage.c_str());
    } else if (result.Passed()) {
      ++passed_;
      std::printf("PASS  %s%s\n", stage.c_str(), took.c_str());
    } else {
      ++failed_;
      if (harness::Stages::is_gate(stage)) harness::Stages::gate_failed();
      std::printf("FAIL  %s%s\n", stage.c_str(), took.c_str());
      for (const std::string& failure : failures_)
        std::fputs(indented(failure).c_str(), stdout);
      const std::string report = harness::take_checked_program_report();
      bool said = false;
      for (const std::string& failure : failures_)
        said = said || failure.find("its stderr") != std::string::npos;
      if (!report.empty() && !said) std::fputs(indented(report).c_str(), stdout);
      for (int i = 0; i < result.test_property_count(); ++i) {
        const testing::TestProperty& property = result.GetTestProperty(i);
        const std::string key = property.key();
        if (key == "hint") std::printf("      hint: %s\n", property.value());
        if (key == "by_hand") std::printf("      by hand: %s\n", property.value());
      }
    }
    harness::take_checked_program_report();  // a passed stage's is not news
    failures_.clear();
    std::fflush(stdout);
  }

  void OnTestProgramEnd(const testing::UnitTest& /*unit*/) override {
    const int total = passed_ + failed_ + skipped_;
    const std::string which =
        upto_.empty() ? "" : " up to " + upto_ + " (of " + std::to_string(all_stages_) + ")";
    if (failed_ == 0 && skipped_ == 0)
      std::printf("%s: all %d stages%s passed\n", program_.c_str(), total, which.c_str());
    else
      std::printf("%s: %d of %d stages%s passed, %d failed, %d skipped\n", program_.c_str(),
                  passed_, total, which.c_str(), failed_, skipped_);
    std::fflush(stdout);
  }

  [[nodiscard]] bool all_passed() const {
    return failed_ == 0;
  }  // a stage this system cannot run is no failure

 private:
  std::string program_;
  std::string upto_;
  std::size_t all_stages_;
  std::vector<std::string> failures_;
  int passed_ = 0;
  int failed_ = 0;
  int skipped_ = 0;
};

int bad_usage(const std::string& message, const std::string& hint) {
  std::fprintf(stderr, "error: %s\n%s\n", message.c_str(), hint.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const char* const program_set = std::getenv("SPOON_CHECK_PROGRAM");
  if (program_set == nullptr || *program_set == '\0') return RUN_ALL_TESTS();

  // The checker: what is left of argv is `-- COMMAND [ARGS...]`, or nothing.
  const std::string program = program_set;
  std::vector<std::string> command;
  if (argc > 1) {
    if (std::string_view(argv[1]) != "--" || argc == 2)
      return bad_usage("the program to check goes after --: -- COMMAND [ARGS...]",
                       "Try './workshop --help' for more information.");
    command.assign(argv + 2, argv + argc);
  }
  harness::set_checked(program, command);

  // Its stages: the tests of its suite, in file order, up to the one asked for.
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  std::string suite_name = stages_suite_of(program);
  for (const auto& [suite, whose] : harness::stages_suites())
    if (whose == program) suite_name = suite;
  std::vector<std::string> stages;
  std::vector<std::string> tests;  // their tests' full names, for the filter
  std::string programs_with_stages;
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const testing::TestSuite& suite = *unit.GetTestSuite(i);
    const std::string name = suite.name();
    if (name.ends_with("Stages")) {
      std::string whose = program.substr(0, program.find('/') + 1) + program_of(name);
      for (const auto& [suite, named] : harness::stages_suites())
        if (suite == name) whose = named;
      programs_with_stages += "\n  " + whose;
    }
    if (name != suite_name) continue;
    for (int j = 0; j < suite.total_test_count(); ++j) {
      tests.emplace_back(suite.GetTestInfo(j)->name());
      stages.push_back(stage_of(tests.back()));
    }
  }
  if (stages.empty())
    return bad_usage("no stages for " + program + " yet",
                     programs_with_stages.empty()
                         ? "this lesson has no stages yet"
                         : "this lesson's programs with stages:" + programs_with_stages);
  const char* const stage_set = std::getenv("SPOON_CHECK_STAGE");
  const std::string last = stage_set != nullptr ? stage_set : "";
  std::string filter;
  bool found = last.empty();
  for (std::size_t i = 0; i < stages.size(); ++i) {
    filter.append(filter.empty() ? "" : ":").append(suite_name).append(".").append(tests[i]);
    if (stages[i] == last) {
      found = true;
      break;
    }
  }
  if (!found) {
    std::string names;
    for (const std::string& stage : stages)
      names += "\n  " + stage;
    return bad_usage("no stage '" + last + "' in " + program, "its stages, in order:" + names);
  }
  GTEST_FLAG_SET(filter, filter);
  GTEST_FLAG_SET(shuffle, false);  // a learner's order, always

  testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
  delete listeners.Release(listeners.default_result_printer());
  listeners.Append(
      new CheckerPrinter(program, last, stages.size()));  // owned by GoogleTest from here on
  return RUN_ALL_TESTS() == 0 ? 0 : 1;  // a skipped stage (no IPv6 here) is no failure
}
