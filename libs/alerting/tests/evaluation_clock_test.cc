#include "iw/alerting/evaluation_clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace iw::alerting {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const Instant kT0{std::chrono::sys_days{std::chrono::year{2025} / 9 / 21}};
const base::TimePoint kWall{std::chrono::seconds{1'800'000'000}};
const base::MonotonicTime kMono{};

TEST(EvaluationClockTest, DoesNotStartUntilEveryPartitionHasSpoken) {
  EvaluationClock clock({});
  EXPECT_FALSE(clock.at(kWall, kMono));  // nothing assigned
  clock.assign(0);
  clock.assign(1);
  clock.observe(0, kT0, kMono);
  EXPECT_FALSE(clock.at(kWall, kMono));  // partition 1 may still hold older runs
  clock.caught_up(1, kMono);
  EXPECT_EQ(clock.at(kWall, kMono), kT0 - minutes(5));
}

TEST(EvaluationClockTest, LowWatermarkOfBusyPartitionsMinusLateness) {
  EvaluationClock clock({.allowed_lateness = minutes(2)});
  clock.assign(0);
  clock.assign(1);
  clock.observe(0, kT0 + minutes(30), kMono);
  clock.observe(1, kT0 + minutes(10), kMono);
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(8));
  // An older record does not move a partition's latest back, nor the clock.
  clock.observe(1, kT0, kMono);
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(8));
  // Partition 1 caught up: it stops holding the clock back.
  clock.caught_up(1, kMono);
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(28));
}

TEST(EvaluationClockTest, AllIdleAdvancesAtWallPaceScaledByIdleSpeed) {
  EvaluationClock clock({.idle_speed = 60});
  clock.assign(0);
  clock.assign(1);
  clock.observe(0, kT0 + minutes(30), kMono);
  clock.observe(1, kT0 + minutes(10), kMono);
  clock.caught_up(0, kMono);
  clock.caught_up(1, kMono);
  // From the furthest point the input reached, minus the lateness.
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(25));
  EXPECT_EQ(clock.at(kWall, kMono + seconds(2)), kT0 + minutes(27));  // 2 s × 60
  // New input on a partition: the watermark governs again, but the clock never goes back.
  clock.observe(1, kT0 + minutes(20), kMono + seconds(3));
  EXPECT_EQ(clock.at(kWall, kMono + seconds(3)), kT0 + minutes(27));
  clock.observe(1, kT0 + minutes(40), kMono + seconds(4));
  EXPECT_EQ(clock.at(kWall, kMono + seconds(4)), kT0 + minutes(35));
}

TEST(EvaluationClockTest, EmptyInputDoesNotStartTheClock) {
  // A replay may begin later; starting from the wall clock would make all of it late.
  EvaluationClock clock({});
  clock.assign(0);
  clock.caught_up(0, kMono);
  EXPECT_FALSE(clock.at(kWall, kMono + seconds(10)));
  clock.observe(0, kT0, kMono + seconds(11));
  EXPECT_EQ(clock.at(kWall, kMono + seconds(11)), kT0 - minutes(5));
}

TEST(EvaluationClockTest, WallClockModeIsWallTimeMinusLateness) {
  EvaluationClock clock({.mode = ClockMode::kWallClock, .allowed_lateness = minutes(1)});
  const auto wall = std::chrono::floor<Millis>(kWall);
  EXPECT_EQ(clock.at(kWall, kMono), Instant(wall) - minutes(1));
  // A wall clock stepped back (NTP) does not move the evaluation back.
  EXPECT_EQ(clock.at(kWall - seconds(30), kMono), Instant(wall) - minutes(1));
}

TEST(EvaluationClockTest, ResumesFromACheckpoint) {
  EvaluationClock clock({});
  clock.resume_from(kT0);
  clock.assign(0);
  clock.observe(0, kT0 + minutes(1), kMono);  // watermark kT0 - 4 min, behind the checkpoint
  EXPECT_EQ(clock.at(kWall, kMono), kT0);
}

TEST(EvaluationClockTest, ACaughtUpPartitionHoldsTheClockForTheIdleGrace) {
  EvaluationClock clock({.idle_grace = seconds(2)});
  clock.assign(0);
  clock.assign(1);
  clock.observe(0, kT0 + minutes(30), kMono);
  clock.caught_up(1, kMono);  // never delivered: nothing is decided while it may still
  EXPECT_FALSE(clock.at(kWall, kMono + seconds(1)));
  clock.caught_up(1, kMono + seconds(1));  // asked again: the grace still counts from kMono
  EXPECT_EQ(clock.at(kWall, kMono + seconds(2)), kT0 + minutes(25));
}

