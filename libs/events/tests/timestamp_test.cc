#include "iw/events/timestamp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/base/time_format.h"

namespace iw::events {
namespace {

using ::testing::HasSubstr;

std::string utc(std::string_view text, const TimeZone& zone = TimeZone::utc()) {
  auto parsed = parse_timestamp(text, zone);
  if (!parsed) return "defect: " + parsed.error().message;
  return base::format_rfc3339_millis(*parsed);
}

TEST(ParseTimestampTest, ReadsTheConnectorJobsFormatAndIsoVariants) {
  EXPECT_EQ(utc("2025-09-15 10:30:01.154"), "2025-09-15T10:30:01.154Z");
  EXPECT_EQ(utc("2025-09-15T10:30:01.154Z"), "2025-09-15T10:30:01.154Z");
  EXPECT_EQ(utc("2025-09-15T10:30:01Z"), "2025-09-15T10:30:01.000Z");
  EXPECT_EQ(utc("2025-09-15T10:30Z"), "2025-09-15T10:30:00.000Z");
  EXPECT_EQ(utc("2025-09-15 10:30:01"), "2025-09-15T10:30:01.000Z");
  EXPECT_EQ(utc("2025-09-15t10:30:01,5z"), "2025-09-15T10:30:01.500Z");
}

TEST(ParseTimestampTest, AppliesExplicitOffsetsWhateverTheZone) {
  const auto paris = TimeZone::from_name("Europe/Paris");
  ASSERT_TRUE(paris.has_value()) << paris.error().to_string();
  EXPECT_EQ(utc("2025-09-15T12:30:00+02:00", *paris), "2025-09-15T10:30:00.000Z");
  EXPECT_EQ(utc("2025-09-15T12:30:00+0200"), "2025-09-15T10:30:00.000Z");
  EXPECT_EQ(utc("2025-09-15T05:00:00-05"), "2025-09-15T10:00:00.000Z");
  EXPECT_EQ(utc("2025-09-15T10:30:00.1541339999+00:00"), "2025-09-15T10:30:00.154Z");
}

TEST(ParseTimestampTest, KeepsNanosecondPrecision) {
  auto parsed = parse_timestamp("2025-09-15T10:30:00.123456789Z", TimeZone::utc());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->time_since_epoch() % std::chrono::seconds{1},
            std::chrono::nanoseconds{123456789});
}

TEST(ParseTimestampTest, ReadsNaiveTimesInTheConfiguredZoneWithItsDaylightSaving) {
  const auto paris = TimeZone::from_name("Europe/Paris");
  ASSERT_TRUE(paris.has_value());
  EXPECT_EQ(utc("2025-09-15 12:30:00.000", *paris), "2025-09-15T10:30:00.000Z");  // CEST +2
  EXPECT_EQ(utc("2025-01-15 12:30:00.000", *paris), "2025-01-15T11:30:00.000Z");  // CET +1
  // 2025-10-26 02:30 happens twice in Paris; the earlier instant (still +2) is taken.
  EXPECT_EQ(utc("2025-10-26 02:30:00", *paris), "2025-10-26T00:30:00.000Z");
  // 2025-03-30 02:30 does not exist in Paris; it is moved forward past the gap.
  EXPECT_EQ(utc("2025-03-30 02:30:00", *paris), "2025-03-30T01:30:00.000Z");
  const auto fixed = TimeZone::from_name("-05:30");
  ASSERT_TRUE(fixed.has_value());
  EXPECT_EQ(utc("2025-09-15 10:00:00", *fixed), "2025-09-15T15:30:00.000Z");
}

TEST(ParseTimestampTest, RejectsWhatIsNotATimestampSayingWhy) {
  const auto defect_of = [](std::string_view text) {
    auto parsed = parse_timestamp(text, TimeZone::utc());
    EXPECT_FALSE(parsed.has_value()) << text;
    return parsed ? Defect{} : parsed.error();
  };
  EXPECT_EQ(defect_of("yesterday").reason, "invalid_timestamp");
  EXPECT_THAT(defect_of("yesterday").message, HasSubstr("'yesterday'"));
  EXPECT_THAT(defect_of("2025-02-30 10:00:00").message, HasSubstr("no such date"));
  EXPECT_THAT(defect_of("2025-09-15 24:00:00").message, HasSubstr("time out of range"));
  EXPECT_THAT(defect_of("2025-09-15 10:00:00 CEST").message, HasSubstr("unexpected text"));
  EXPECT_THAT(defect_of("2025-09-15T10:00:00+25:00").message, HasSubstr("bad UTC offset"));
  EXPECT_THAT(defect_of("2025-09-15").message, HasSubstr("'T' or a space"));
  EXPECT_THAT(defect_of("2025-09-15 10:00:00.").message, HasSubstr("digits"));
  EXPECT_THAT(defect_of("").message, HasSubstr("YYYY-MM-DD"));
}

TEST(TimeZoneTest, NamesAreCheckedAtStartup) {
  EXPECT_TRUE(TimeZone::from_name("UTC").has_value());
  EXPECT_TRUE(TimeZone::from_name("+02:00").has_value());
  auto unknown = TimeZone::from_name("Mars/Olympus_Mons");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_THAT(unknown.error().message(), HasSubstr("Mars/Olympus_Mons"));
  EXPECT_FALSE(TimeZone::from_name("+2h").has_value());
  EXPECT_TRUE(TimeZone::from_name("Europe/Paris").has_value());
}

}  // namespace
}  // namespace iw::events
