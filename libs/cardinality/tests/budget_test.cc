#include "iw/cardinality/budget.h"

#include <gtest/gtest.h>

#include <string>

namespace iw::cardinality {
namespace {

using namespace std::chrono_literals;

TEST(BudgetTest, TracksUpToTheLimitThenFoldsIntoOther) {
  base::FakeClock clock;
  Budget budget({.max_tracked = 2}, clock);
  EXPECT_EQ(budget.admit("PowerBI").label, "PowerBI");
  EXPECT_EQ(budget.admit("Zoho").label, "Zoho");
  const Budget::Admission third = budget.admit("Efficy");
  EXPECT_EQ(third.label, kOther);
  EXPECT_TRUE(third.folded);
  EXPECT_TRUE(third.first_fold);
  // Known values keep their series; a folded one stays folded, and only the first fold is news.
  EXPECT_EQ(budget.admit("PowerBI").label, "PowerBI");
  const Budget::Admission again = budget.admit("Efficy");
  EXPECT_TRUE(again.folded);
  EXPECT_FALSE(again.first_fold);
  EXPECT_FALSE(budget.admit("SharePoint").first_fold);
  EXPECT_EQ(budget.tracked(), 2U);
  EXPECT_EQ(budget.folded(), 3U);
  EXPECT_TRUE(budget.tracks("Zoho"));
  EXPECT_FALSE(budget.tracks("Efficy"));
}

TEST(BudgetTest, ZeroMeansNoLimit) {
  base::FakeClock clock;
  Budget budget({.max_tracked = 0}, clock);
  for (int i = 0; i < 5000; ++i) EXPECT_FALSE(budget.admit("s" + std::to_string(i)).folded);
  EXPECT_EQ(budget.tracked(), 5000U);
}

TEST(BudgetTest, EvictsValuesUnseenForIdleAfterAndFreesTheirPlace) {
  base::FakeClock clock;
  Budget budget({.max_tracked = 2, .idle_after = 1h}, clock);
  (void)budget.admit("a");
  (void)budget.admit("b");
  EXPECT_TRUE(budget.admit("c").folded);
  clock.advance(40min);
  (void)budget.admit("b");  // b stays busy
  clock.advance(30min);     // a unseen for 70 min, b for 30
  EXPECT_EQ(budget.evict_idle(), std::vector<std::string>{"a"});
  EXPECT_EQ(budget.evicted(), 1U);
  EXPECT_EQ(budget.tracked(), 1U);
  // The freed place goes to the next new value, even one folded before.
  const Budget::Admission c = budget.admit("c");
  EXPECT_FALSE(c.folded);
  EXPECT_EQ(c.label, "c");
  EXPECT_TRUE(budget.admit("a").folded);
}

TEST(BudgetTest, ScansAtMostOncePerEighthOfIdleAfterUnlessForced) {
  base::FakeClock clock;
  Budget budget({.max_tracked = 10, .idle_after = 80min}, clock);  // a scan per 10 min at most
  (void)budget.admit("a");
  clock.advance(5min);
  (void)budget.admit("b");
  clock.advance(75min);
  EXPECT_EQ(budget.evict_idle(), std::vector<std::string>{"a"});
  clock.advance(5min);  // b is idle now, but the last scan was 5 min ago
  EXPECT_TRUE(budget.evict_idle().empty());
  EXPECT_EQ(budget.evict_idle(/*force=*/true), std::vector<std::string>{"b"});
  (void)budget.admit("c");
  clock.advance(80min);
  EXPECT_EQ(budget.evict_idle(), std::vector<std::string>{"c"});
}

TEST(BudgetTest, NoEvictionWhenIdleAfterIsZero) {
  base::FakeClock clock;
  Budget budget({.max_tracked = 1}, clock);
  (void)budget.admit("a");
  clock.advance(24h * 365);
  EXPECT_TRUE(budget.evict_idle(/*force=*/true).empty());
  EXPECT_TRUE(budget.admit("b").folded);
}

}  // namespace
}  // namespace iw::cardinality
