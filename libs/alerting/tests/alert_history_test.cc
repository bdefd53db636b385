#include "iw/alerting/alert_history.h"

#include <gtest/gtest.h>

#include <chrono>

#include "history_events.h"

namespace iw::alerting {
namespace {

using history_events::firing;
using history_events::resolved;
using std::chrono::minutes;

const Instant kT0{std::chrono::sys_days{std::chrono::year{2025} / 9 / 21}};

TEST(AlertHistoryTest, KnowsExactlyTheTransitionsWritten) {
  AlertHistory history;
  history.record(firing(1, kT0));
  history.record(resolved(1, kT0, kT0 + minutes(5)));
  EXPECT_TRUE(history.contains(firing(1, kT0)));
  EXPECT_TRUE(history.contains(resolved(1, kT0, kT0 + minutes(5))));
  EXPECT_FALSE(history.contains(firing(1, kT0 + minutes(10))));  // a later episode
  EXPECT_FALSE(history.contains(resolved(1, kT0, kT0 + minutes(6))));
  EXPECT_FALSE(history.contains(firing(2, kT0)));  // another alert
  EXPECT_EQ(history.size(), 2U);
  EXPECT_EQ(history.latest(), kT0 + minutes(5));
}

TEST(AlertHistoryTest, FiringSinceIsTheStartOfTheEpisodeOpenAtAnInstant) {
  AlertHistory history;
  // Recorded out of order (two partitions of the alerts topic): kept in instant order.
  history.record(firing(7, kT0 + minutes(20)));
  history.record(firing(7, kT0));
  history.record(resolved(7, kT0, kT0 + minutes(5)));
  EXPECT_EQ(history.firing_since(7, kT0 - minutes(1)), std::nullopt);
  EXPECT_EQ(history.firing_since(7, kT0 + minutes(2)), kT0);
  EXPECT_EQ(history.firing_since(7, kT0 + minutes(5)), std::nullopt);
  EXPECT_EQ(history.firing_since(7, kT0 + minutes(30)), kT0 + minutes(20));
  EXPECT_EQ(history.firing_since(8, kT0 + minutes(30)), std::nullopt);
}

}  // namespace
}  // namespace iw::alerting
