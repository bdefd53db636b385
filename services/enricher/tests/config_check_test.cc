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

// Transactions are sized by time and bytes; the record-count keys of before are refused with
// what replaced them, never read as something they no longer mean.
TEST(EnricherConfigTest, TheRemovedBatchKeysAreRefusedNamingTheirReplacements) {
  const auto check = check_config(IW_ENRICHER_PATH,
                                  "enricher:\n  batch_max_records: 2000\n"
                                  "  batch_max_latency: 100ms\n");
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err,
              HasSubstr(check.file + ":2:22: enricher.batch_max_records: removed: a transaction no "
                                     "longer commits every N records but by age "
                                     "(enricher.commit_interval) and size "
                                     "(enricher.transaction_max_bytes)"));
  EXPECT_THAT(check.err,
              HasSubstr(check.file + ":3:22: enricher.batch_max_latency: removed: renamed "
                                     "enricher.commit_interval"));
}

TEST(EnricherConfigTest, TheTransactionKeysTakeTheirDefaultsAndBounds) {
  const auto defaults = check_config(IW_ENRICHER_PATH, "");
  ASSERT_EQ(defaults.status, 0) << defaults.err;
  EXPECT_THAT(defaults.out, HasSubstr("commit_interval: 100ms  # default"));
  EXPECT_THAT(defaults.out, HasSubstr("transaction_max_bytes: 33554432  # default"));
  const auto bad = check_config(IW_ENRICHER_PATH,
                                "enricher:\n  commit_interval: 2m\n  transaction_max_bytes: 0\n");
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr(bad.file + ":2:20: enricher.commit_interval"));
  EXPECT_THAT(bad.err, HasSubstr(bad.file + ":3:26: enricher.transaction_max_bytes"));
}

}  // namespace
}  // namespace iw::enricher
