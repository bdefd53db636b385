#include "iw/config/duration.h"

#include <gtest/gtest.h>

#include <chrono>

namespace iw::config {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::weeks;

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("15s"), seconds(15));
  EXPECT_EQ(parse_duration("5m"), minutes(5));
  EXPECT_EQ(parse_duration("2h"), hours(2));
  EXPECT_EQ(parse_duration("2d"), days(2));
  EXPECT_EQ(parse_duration("1w"), weeks(1));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
}

TEST(ParseDuration, AcceptsCompoundsLargestUnitFirst) {
  EXPECT_EQ(parse_duration("1h30m"), minutes(90));
  EXPECT_EQ(parse_duration("1w2d3h4m5s6ms"),
            weeks(1) + days(2) + hours(3) + minutes(4) + seconds(5) + milliseconds(6));
  EXPECT_EQ(parse_duration("1m500ms"), milliseconds(60500));
}

TEST(ParseDuration, BareIntegerMeansSeconds) {
  EXPECT_EQ(parse_duration("30"), seconds(30));
  EXPECT_EQ(parse_duration("0"), seconds(0));
}

TEST(ParseDuration, RejectsGarbageWithAReason) {
  const std::string hint = "use digits followed by a unit (ms, s, m, h, d or w), e.g. '1h30m'";
  for (std::string_view text :
       {"", "abc", "5", "5x", "1.5h", "h", "1h 30m", "+5s", "5S", "1m5", " 5s", "5s "}) {
    if (text == "5") continue;  // a bare integer is valid
    auto result = parse_duration(text);
    ASSERT_FALSE(result.has_value()) << text;
    EXPECT_EQ(result.error().message(), hint) << text;
    EXPECT_EQ(result.error().code(), base::ErrorCode::kInvalidInput);
  }
}

TEST(ParseDuration, RejectsNegatives) {
  EXPECT_EQ(parse_duration("-5s").error().message(), "durations cannot be negative");
  EXPECT_EQ(parse_duration("-30").error().message(), "durations cannot be negative");
}

TEST(ParseDuration, RejectsUnitsOutOfOrderOrRepeated) {
  const std::string reason = "units must go from largest to smallest, each at most once";
  EXPECT_EQ(parse_duration("30m1h").error().message(), reason);
  EXPECT_EQ(parse_duration("1s1s").error().message(), reason);
  EXPECT_EQ(parse_duration("1ms1s").error().message(), reason);
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_EQ(parse_duration("99999999999999999999s").error().message(), "out of range");
  EXPECT_EQ(parse_duration("9223372036854775807s").error().message(), "out of range");
  EXPECT_EQ(parse_duration("9223372036854775807").error().message(), "out of range");
  EXPECT_EQ(parse_duration("15250284452w1w").error().message(),
            "units must go from largest to smallest, each at most once");
  EXPECT_EQ(parse_duration("15250284452w"), Duration(15250284452LL * 604800000LL));
  EXPECT_EQ(parse_duration("15250284453w").error().message(), "out of range");
}

TEST(FormatDuration, IsTheShortestRoundTrippingSpelling) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(minutes(90)), "1h30m");
  EXPECT_EQ(format_duration(days(9)), "1w2d");
  EXPECT_EQ(format_duration(milliseconds(61001)), "1m1s1ms");
  EXPECT_EQ(format_duration(milliseconds(-1500)), "-1s500ms");
  for (std::int64_t millis : {1LL, 999LL, 1000LL, 86400001LL, 123456789012LL}) {
    EXPECT_EQ(parse_duration(format_duration(milliseconds(millis))), milliseconds(millis));
  }
}

}  // namespace
}  // namespace iw::config
