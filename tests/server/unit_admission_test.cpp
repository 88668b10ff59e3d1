// Admission (admission.hpp): limits, and which session a request at a limit takes the place of.
#include <gtest/gtest.h>

#include <string>

#include "tftp/detail/admission.hpp"

namespace tftp::detail {
namespace {

using Table = Admission<int, std::string>;
using Verdict = Table::Verdict;

TEST(Admission, BelowTheLimitsEveryRequestIsAdmitted) {
  Table table({.total = 3, .per_client = 2});
  EXPECT_EQ(table.decide("a").verdict, Verdict::admit);
  table.opened(1, "a");
  table.opened(2, "a");
  EXPECT_EQ(table.running("a"), 2U);
  EXPECT_EQ(table.decide("b").verdict, Verdict::admit);
}

// A flood from one client displaces only its own unanswered sessions, oldest first.
TEST(Admission, AtTheClientLimitTheClientsOldestUnansweredSessionMakesRoom) {
  Table table({.total = 100, .per_client = 2});
  table.opened(1, "a");
  table.opened(2, "a");
  table.opened(3, "b");
  const auto decision = table.decide("a");
  EXPECT_EQ(decision.verdict, Verdict::admit_after_eviction);
  EXPECT_EQ(decision.evict, 1);
  table.answered(1);
  EXPECT_EQ(table.decide("a").evict, 2);  // 1 is established now
  table.answered(2);
  EXPECT_EQ(table.decide("a").verdict, Verdict::busy);  // only established sessions in the way
  EXPECT_EQ(table.decide("b").verdict, Verdict::admit);
}

TEST(Admission, AtTheOverallLimitTheOldestUnansweredSessionOfAnyClientMakesRoom) {
  Table table({.total = 3, .per_client = 10});
  table.opened(1, "a");
  table.opened(2, "b");
  table.opened(3, "c");
  table.answered(1);
  const auto decision = table.decide("d");
  EXPECT_EQ(decision.verdict, Verdict::admit_after_eviction);
  EXPECT_EQ(decision.evict, 2);
  table.closed(2);
  table.opened(4, "d");
  EXPECT_EQ(table.decide("e").evict, 3);
  table.answered(3);
  table.answered(4);
  EXPECT_EQ(table.decide("e").verdict, Verdict::busy);
  EXPECT_EQ(table.unanswered(), 0U);
}

// One eviction frees a slot under both limits: the evicted session counted against both.
TEST(Admission, BothLimitsAtOnceEvictTheClientsOwnSession) {
  Table table({.total = 2, .per_client = 1});
  table.opened(1, "x");
  table.opened(2, "a");
  const auto decision = table.decide("a");
  EXPECT_EQ(decision.evict, 2);  // a's own, not the older session of x
}

// A finished transfer that dallies counts overall but not for its client, and is never evicted.
TEST(Admission, DallyingSessionsCountOverallOnly) {
  Table table({.total = 2, .per_client = 1});
  table.opened(1, "a");
  table.answered(1);
  table.finished(1);
  EXPECT_EQ(table.running("a"), 0U);
  EXPECT_EQ(table.total(), 1U);
  EXPECT_EQ(table.decide("a").verdict, Verdict::admit);
  table.opened(2, "a");
  table.answered(2);
  EXPECT_EQ(table.decide("b").verdict, Verdict::busy);
  table.closed(1);
  EXPECT_EQ(table.total(), 1U);
  EXPECT_EQ(table.decide("b").verdict, Verdict::admit);
}

// A session without a client key (the server's own loopback clients) counts only overall.
TEST(Admission, KeylessSessionsCountOnlyOverall) {
  Table table({.total = 3, .per_client = 1});
  table.opened(1, std::nullopt);
  table.opened(2, std::nullopt);
  EXPECT_EQ(table.decide(std::nullopt).verdict, Verdict::admit);
  table.opened(3, std::nullopt);
  EXPECT_EQ(table.decide(std::nullopt).evict, 1);  // overall: the oldest unanswered, keyless or not
  table.answered(1);
  table.answered(2);
  table.answered(3);
  EXPECT_EQ(table.decide("a").verdict, Verdict::busy);
  table.closed(2);
  EXPECT_EQ(table.decide("a").verdict, Verdict::admit);
}

TEST(Admission, ReportsInAnyOrderKeepTheCountsRight) {
  Table table({.total = 10, .per_client = 10});
  table.opened(1, "a");
  table.closed(1);
  table.closed(1);    // twice: nothing
  table.answered(7);  // unknown: nothing
  table.finished(7);
  table.opened(2, "a");
  table.opened(2, "a");  // the same id again: one session
  EXPECT_EQ(table.total(), 1U);
  EXPECT_EQ(table.running("a"), 1U);
  table.finished(2);
  table.finished(2);
  EXPECT_EQ(table.running("a"), 0U);
  table.closed(2);
  EXPECT_EQ(table.total(), 0U);
  EXPECT_EQ(table.unanswered(), 0U);
}

}  // namespace
}  // namespace tftp::detail
