#include "iw/loki/push_queue.h"

#include <gtest/gtest.h>

namespace iw::loki {
namespace {

using std::chrono::milliseconds;

const base::MonotonicTime kNow{std::chrono::seconds{1000}};

// A job told apart by its first entry's offset.
PushJob job(std::size_t lane, std::int64_t id) {
  PushJob out;
  out.batch.lane = lane;
  out.batch.streams.push_back(
      {.labels = "{lane=\"" + std::to_string(lane) + "\"}",
       .entries = {{.timestamp_ns = id, .line = "x", .ref = {.offset = id}}}});
  out.batch.entry_count = 1;
  return out;
}

std::int64_t id(const std::optional<PushJob>& started) {
  EXPECT_TRUE(started.has_value());
  return started ? started->batch.streams.front().entries.front().ref.offset : -1;
}

TEST(PushQueueTest, OnePushPerLaneAndALanesBatchesInOrder) {
  PushQueue queue(4);
  queue.push(job(0, 1));
  queue.push(job(0, 2));
  queue.push(job(1, 3));
  queue.push(job(0, 4));
  queue.push(job(1, 5));
  EXPECT_EQ(id(queue.start(kNow)), 1);
  EXPECT_EQ(id(queue.start(kNow)), 3);  // lane 1 overtakes lane 0's second batch
  EXPECT_FALSE(queue.start(kNow));      // both lanes busy: 2, 4 and 5 wait their turn
  EXPECT_EQ(queue.in_flight(), 2U);
  // Answers come back out of order: lane 1's first.
  queue.done(1);
  EXPECT_EQ(id(queue.start(kNow)), 5);
  EXPECT_FALSE(queue.start(kNow));
  queue.done(0);
  EXPECT_EQ(id(queue.start(kNow)), 2);
  queue.done(0);
  EXPECT_EQ(id(queue.start(kNow)), 4);
  queue.done(1);
  queue.done(0);
  EXPECT_TRUE(queue.idle());
}

TEST(PushQueueTest, NoMoreThanMaxInFlight) {
  PushQueue queue(2);
  for (std::int64_t i = 0; i < 4; ++i) queue.push(job(static_cast<std::size_t>(i), i));
  EXPECT_EQ(id(queue.start(kNow)), 0);
  EXPECT_EQ(id(queue.start(kNow)), 1);
  EXPECT_FALSE(queue.startable(kNow));
  queue.done(1);
  EXPECT_EQ(id(queue.start(kNow)), 2);
}

TEST(PushQueueTest, PartsOfASplitGoBeforeTheRestOfTheirLane) {
  PushQueue queue(2);
  queue.push(job(0, 1));
  queue.push(job(0, 4));
  EXPECT_EQ(id(queue.start(kNow)), 1);
  std::vector<PushJob> parts;
  parts.push_back(job(0, 2));
  parts.push_back(job(0, 3));
  queue.push_front(std::move(parts));  // the lane is still busy: nothing starts yet
  EXPECT_FALSE(queue.start(kNow));
  queue.done(0);
  EXPECT_EQ(id(queue.start(kNow)), 2);
  queue.done(0);
  EXPECT_EQ(id(queue.start(kNow)), 3);
  queue.done(0);
  EXPECT_EQ(id(queue.start(kNow)), 4);
}

TEST(PushQueueTest, ASetAsideBatchLetsItsLaneGoOnUntilItIsDue) {
  PushQueue queue(2);
  queue.push(job(0, 1));
  queue.push(job(0, 2));
  PushJob first = *queue.start(kNow);
  first.not_before = kNow + milliseconds(500);
  queue.park(std::move(first));
  queue.done(0);
  EXPECT_EQ(queue.next_due(), kNow + milliseconds(500));
  EXPECT_EQ(id(queue.start(kNow)), 2);                  // behind it, but not held back by it
  EXPECT_FALSE(queue.start(kNow + milliseconds(600)));  // due, but its lane is busy
  queue.done(0);
  EXPECT_FALSE(queue.idle());
  EXPECT_TRUE(queue.quiet());
  EXPECT_FALSE(queue.start(kNow + milliseconds(100)));  // not due yet
  EXPECT_EQ(id(queue.start(kNow + milliseconds(600))), 1);
  queue.done(0);
  EXPECT_TRUE(queue.idle());
}

TEST(PushQueueTest, WhileLokiFailsOnlyDueSetAsideBatchesStart) {
  PushQueue queue(4);
  queue.push(job(0, 1));
  PushJob parked = job(1, 2);
  parked.not_before = kNow;
  queue.park(std::move(parked));
  EXPECT_EQ(id(queue.start(kNow, /*new_jobs=*/false)), 2);
  EXPECT_FALSE(queue.start(kNow, /*new_jobs=*/false));
  EXPECT_EQ(id(queue.start(kNow)), 1);
}

TEST(PushQueueTest, TakeWaitingLeavesOnlyWhatIsInFlight) {
  PushQueue queue(1);
  queue.push(job(0, 1));
  queue.push(job(1, 2));
  PushJob parked = job(2, 3);
  parked.not_before = kNow + milliseconds(10);
  queue.park(std::move(parked));
  EXPECT_EQ(id(queue.start(kNow)), 1);
  EXPECT_EQ(queue.take_waiting().size(), 2U);
  EXPECT_FALSE(queue.idle());
  queue.done(0);
  EXPECT_TRUE(queue.idle());
}

}  // namespace
}  // namespace iw::loki
