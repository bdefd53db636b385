#include "iw/events/future_timestamp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/events/timestamp.h"

namespace iw::events {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

base::TimePoint at(std::string_view text) {
  auto parsed = parse_timestamp(text, TimeZone::utc());
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(base::TimePoint{});
}

TEST(FutureTimestampTest, TheWallClockPlusTheToleranceIsStillInTime) {
  const base::TimePoint wall = at("2026-12-06T08:00:00Z");
  EXPECT_FALSE(future_timestamp_problem(at("2025-01-01T00:00:00Z"), wall, 15min));
  EXPECT_FALSE(future_timestamp_problem(wall, wall, 15min));
  EXPECT_FALSE(future_timestamp_problem(at("2026-12-06T08:15:00Z"), wall, 15min));
  EXPECT_TRUE(future_timestamp_problem(at("2026-12-06T08:15:00.001Z"), wall, 15min));
  EXPECT_TRUE(future_timestamp_problem(at("2026-12-06T08:00:00.001Z"), wall, 0ms));
}

TEST(FutureTimestampTest, TypoedYearsAreFutureAndTheMessageSaysWhy) {
  const base::TimePoint wall = at("2026-12-06T08:00:00Z");
  const auto problem = future_timestamp_problem(at("2261-01-01T00:00:00Z"), wall, 15min);
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr("event.end 2261-01-01T00:00:00.000Z"));
  EXPECT_THAT(*problem, HasSubstr("wall clock 2026-12-06T08:00:00.000Z + tolerance 900s"));
  EXPECT_TRUE(future_timestamp_problem(at("2030-06-01T00:00:00Z"), wall, 15min));
  // A tolerance as large as the clock's range does not wrap around.
  EXPECT_FALSE(
      future_timestamp_problem(at("2261-01-01T00:00:00Z"), wall, std::chrono::milliseconds::max()));
}

TEST(FutureTimestampTest, YearsBeyondNanosecondRangeAreFutureToo) {
  using std::chrono::sys_days;
  using std::chrono::year;
  const std::chrono::sys_time<std::chrono::milliseconds> far{sys_days{year{9999} / 1 / 1}};
  const auto problem = future_timestamp_problem(far, at("2026-12-06T08:00:00Z"), 15min);
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr("event.end 9999-01-01T00:00:00.000Z"));
}

}  // namespace
}  // namespace iw::events
