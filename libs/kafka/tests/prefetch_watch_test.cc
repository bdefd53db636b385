#include "iw/kafka/prefetch_watch.h"

#include <gtest/gtest.h>

namespace iw::kafka {
namespace {

// queued.min.messages 100 000, queued.max.messages.kbytes 64 MiB; records of 1 KiB.
constexpr std::size_t kRecords = 100'000;
constexpr std::size_t kBytes = std::size_t{64} << 20;
constexpr std::size_t kRecord = 1024;

// Reads `n` records of kRecord bytes, 8 at a time, from a queue of `queued` that nothing refills;
// returns how many wake-ups were asked for.
int drain(PrefetchWatch& watch, std::size_t& queued, std::size_t n) {
  int wakes = 0;
  for (std::size_t i = 0; i < n; i += 8) {
    queued -= 8;
    if (watch.after_poll(queued, 8, 8 * kRecord)) ++wakes;
  }
  return wakes;
}

TEST(PrefetchWatchTest, WakesOnceWhenAFullQueueHasDrainedToHalfItsByteLimit) {
  PrefetchWatch watch(kRecords, kBytes);
  std::size_t queued = 65'600;  // ~64 MiB: the byte limit stopped the fetcher
  EXPECT_EQ(drain(watch, queued, 8), 0);
  EXPECT_TRUE(watch.filled());
  // Down to 32 MiB (32 768 records): no wake-up before, one at that point.
  EXPECT_EQ(drain(watch, queued, 65'600 - 32'800), 0);
  EXPECT_EQ(drain(watch, queued, 40), 1);
  EXPECT_FALSE(watch.filled());
  // Drained further without having filled again: no second wake-up.
  EXPECT_EQ(drain(watch, queued, 20'000), 0);
  EXPECT_EQ(watch.wakeups(), 1u);
}

TEST(PrefetchWatchTest, TheRecordLimitCountsToo) {
  // Small records: 100 000 of 100 bytes is ~10 MB, far below the byte limit.
  PrefetchWatch watch(kRecords, kBytes);
  EXPECT_FALSE(watch.after_poll(99'992, 8, 800));
  EXPECT_TRUE(watch.filled());
  EXPECT_FALSE(watch.after_poll(50'008, 8, 800));
  EXPECT_TRUE(watch.after_poll(49'992, 8, 800));
}

TEST(PrefetchWatchTest, AQueueThatNeverFillsIsNeverWoken) {
  // Caught up: records come a few at a time and are read at once; the fetcher never stops.
  PrefetchWatch watch(kRecords, kBytes);
  for (int i = 0; i < 100'000; ++i) EXPECT_FALSE(watch.after_poll(i % 50, 8, 8 * kRecord));
  EXPECT_EQ(watch.wakeups(), 0u);
}

TEST(PrefetchWatchTest, FillsAndWakesAgainEachTimeTheQueueFills) {
  PrefetchWatch watch(kRecords, kBytes);
  int wakes = 0;
  for (int round = 0; round < 3; ++round) {
    std::size_t queued = 65'600;
    wakes += drain(watch, queued, 65'600);
  }
  EXPECT_EQ(wakes, 3);
}

// A poll may take more than the queue holds when the queue is small: it was full before the
// poll, and is woken as soon as what is left is below half.
TEST(PrefetchWatchTest, APollTakingMostOfASmallQueueStillSeesItFull) {
  PrefetchWatch watch(kRecords, 64 * 1024);
  EXPECT_FALSE(watch.after_poll(10, 16, 16 * 5000)) << "50 KB left: above half of 64 KiB";
  EXPECT_TRUE(watch.filled());
  EXPECT_TRUE(watch.after_poll(0, 10, 10 * 5000));
}

TEST(PrefetchWatchTest, BytesAreEstimatedFromTheRecordsRead) {
  PrefetchWatch watch(kRecords, kBytes);
  EXPECT_EQ(watch.queued_bytes(1000), 0u) << "nothing read yet: no estimate";
  (void)watch.after_poll(10, 4, 4000);
  EXPECT_EQ(watch.queued_bytes(1000), 1'000'000u);
}

}  // namespace
}  // namespace iw::kafka
