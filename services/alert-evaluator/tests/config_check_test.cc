// ingest-alert-evaluator's configuration as a process: the rules file is read and checked with
// the configuration, so --check-config (and start-up) refuse an unreadable or invalid one with
// exit 2; no broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/testing/child_process.h"

namespace iw::alert_evaluator {
namespace {

using iw::testing::check_config;
using ::testing::HasSubstr;
using ::testing::Not;

class EvaluatorConfigTest : public ::testing::Test {
 protected:
  iw::testing::TempDir temp_;
};

TEST_F(EvaluatorConfigTest, UnreadableRulesFileIsRefused) {
  const std::string missing = (temp_.path() / "no-such-rules.yml").string();
  const auto check =
      check_config(IW_EVALUATOR_PATH, "alert_evaluator:\n  rules_file: " + missing + "\n");
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err, HasSubstr(check.file + ":2:15: alert_evaluator.rules_file: cannot read '" +
                                   missing + "': No such file or directory"));
  EXPECT_THAT(check.err, Not(HasSubstr("configuration OK")));

  // Named by its flag: the flag is blamed.
  const auto by_flag = check_config(IW_EVALUATOR_PATH, "", {"--rules", missing});
  EXPECT_EQ(by_flag.status, 2);
  EXPECT_THAT(by_flag.err, HasSubstr("--rules: alert_evaluator.rules_file: cannot read"));
}

TEST_F(EvaluatorConfigTest, InvalidRulesFileIsRefusedWithTheRulesProblems) {
  const std::string rules = temp_.write("rules.yml", "groups: [\n").string();
  const auto check = check_config(IW_EVALUATOR_PATH, "alert_evaluator.rules_file: " + rules + "\n");
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err,
              HasSubstr(check.file + ":1:29: alert_evaluator.rules_file: invalid rules: " + rules +
                        ":2:1: "));
}

TEST_F(EvaluatorConfigTest, StartUpRefusesWhatCheckConfigRefusesBeforeConnecting) {
  const auto start = iw::testing::start_with_config(IW_EVALUATOR_PATH,
                                                    "alert_evaluator.rules_file: /nonexistent\n");
  EXPECT_EQ(start.status, 2);
  EXPECT_THAT(start.err, HasSubstr(start.file + ":1:29: alert_evaluator.rules_file: cannot read"));
  EXPECT_THAT(start.out, Not(HasSubstr("\"msg\":\"started\"")));
}

TEST_F(EvaluatorConfigTest, EveryFlagSetsItsKey) {
  const auto check =
      check_config(IW_EVALUATOR_PATH, "",
                   {"--bootstrap-servers", "b:9092", "--input-topic", "i", "--output-topic", "o",
                    "--group", "g", "--rules", RULES_FILE, "--clock", "wall_clock", "--idle-speed",
                    "60", "--replay-lookback", "1h", "--transactional-id", "t"});
  ASSERT_EQ(check.status, 0) << check.err;
  for (const char* line :
       {"bootstrap_servers: \"b:9092\"  # flag --bootstrap-servers",
        "input_topic: \"i\"  # flag --input-topic", "output_topic: \"o\"  # flag --output-topic",
        "group_id: \"g\"  # flag --group", "rules_file: \"" RULES_FILE "\"  # flag --rules",
        "clock: \"wall_clock\"  # flag --clock", "idle_speed: 60  # flag --idle-speed",
        "replay_lookback: 1h  # flag --replay-lookback",
        "transactional_id: \"t\"  # flag --transactional-id"}) {
    EXPECT_THAT(check.out, HasSubstr(line));
  }
}

}  // namespace
}  // namespace iw::alert_evaluator