TEST(EvaluationClockTest, InputFlowingAgainRestartsTheOtherPartitionsGrace) {
  EvaluationClock clock({.idle_grace = seconds(2)});
  clock.assign(0);
  clock.assign(1);
  clock.observe(0, kT0, kMono);
  clock.observe(1, kT0, kMono);
  clock.caught_up(0, kMono);
  clock.caught_up(1, kMono);
  EXPECT_EQ(clock.at(kWall, kMono + seconds(2)), kT0 - minutes(5));  // idle from here on
  const auto quiet = kMono + seconds(62);
  EXPECT_EQ(clock.at(kWall, quiet), kT0 - minutes(5) + seconds(60));  // at wall pace
  // A burst: partition 1's records come first and run a day ahead; partition 0's (still
  // "caught up" from before the burst) may be in flight, so it holds the clock at its own
  // latest until it has been caught up for the grace once more.
  clock.observe(1, kT0 + std::chrono::hours(24), quiet);
  EXPECT_EQ(clock.at(kWall, quiet + seconds(1)), kT0 - minutes(5) + seconds(60));
  clock.observe(0, kT0 + minutes(10), quiet + seconds(1));  // its records arrive: not late
  EXPECT_EQ(clock.at(kWall, quiet + seconds(1)), kT0 + minutes(5));
  clock.caught_up(0, quiet + seconds(1));
  EXPECT_EQ(clock.at(kWall, quiet + seconds(2)), kT0 + minutes(5));
  EXPECT_EQ(clock.at(kWall, quiet + seconds(3)), kT0 + std::chrono::hours(24) - minutes(5));
}

TEST(EvaluationClockTest, ASourceAheadOfItsPeersDoesNotCarryTheClock) {
  EvaluationClock clock({});
  clock.assign(0);
  clock.assign(1);
  clock.observe(0, "Zoho", kT0, kMono);
  clock.observe(1, "PowerBI", kT0 + seconds(30), kMono);
  clock.observe(1, "Ahead2h", kT0 + std::chrono::hours(2), kMono);
  clock.observe(0, "Salesforce", kT0 + minutes(1), kMono);
  clock.observe(1, "Sage", kT0 + minutes(1), kMono);
  // Partition 1 has come as far as the middle of its three sources, not as far as the fast one.
  EXPECT_EQ(clock.progress(1), kT0 + minutes(1));
  EXPECT_EQ(clock.progress(0), kT0);  // the lower of its two
  EXPECT_EQ(clock.at(kWall, kMono), kT0 - minutes(5));
  // Every partition idle, the one carrying the fast source included: the idle clock starts
  // from the furthest partition's progress, not from the fast source.
  clock.caught_up(0, kMono);
  clock.caught_up(1, kMono);
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(1) - minutes(5));
  EXPECT_EQ(clock.at(kWall, kMono + seconds(60)), kT0 + minutes(2) - minutes(5));
}

TEST(EvaluationClockTest, TwoSourcesFollowTheOneBehindWhicheverCameFirst) {
  EvaluationClock clock({});
  clock.assign(0);
  clock.observe(0, "Ahead30m", kT0 + minutes(30), kMono);
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(25));  // alone, it is the front
  clock.observe(0, "Zoho", kT0, kMono);
  clock.observe(0, "Zoho", kT0 + minutes(2), kMono);
  // The clock never goes back, but it waits for Zoho to reach it.
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(25));
  clock.observe(0, "Zoho", kT0 + minutes(40), kMono);
  EXPECT_EQ(clock.at(kWall, kMono), kT0 + minutes(25));  // the other one is behind now
}

TEST(EvaluationClockTest, ASourceGoingOnAloneLeadsOnceItsPeersStoppedVoting) {
  EvaluationClock clock({.source_vote_records = 10});
  clock.assign(0);
  clock.observe(0, "Zoho", kT0, kMono);
  clock.observe(0, "PowerBI", kT0, kMono);
  Instant end = kT0;
  for (int i = 0; i < 8; ++i) {
    end += minutes(1);
    clock.observe(0, "PowerBI", end, kMono);
    EXPECT_EQ(clock.at(kWall, kMono), kT0 - minutes(5)) << i;  // Zoho still votes
  }
  end += minutes(1);
  clock.observe(0, "PowerBI", end, kMono);  // Zoho's last record is ten records back
  EXPECT_EQ(clock.at(kWall, kMono), end - minutes(5));
}

TEST(EvaluationClockTest, NoPartitionCountsBeyondTheWallClock) {
  EvaluationClock clock({});
  clock.assign(0);
  const Instant wall = std::chrono::floor<Millis>(kWall);
  clock.observe(0, "Zoho", wall + minutes(10), kMono);  // within a future tolerance
  EXPECT_EQ(clock.at(kWall, kMono), wall - minutes(5));
}

}  // namespace
}  // namespace iw::alerting
