// ingest-enricher's configuration as a process, without a broker: its flags, each declared
// with the key it sets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/testing/child_process.h"

namespace iw::enricher {
namespace {

using iw::testing::check_config;
using ::testing::HasSubstr;

TEST(EnricherConfigTest, EveryFlagSetsItsKey) {
  const auto check = check_config(
      IW_ENRICHER_PATH, "",
      {"--bootstrap-servers", "b:9092", "--input-topic", "i", "--output-topic", "o", "--dlq-topic",
       "d", "--group", "g", "--delivery", "at_least_once", "--transactional-id", "t"});
  ASSERT_EQ(check.status, 0) << check.err;
  for (const char* line :
       {"bootstrap_servers: \"b:9092\"  # flag --bootstrap-servers",
        "input_topic: \"i\"  # flag --input-topic", "output_topic: \"o\"  # flag --output-topic",
        "dlq_topic: \"d\"  # flag --dlq-topic", "group_id: \"g\"  # flag --group",
        "delivery: \"at_least_once\"  # flag --delivery",
        "transactional_id: \"t\"  # flag --transactional-id"}) {
    EXPECT_THAT(check.out, HasSubstr(line));
  }
}

TEST(EnricherConfigTest, BadTimeZoneIsRefusedAtItsValue) {
  const auto check = check_config(IW_ENRICHER_PATH, "enricher:\n  time_zone: Mars/Olympus_Mons\n");
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err, HasSubstr(check.file + ":2:14: enricher.time_zone: time zone "
                                                "'Mars/Olympus_Mons'"));
}

// The stage's poison-record keys, with their check across keys, in --check-config as at start-up.
TEST(EnricherConfigTest, ARetryBackoffMaximumBelowItsMinimumIsRefused) {
  const auto check = check_config(IW_ENRICHER_PATH,
                                  "enricher:\n  retry_backoff_min: 2s\n  retry_backoff_max: 1s\n");
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err, HasSubstr(check.file +
                                   ":3:22: enricher.retry_backoff_max: enricher.retry_backoff_max "
                                   "(1s) is below enricher.retry_backoff_min (2s)"));
}

TEST(EnricherConfigTest, MaxAttemptsBelowOneIsRefused) {
  const auto check = check_config(IW_ENRICHER_PATH, "enricher:\n  max_attempts: 0\n");
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err, HasSubstr(check.file + ":2:17: enricher.max_attempts"));
}

}  // namespace
}  // namespace iw::enricher
