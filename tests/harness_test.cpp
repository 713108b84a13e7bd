// tests/harness_test.cpp — the harness keeps its own promises: every wait has
// a deadline, so a test whose program misbehaves fails instead of hanging.
#include "tests/support/harness.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>

using namespace std::chrono_literals;

// A peer that never reads: once both sockets' buffers are full, send_all
// waits for room that never comes. It gives up at its deadline, and says so.
TEST(Connection, SendAllGivesUpAtItsDeadlineWhenThePeerNeverReads) {
  harness::Listener listener;
  auto ours = harness::connect_to(listener.port);
  auto theirs = listener.accept();                      // and never reads
  const std::string flood(std::size_t{64} << 20, 'x');  // far more than the buffers hold
  testing::TestPartResultArray failures;
  bool sent = true;
  const auto start = harness::Clock::now();
  {
    const testing::ScopedFakeTestPartResultReporter reporter(
        testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    sent = ours.send_all(flood, 200ms);
  }
  const auto took = harness::Clock::now() - start;
  EXPECT_FALSE(sent);
  ASSERT_EQ(failures.size(), 1);
  EXPECT_NE(std::string(failures.GetTestPartResult(0).message()).find("no more until the deadline"),
            std::string::npos)
      << failures.GetTestPartResult(0).message();
  EXPECT_LT(took, 5s) << "send_all waited past its deadline";
}
