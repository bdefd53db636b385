// ingest-producer's configuration as a process: its input is a required key that the FILE
// argument sets, so a missing input fails --check-config (and start-up) with exit 2; no broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/testing/child_process.h"

namespace iw::producer {
namespace {

using iw::testing::check_config;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ProducerConfigTest, NoInputIsRefused) {
  const auto check = check_config(IW_PRODUCER_PATH, "producer:\n  rate: 10\n");
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err,
              HasSubstr(check.file + ":2:3: producer.input: required key missing (or give FILE on "
                                     "the command line)"));

  const auto start = iw::testing::start_with_config(IW_PRODUCER_PATH, "");
  EXPECT_EQ(start.status, 2);
  EXPECT_THAT(start.err, HasSubstr(start.file + ":1:1: producer.input: required key missing"));
  EXPECT_THAT(start.out, Not(HasSubstr("\"msg\":\"started\"")));
}

TEST(ProducerConfigTest, TheFileArgumentSetsTheInputAndWinsOverTheFlag) {
  const auto check =
      check_config(IW_PRODUCER_PATH, "producer.input: a.json\n", {"--input", "b.json", "c.json"});
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_THAT(check.out, HasSubstr("input: \"c.json\"  # argument FILE"));

  const auto two = check_config(IW_PRODUCER_PATH, "", {"a.json", "b.json"});
  EXPECT_EQ(two.status, 2);
  EXPECT_THAT(two.err, HasSubstr("expected one FILE, got 2 arguments"));
}

// --resume needs a checkpoint file, and a checkpoint needs a file to resume in (not stdin).
TEST(ProducerConfigTest, ResumeNeedsACheckpointAndACheckpointNeedsAFile) {
  const auto resume = check_config(IW_PRODUCER_PATH, "", {"--resume", "in.json"});
  EXPECT_EQ(resume.status, 2);
  EXPECT_THAT(resume.err, HasSubstr("--resume needs a checkpoint file"));

  const auto stdin_checkpoint = check_config(IW_PRODUCER_PATH, "", {"--checkpoint", "c", "-"});
  EXPECT_EQ(stdin_checkpoint.status, 2);
  EXPECT_THAT(stdin_checkpoint.err, HasSubstr("a checkpoint needs a file to resume in"));

  const auto ok =
      check_config(IW_PRODUCER_PATH, "", {"--checkpoint", "run.ckpt", "--resume", "in.json"});
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("checkpoint: \"run.ckpt\""));
  EXPECT_THAT(ok.out, HasSubstr("resume: true"));
}

TEST(ProducerConfigTest, EveryFlagSetsItsKey) {
  const auto check = check_config(IW_PRODUCER_PATH, "",
                                  {"--bootstrap-servers",
                                   "b:9092",
                                   "--input",
                                   "in.json",
                                   "--format",
                                   "ndjson",
                                   "--topic",
                                   "t",
                                   "--dlq-topic",
                                   "d",
                                   "--rate",
                                   "5",
                                   "--realtime",
                                   "--speed",
                                   "2",
                                   "--loop",
                                   "--dry-run",
                                   "--on-invalid",
                                   "skip",
                                   "--time-zone",
                                   "Europe/Paris",
                                   "--delivery-timeout",
                                   "3s"});
  ASSERT_EQ(check.status, 0) << check.err;
  for (const char* line :
       {"bootstrap_servers: \"b:9092\"  # flag --bootstrap-servers",
        "input: \"in.json\"  # flag --input", "format: \"ndjson\"  # flag --format",
        "topic: \"t\"  # flag --topic", "dlq_topic: \"d\"  # flag --dlq-topic",
        "rate: 5  # flag --rate", "realtime: true  # flag --realtime", "speed: 2  # flag --speed",
        "loop: true  # flag --loop", "dry_run: true  # flag --dry-run",
        "on_invalid: \"skip\"  # flag --on-invalid",
        "time_zone: \"Europe/Paris\"  # flag --time-zone",
        "delivery_timeout: 3s  # flag --delivery-timeout"}) {
    EXPECT_THAT(check.out, HasSubstr(line));
  }
}

}  // namespace
}  // namespace iw::producer
