// ingest-loki-pusher's configuration as a process: the checks that span several keys fail
// --check-config (and start-up) with exit 2 and file:line:col of the offending key; no broker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/testing/child_process.h"

namespace iw::loki_pusher {
namespace {

using iw::testing::check_config;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kToken = "b3arer-t0ken-never-printed";

class PusherConfigTest : public ::testing::Test {
 protected:
  iw::testing::TempDir temp_;
  const std::string token_file_ = temp_.write("token", std::string(kToken) + "\n").string();
};

TEST_F(PusherConfigTest, EachMistakeAcrossKeysIsRefusedAtTheOffendingKey) {
  struct Mistake {
    std::string yaml;
    std::string problem;  // after the file name
  };
  const std::vector<Mistake> mistakes = {
      {"loki_pusher:\n"
       "  basic_auth:\n"
       "    username: gateway\n"
       "  bearer_token_file: " +
           token_file_ + "\n",
       ":4:22: loki_pusher.bearer_token: set together with loki_pusher.basic_auth.username: use "
       "one or the other"},
      {"loki_pusher:\n"
       "  basic_auth:\n"
       "    password_file: " +
           token_file_ + "\n",
       ":3:20: loki_pusher.basic_auth.password: set without loki_pusher.basic_auth.username"},
      {"loki_pusher:\n"
       "  format: protobuf\n"
       "  gzip: true\n",
       ":3:9: loki_pusher.gzip: true with loki_pusher.format protobuf: gzip applies to format json "
       "only (protobuf bodies are snappy-compressed)"},
      {"loki_pusher:\n"
       "  backoff:\n"
       "    min: 2s\n"
       "    max: 1s\n",
       ":4:10: loki_pusher.backoff.max: loki_pusher.backoff.max (1s) is below "
       "loki_pusher.backoff.min (2s)"},
      // Only the minimum set, above the default maximum (30s): the minimum is blamed.
      {"loki_pusher.backoff.min: 1m\n",
       ":1:26: loki_pusher.backoff.min: loki_pusher.backoff.max (30s) is below "
       "loki_pusher.backoff.min (1m)"},
      {"loki_pusher:\n"
       "  runs_topic: ''\n"
       "  alerts_topic: ''\n",
       ":2:15: loki_pusher.runs_topic: empty, and so is loki_pusher.alerts_topic: nothing to "
       "push"},
  };
  for (const Mistake& mistake : mistakes) {
    SCOPED_TRACE(mistake.yaml);
    const auto check = check_config(IW_LOKI_PUSHER_PATH, mistake.yaml);
    EXPECT_EQ(check.status, 2);
    EXPECT_THAT(check.err, HasSubstr(check.file + mistake.problem + "\n"));
    EXPECT_THAT(check.err, HasSubstr("1 configuration problem\n"));
    EXPECT_THAT(check.out + check.err, Not(HasSubstr(kToken)));
  }
}

TEST_F(PusherConfigTest, AKeySetByItsVariableIsBlamedByName) {
  const auto check = check_config(IW_LOKI_PUSHER_PATH, "loki_pusher.basic_auth.username: gateway\n",
                                  {}, {"IW_LOKI_PUSHER_BEARER_TOKEN=" + std::string(kToken)});
  EXPECT_EQ(check.status, 2);
  EXPECT_THAT(check.err, HasSubstr("env:IW_LOKI_PUSHER_BEARER_TOKEN: loki_pusher.bearer_token: "
                                   "set together with"));
  EXPECT_THAT(check.out + check.err, Not(HasSubstr(kToken)));
}

TEST_F(PusherConfigTest, GzipWithJsonIsFine) {
  const auto check = check_config(IW_LOKI_PUSHER_PATH, "loki_pusher: {format: json, gzip: true}\n");
  EXPECT_EQ(check.status, 0) << check.err;
  EXPECT_THAT(check.err, HasSubstr("configuration OK"));
}

TEST_F(PusherConfigTest, StartUpRefusesWhatCheckConfigRefusesBeforeConnecting) {
  const auto start = iw::testing::start_with_config(
      IW_LOKI_PUSHER_PATH, "loki_pusher: {format: protobuf, gzip: true}\n");
  EXPECT_EQ(start.status, 2);
  EXPECT_THAT(start.err, HasSubstr(start.file + ":1:39: loki_pusher.gzip: "));
  EXPECT_THAT(start.out, Not(HasSubstr("\"msg\":\"started\"")));
}

TEST_F(PusherConfigTest, EveryFlagSetsItsKey) {
  const auto check =
      check_config(IW_LOKI_PUSHER_PATH, "",
                   {"--bootstrap-servers", "b:9092", "--runs-topic", "r", "--alerts-topic", "a",
                    "--dlq-topic", "d", "--group", "g", "--url", "https://loki:3100", "--tenant",
                    "t", "--format", "json", "--timestamps", "ingest_time"});
  ASSERT_EQ(check.status, 0) << check.err;
  for (const char* line :
       {"bootstrap_servers: \"b:9092\"  # flag --bootstrap-servers",
        "runs_topic: \"r\"  # flag --runs-topic", "alerts_topic: \"a\"  # flag --alerts-topic",
        "dlq_topic: \"d\"  # flag --dlq-topic", "group_id: \"g\"  # flag --group",
        "url: \"https://loki:3100\"  # flag --url", "tenant: \"t\"  # flag --tenant",
        "format: \"json\"  # flag --format", "timestamps: \"ingest_time\"  # flag --timestamps"}) {
    EXPECT_THAT(check.out, HasSubstr(line));
  }
}

}  // namespace
}  // namespace iw::loki_pusher
