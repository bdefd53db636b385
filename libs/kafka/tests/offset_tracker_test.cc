#include "iw/kafka/offset_tracker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const TopicPartition kP0{"in", 0};
const TopicPartition kP1{"in", 1};

TEST(OffsetTrackerTest, CommitsOnlyTheContiguousFinishedPrefix) {
  OffsetTracker tracker;
  for (std::int64_t o = 10; o < 14; ++o) tracker.started(kP0, o);
  tracker.finished(kP0, 12);  // out of order: 10 and 11 are still in flight
  EXPECT_THAT(tracker.take_committable(), IsEmpty());
  tracker.finished(kP0, 10);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"in", 0, 11}));
  tracker.finished(kP0, 11);  // now 10..12 done
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"in", 0, 13}));
  EXPECT_THAT(tracker.take_committable(), IsEmpty()) << "each position is handed out once";
  EXPECT_EQ(tracker.in_flight(), 1u);
}

TEST(OffsetTrackerTest, PartitionsAreIndependentAndForgettable) {
  OffsetTracker tracker;
  tracker.started(kP0, 0);
  tracker.started(kP1, 5);
  tracker.finished(kP1, 5);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"in", 1, 6}));
  tracker.forget(kP0);
  tracker.finished(kP0, 0);  // a late report for a revoked partition is ignored
  EXPECT_THAT(tracker.take_committable(), IsEmpty());
  EXPECT_EQ(tracker.in_flight(), 0u);
}

// The same partition number in two topics is two partitions, however the reports alternate
// (the tracker remembers the partition it looked up last); a forgotten one starts afresh.
TEST(OffsetTrackerTest, SamePartitionNumberOfAnotherTopicIsAnotherPartition) {
  OffsetTracker tracker;
  const TopicPartition other{"other", 0};
  tracker.started(kP0, 5);
  tracker.started(other, 7);
  tracker.finished(other, 7);
  tracker.finished(kP0, 6);  // not started on "in": ignored
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"other", 0, 8}));
  tracker.finished(kP0, 5);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"in", 0, 6}));
  tracker.started(other, 8);
  tracker.forget(other);
  tracker.finished(other, 8);  // revoked meanwhile
  EXPECT_FALSE(tracker.tracks(other));
  tracker.started(other, 20);
  tracker.finished(other, 20);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"other", 0, 21}));
  EXPECT_EQ(tracker.in_flight(), 0u);
}

// The Loki pusher's pattern: records of one partition go into batches that Loki accepts out of
// order, and records it refuses are dead-lettered, their delivery reported later still.
TEST(OffsetTrackerTest, BatchesAcceptedOutOfOrderAndLateDeadLettersHoldThePositionBack) {
  OffsetTracker tracker;
  for (std::int64_t o = 0; o < 10; ++o) tracker.started(kP0, o);
  // Batch B (offsets 5..9) is accepted before batch A (0..4), which is still being retried.
  for (std::int64_t o = 5; o < 10; ++o) tracker.finished(kP0, o);
  EXPECT_THAT(tracker.take_committable(), IsEmpty());
  // Batch A answered 400: 0, 1, 3 and 4 accepted, 2 goes to the dead-letter topic.
  for (std::int64_t o : {0, 1, 3, 4}) tracker.finished(kP0, o);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"in", 0, 2}));
  EXPECT_EQ(tracker.in_flight(), 8u);
  // The dead letter's delivery report: everything up to 9 is now done.
  tracker.finished(kP0, 2);
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"in", 0, 10}));
  EXPECT_EQ(tracker.in_flight(), 0u);
}

TEST(OffsetTrackerTest, ReportsTwiceOrForUnknownOffsetsChangeNothing) {
  OffsetTracker tracker;
  tracker.started(kP0, 3);
  tracker.started(kP0, 4);
  tracker.finished(kP0, 4);
  tracker.finished(kP0, 4);
  tracker.finished(kP0, 99);  // never started
  EXPECT_THAT(tracker.take_committable(), IsEmpty());
  tracker.finished(kP0, 3);
  tracker.finished(kP0, 3);  // already popped
  EXPECT_THAT(tracker.take_committable(), ElementsAre(TopicPartitionOffset{"in", 0, 5}));
}

TEST(OffsetTrackerTest, TracksOwnedPartitionsUntilForgotten) {
  OffsetTracker tracker;
  EXPECT_FALSE(tracker.tracks(kP0));
  tracker.started(kP0, 0);
  tracker.finished(kP0, 0);
  (void)tracker.take_committable();
  EXPECT_TRUE(tracker.tracks(kP0)) << "a caught-up partition is still owned";
  tracker.forget(kP0);
  EXPECT_FALSE(tracker.tracks(kP0));
  // Assigned again: read from the committed position.
  tracker.started(kP0, 1);
  EXPECT_TRUE(tracker.tracks(kP0));
}

TEST(BatchPositionsTest, CommitsAfterTheLastAndRewindsToTheFirstRecordPerPartition) {
  BatchPositions batch;
  EXPECT_TRUE(batch.empty());
  batch.add(kP0, 7);
  batch.add(kP1, 3);
  batch.add(kP0, 8);
  EXPECT_EQ(batch.records(), 3u);
  EXPECT_THAT(batch.commit_positions(),
              ElementsAre(TopicPartitionOffset{"in", 0, 9}, TopicPartitionOffset{"in", 1, 4}));
  EXPECT_THAT(batch.rewind_positions(),
              ElementsAre(TopicPartitionOffset{"in", 0, 7}, TopicPartitionOffset{"in", 1, 3}));
  batch.clear();
  EXPECT_TRUE(batch.empty());
}

}  // namespace
}  // namespace iw::kafka
