#include <gtest/gtest.h>

#include "iw/base/json_escape.h"
#include "iw/base/time_format.h"

namespace iw::base {
namespace {

std::string json(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json("plain"), "\"plain\"");
  EXPECT_EQ(json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
  EXPECT_EQ(json(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(json(std::string_view("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(JsonEscapeTest, KeepsValidUtf8) { EXPECT_EQ(json("échec — 失败 😀"), "\"échec — 失败 😀\""); }

TEST(JsonEscapeTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(json("a\xff"
                 "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(json("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");                  // overlong '/'
  EXPECT_EQ(json("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
  EXPECT_EQ(json("\xE2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");                  // truncated
}

TEST(TimeFormatTest, FormatsUtcWithMilliseconds) {
  using namespace std::chrono;
  // 2025-09-15T10:30:01.154Z
  const TimePoint t = sys_days{2025y / September / 15} + 10h + 30min + 1s + 154ms + 999us;
  EXPECT_EQ(format_rfc3339_millis(t), "2025-09-15T10:30:01.154Z");
  EXPECT_EQ(format_rfc3339_millis(TimePoint{}), "1970-01-01T00:00:00.000Z");
}

TEST(TimeFormatTest, TruncatesTowardsThePastBeforeTheEpoch) {
  using namespace std::chrono;
  EXPECT_EQ(format_rfc3339_millis(TimePoint{} - 1ms), "1969-12-31T23:59:59.999Z");
}

TEST(TimeFormatTest, ParsesBackWhatItFormats) {
  using namespace std::chrono;
  for (const TimePoint t : {TimePoint{}, TimePoint{} - 1ms,
                            TimePoint{sys_days{2025y / September / 15} + 10h + 30min + 1s + 154ms},
                            TimePoint{sys_days{2199y / December / 31} + 86'399'999ms}}) {
    EXPECT_EQ(parse_rfc3339_millis(format_rfc3339_millis(t)), t) << format_rfc3339_millis(t);
  }
  // Fewer fraction digits, or none, are the same instants.
  EXPECT_EQ(parse_rfc3339_millis("2025-09-15T10:30:01.15Z"),
            parse_rfc3339_millis("2025-09-15T10:30:01.150Z"));
  EXPECT_EQ(parse_rfc3339_millis("2025-09-15T10:30:01Z"),
            parse_rfc3339_millis("2025-09-15T10:30:01.000Z"));
}

TEST(TimeFormatTest, ParsesNothingElse) {
  for (const std::string_view text :
       {"", "yesterday", "2025-09-15 10:30:01.154Z", "2025-09-15T10:30:01.154",
        "2025-09-15T10:30:01.154+02:00", "2025-09-15T10:30:01.1543Z", "2025-09-15T10:30:01.Z",
        "2025-02-30T10:30:01.154Z", "2025-09-15T24:00:00.000Z", "2025-09-15T10:30:01.154Zx"}) {
    EXPECT_FALSE(parse_rfc3339_millis(text)) << text;
  }
}

}  // namespace
}  // namespace iw::base
