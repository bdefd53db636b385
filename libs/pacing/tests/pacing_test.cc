#include "iw/pacing/pacing.h"

#include <gtest/gtest.h>

namespace iw::pacing {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

TEST(RateLimiterTest, UnlimitedNeverWaits) {
  RateLimiter unlimited(0);
  base::FakeClock clock;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(unlimited.delay(clock.monotonic_now()), nanoseconds{0});
}

TEST(RateLimiterTest, SpacesSendsEvenly) {
  RateLimiter limiter(4);  // one every 250 ms
  base::FakeClock clock;
  EXPECT_EQ(limiter.delay(clock.monotonic_now()), 0ms);
  EXPECT_EQ(limiter.delay(clock.monotonic_now()), 250ms);
  clock.advance(250ms);
  EXPECT_EQ(limiter.delay(clock.monotonic_now()), 250ms);  // the slot at 500 ms
  clock.advance(250ms);
  clock.advance(100ms);
  EXPECT_EQ(limiter.delay(clock.monotonic_now()), 150ms);  // the slot at 750 ms
}

TEST(RateLimiterTest, DoesNotBurstAfterAStall) {
  RateLimiter limiter(10, /*max_burst=*/3);  // 100 ms apart, up to 3 back to back
  base::FakeClock clock;
  EXPECT_EQ(limiter.delay(clock.monotonic_now()), 0ms);
  clock.advance(10s);  // stalled: 100 slots missed
  int immediate = 0;
  while (limiter.delay(clock.monotonic_now()) == 0ms) ++immediate;
  EXPECT_EQ(immediate, 3);
}

TEST(ReplayScheduleTest, KeepsTheRecordsSpacingDividedBySpeed) {
  ReplaySchedule schedule(60);  // an hour of history per minute
  base::FakeClock clock;
  const base::TimePoint first = base::TimePoint{std::chrono::seconds{1'757'932'200}};
  const auto now_mono = clock.monotonic_now();
  const auto now_wall = clock.now();

  auto slot = schedule.place(first, now_mono, now_wall);
  EXPECT_EQ(slot.send_at, now_mono);
  EXPECT_EQ(first + slot.shift, now_wall);

  slot = schedule.place(first + 1h, now_mono + 5s, now_wall + 5s);
  EXPECT_EQ(slot.send_at, now_mono + 1min);
  EXPECT_EQ(first + 1h + slot.shift, now_wall + 1min);
}

TEST(ReplayScheduleTest, OlderRecordsGoAtOnceAndRestartReanchors) {
  ReplaySchedule schedule(1);
  base::FakeClock clock;
  const base::TimePoint first = base::TimePoint{std::chrono::seconds{1'757'932'200}};
  (void)schedule.place(first, clock.monotonic_now(), clock.now());
  const auto late = schedule.place(first - 10min, clock.monotonic_now(), clock.now());
  EXPECT_EQ(late.send_at, clock.monotonic_now());

  clock.advance(1h);
  schedule.restart();
  const auto again = schedule.place(first, clock.monotonic_now(), clock.now());
  EXPECT_EQ(again.send_at, clock.monotonic_now());
  EXPECT_EQ(first + again.shift, clock.now());
}

// A resumed replay gives each record the time the first one gave it (the same bytes, so the
// same event.id), and sends at once the records whose instant passed while it was stopped.
TEST(ReplayScheduleTest, AResumedReplayGivesTheSameTimesAsTheFirst) {
  ReplaySchedule first_run(60);
  base::FakeClock clock;
  const base::TimePoint first = base::TimePoint{std::chrono::seconds{1'757'932'200}};
  (void)first_run.place(first, clock.monotonic_now(), clock.now());
  const auto original = first_run.place(first + 2h, clock.monotonic_now(), clock.now());
  const auto anchor = *first_run.anchor();

  clock.advance(10min);  // stopped for longer than the record's 2 min at speed 60
  ReplaySchedule resumed(60);
  resumed.resume(anchor.record_time, anchor.wall, clock.monotonic_now(), clock.now());
  const auto again = resumed.place(first + 2h, clock.monotonic_now(), clock.now());
  EXPECT_EQ(again.shift, original.shift);
  EXPECT_LE(again.send_at, clock.monotonic_now());
  const auto later = resumed.place(first + 20h, clock.monotonic_now(), clock.now());
  EXPECT_EQ(later.send_at, clock.monotonic_now() + 10min);
}

}  // namespace
}  // namespace iw::pacing
