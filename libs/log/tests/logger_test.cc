#include "iw/log/logger.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>

namespace iw::log {
namespace {

using namespace std::chrono_literals;

class LoggerTest : public ::testing::Test {
 protected:
  // 2025-09-15T10:30:00.000Z
  base::FakeClock clock_{base::TimePoint{std::chrono::seconds{1757932200}}};
  MemorySink sink_;
  Logger logger_{"enricher", sink_, clock_};
};

TEST_F(LoggerTest, WritesOneJsonObjectPerLineWithFixedLeadingKeys) {
  logger_.info("record dead-lettered",
               {{"reason", "invalid_json"}, {"offset", std::int64_t{42}}, {"retry", false}});
  const auto lines = sink_.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "{\"ts\":\"2025-09-15T10:30:00.000Z\",\"level\":\"info\",\"service\":\"enricher\","
            "\"msg\":\"record dead-lettered\",\"reason\":\"invalid_json\",\"offset\":42,"
            "\"retry\":false}\n");
}

TEST_F(LoggerTest, EveryLineParsesAsJsonWhateverTheFieldBytes) {
  const std::string nasty = "quote\" back\\ newline\n bad\xff utf8 \x01";
  logger_.warn("bad record", {{"excerpt", nasty}, {"ratio", 0.25}, {"nan", 0.0 / 0.0}});
  simdjson::ondemand::parser parser;
  for (const auto& line : sink_.lines()) {
    simdjson::padded_string padded(line);
    auto doc = parser.iterate(padded);
    std::string_view excerpt;
    ASSERT_EQ(doc["excerpt"].get_string().get(excerpt), simdjson::SUCCESS) << line;
    EXPECT_EQ(excerpt, "quote\" back\\ newline\n bad\xEF\xBF\xBD utf8 \x01");
  }
}

TEST_F(LoggerTest, DropsLinesBelowTheLevel) {
  logger_.debug("noise");
  logger_.set_level(Level::kWarn);
  logger_.info("still noise");
  logger_.error("kept");
  const auto lines = sink_.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"level\":\"error\""), std::string::npos);
}

TEST(LevelTest, ParsesKnownNamesOnly) {
  EXPECT_EQ(parse_level("warn"), Level::kWarn);
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("WARN"), std::nullopt);
  EXPECT_EQ(parse_level("verbose"), std::nullopt);
}

TEST_F(LoggerTest, RateLimitedLogFoldsBurstsAndReportsWhatItSuppressed) {
  RateLimitedLog limited(logger_, 2, 1s);
  EXPECT_TRUE(limited.warn("bad record", {{"n", std::int64_t{1}}}));
  EXPECT_TRUE(limited.warn("bad record", {{"n", std::int64_t{2}}}));
  for (int i = 3; i <= 10; ++i) EXPECT_FALSE(limited.warn("bad record"));
  clock_.advance(999ms);
  EXPECT_FALSE(limited.warn("bad record"));
  clock_.advance(1ms);
  EXPECT_TRUE(limited.warn("bad record", {{"n", std::int64_t{12}}}));

  const auto lines = sink_.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].find("suppressed"), std::string::npos);
  EXPECT_NE(lines[2].find("\"n\":12,\"suppressed\":9}"), std::string::npos) << lines[2];
  // The count is reported once, not repeated on later lines.
  EXPECT_TRUE(limited.warn("bad record"));
  EXPECT_EQ(sink_.lines().back().find("suppressed"), std::string::npos);
}

}  // namespace
}  // namespace iw::log
