#include "iw/base/clock.h"

#include <gtest/gtest.h>

namespace iw::base {
namespace {

using std::chrono::seconds;

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock(TimePoint{seconds{100}});
  EXPECT_EQ(clock.now(), TimePoint{seconds{100}});
  const auto mono = clock.monotonic_now();
  clock.advance(seconds{5});
  EXPECT_EQ(clock.now(), TimePoint{seconds{105}});
  EXPECT_EQ(clock.monotonic_now() - mono, seconds{5});
}

TEST(FakeClockTest, WallStepDoesNotMoveMonotonicTime) {
  FakeClock clock(TimePoint{seconds{100}});
  const auto mono = clock.monotonic_now();
  clock.set_wall(TimePoint{seconds{50}});
  EXPECT_EQ(clock.now(), TimePoint{seconds{50}});
  EXPECT_EQ(clock.monotonic_now(), mono);
}

TEST(SystemClockTest, MonotonicTimeNeverGoesBack) {
  const Clock& clock = SystemClock::instance();
  const auto a = clock.monotonic_now();
  const auto b = clock.monotonic_now();
  EXPECT_LE(a, b);
  EXPECT_GT(clock.now().time_since_epoch(), seconds{1'600'000'000});
}

}  // namespace
}  // namespace iw::base
