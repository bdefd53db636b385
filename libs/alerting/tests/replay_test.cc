#include "iw/alerting/replay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

namespace iw::alerting {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using From = ReplayStart::From;

const base::TimePoint kNow{std::chrono::seconds{1'758'441'600}};

TEST(ReplayTest, WarmUpIsTheLongestWindowPlusTheLateness) {
  const std::vector<Rule> rules = {{.alert = "A", .window = minutes(10)},
                                   {.alert = "B", .window = minutes(75)},
                                   {.alert = "C", .window = minutes(30)}};
  EXPECT_EQ(warm_up_of(rules, minutes(5)), minutes(80));
}

TEST(ReplayTest, NoLookbackReplaysEveryPartitionFromItsBeginning) {
  EXPECT_EQ(replay_lookup(Millis(0), minutes(80), kNow), std::nullopt);
  // Every partition still holds its offset 0 (or is empty): the whole history.
  const std::vector<std::optional<std::int64_t>> first = {0, std::nullopt, 0};
  const Replay replay = replay_from_beginning(first);
  EXPECT_THAT(replay.starts, testing::Each(ReplayStart{.from = From::kBeginning}));
  EXPECT_EQ(replay.starts.size(), 3U);
  EXPECT_TRUE(replay.whole_input());
  EXPECT_EQ(replay.partial, Replay::Partial::kNo);
}

// Retention deleted the first records of one partition: what is left is not the whole history,
// and the windows of its first runs are partial. It warms up like a replay from mid-input.
TEST(ReplayTest, NoLookbackAfterRetentionDeletedRecordsIsPartial) {
  const std::vector<std::optional<std::int64_t>> first = {0, 4'512, std::nullopt};
  const Replay replay = replay_from_beginning(first);
  EXPECT_THAT(replay.starts, testing::Each(ReplayStart{.from = From::kBeginning}));
  EXPECT_FALSE(replay.whole_input());
  EXPECT_EQ(replay.partial, Replay::Partial::kRetention);
  EXPECT_EQ(partial_name(replay.partial), "retention");
}

TEST(ReplayTest, ALookbackLooksUpTheRecordsOfTheLookbackAndTheWarmUp) {
  EXPECT_EQ(replay_lookup(hours(2), minutes(80), kNow), kNow - hours(2) - minutes(80));
}

TEST(ReplayTest, ALookbackStartsWhereTheLookupFoundAndAtTheEndWhereNothingIsThatRecent) {
  const std::vector<std::optional<std::int64_t>> found = {120, std::nullopt, 0};
  const Replay replay = replay_from_lookup(found);
  EXPECT_THAT(replay.starts, testing::ElementsAre(ReplayStart{.from = From::kOffset, .offset = 120},
                                                  ReplayStart{.from = From::kEnd},
                                                  ReplayStart{.from = From::kOffset, .offset = 0}));
  EXPECT_FALSE(replay.whole_input());  // windows are partial until the warm-up has passed
  EXPECT_EQ(replay.partial, Replay::Partial::kLookback);
}

TEST(ReplayTest, ALookbackThatReachesOffsetZeroEverywhereIsTheWholeInput) {
  const std::vector<std::optional<std::int64_t>> found = {0, 0, 0};
  const Replay replay = replay_from_lookup(found);
  EXPECT_THAT(replay.starts, testing::Each(ReplayStart{.from = From::kOffset, .offset = 0}));
  EXPECT_TRUE(replay.whole_input());
  // Nothing that recent anywhere is not the whole input: nothing is replayed.
  const std::vector<std::optional<std::int64_t>> none = {std::nullopt, std::nullopt};
  EXPECT_FALSE(replay_from_lookup(none).whole_input());
}

}  // namespace
}  // namespace iw::alerting
