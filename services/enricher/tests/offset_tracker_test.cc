#include "offset_tracker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::enricher {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const kafka::TopicPartition kP0{"in", 0};
const kafka::TopicPartition kP1{"in", 1};

TEST(OffsetTrackerTest, CommitsOnlyTheContiguousFinishedPrefix) {
  OffsetTracker tracker;
  for (std::int64_t o = 10; o < 14; ++o) tracker.started(kP0, o);
  tracker.finished(kP0, 12);  // out of order: 10 and 11 are still in flight
  EXPECT_THAT(tracker.take_committable(), IsEmpty());
  tracker.finished(kP0, 10);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(kafka::TopicPartitionOffset{"in", 0, 11}));
  tracker.finished(kP0, 11);  // now 10..12 done
  EXPECT_THAT(tracker.take_committable(), ElementsAre(kafka::TopicPartitionOffset{"in", 0, 13}));
  EXPECT_THAT(tracker.take_committable(), IsEmpty()) << "each position is handed out once";
  EXPECT_EQ(tracker.in_flight(), 1u);
}

TEST(OffsetTrackerTest, PartitionsAreIndependentAndForgettable) {
  OffsetTracker tracker;
  tracker.started(kP0, 0);
  tracker.started(kP1, 5);
  tracker.finished(kP1, 5);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(kafka::TopicPartitionOffset{"in", 1, 6}));
  tracker.forget(kP0);
  tracker.finished(kP0, 0);  // a late report for a revoked partition is ignored
  EXPECT_THAT(tracker.take_committable(), IsEmpty());
  EXPECT_EQ(tracker.in_flight(), 0u);
}

TEST(BatchPositionsTest, CommitsAfterTheLastAndRewindsToTheFirstRecordPerPartition) {
  BatchPositions batch;
  EXPECT_TRUE(batch.empty());
  batch.add(kP0, 7);
  batch.add(kP1, 3);
  batch.add(kP0, 8);
  EXPECT_EQ(batch.records(), 3u);
  EXPECT_THAT(batch.commit_positions(), ElementsAre(kafka::TopicPartitionOffset{"in", 0, 9},
                                                    kafka::TopicPartitionOffset{"in", 1, 4}));
  EXPECT_THAT(batch.rewind_positions(), ElementsAre(kafka::TopicPartitionOffset{"in", 0, 7},
                                                    kafka::TopicPartitionOffset{"in", 1, 3}));
  batch.clear();
  EXPECT_TRUE(batch.empty());
}

}  // namespace
}  // namespace iw::enricher
