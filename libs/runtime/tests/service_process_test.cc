// Drives iw_demo_service, a service built on the runtime like the real ones, as a process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "iw/testing/child_process.h"
#include "iw/testing/http_get.h"

namespace iw::runtime {
namespace {

using namespace std::chrono_literals;
using iw::testing::ChildProcess;
using iw::testing::read_file;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

constexpr std::string_view kSecret = "s3cr3t-t0ken-never-printed";

// The demo service's command line: its path, then `args`.
std::vector<std::string> demo(std::vector<std::string> args) {
  args.insert(args.begin(), IW_DEMO_SERVICE_PATH);
  return args;
}

class ServiceProcessTest : public ::testing::Test {
 protected:
  fs::path write_config(const std::string& name, std::string_view yaml) {
    return temp_.write(name, yaml);
  }

  std::string good_config() {
    return "log:\n  level: info\nhttp:\n  listen: 127.0.0.1:0\n"
           "demo:\n  greeting: bonjour\n  token_file: " +
           secret_file_.string() +
           "\nkafka:\n  properties:\n    linger.ms: 5\n    sasl.password_file: " +
           secret_file_.string() + "\n";
  }

  iw::testing::TempDir temp_;
  const fs::path& dir_ = temp_.path();
  const fs::path secret_file_ = temp_.write("token", std::string(kSecret) + "\n");
};

TEST_F(ServiceProcessTest, HelpListsEveryKeyWithoutSecrets) {
  ChildProcess p(dir_ / "", demo({"--help"}), {"IW_DEMO_TOKEN=" + std::string(kSecret)});
  ASSERT_EQ(p.wait(), 0);
  const std::string out = p.out();
  for (const char* key :
       {"--config", "--check-config", "log.level", "http.listen", "kafka.bootstrap_servers",
        "kafka.properties", "demo.greeting", "demo.token", "IW_DEMO_GREETING"}) {
    EXPECT_THAT(out, HasSubstr(key));
  }
  // Each flag is listed with the key it sets, as declared with the key.
  EXPECT_THAT(out, ::testing::ContainsRegex("\n  --greeting TEXT +demo.greeting\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n  --slow +demo.slow\n"));
  EXPECT_THAT(out,
              ::testing::ContainsRegex("\n  --bootstrap-servers HOSTS +kafka.bootstrap_servers\n"));
  EXPECT_THAT(out + p.err(), Not(HasSubstr(kSecret)));
}

TEST_F(ServiceProcessTest, VersionNamesTheBinary) {
  ChildProcess p(dir_, demo({"--version"}));
  ASSERT_EQ(p.wait(), 0);
  EXPECT_THAT(p.out(), ::testing::StartsWith("iw-demo-service 0."));
}

TEST_F(ServiceProcessTest, UnknownOptionIsAUsageError) {
  ChildProcess p(dir_, demo({"--frobnicate"}));
  EXPECT_EQ(p.wait(), 2);
  EXPECT_THAT(p.err(), HasSubstr("unknown option --frobnicate"));
}

TEST_F(ServiceProcessTest, EveryConfigProblemIsReportedWithFileLineColumnAndKey) {
  const fs::path config = write_config("bad.yaml",
                                       "http:\n"
                                       "  listen: 127.0.0.1:0\n"
                                       "  lisen: 1\n"
                                       "demo:\n"
                                       "  interval: soon\n"
                                       "  token_file: " +
                                           secret_file_.string() +
                                           "\n"
                                           "kafka:\n"
                                           "  properties:\n"
                                           "    linger.ms: soon\n"
                                           "    enable.auto.commit: true\n");
  ChildProcess p(dir_, demo({"--config", config.string()}));
  EXPECT_EQ(p.wait(), 2);
  const std::string err = p.err();
  const std::string file = config.string();
  EXPECT_THAT(err, HasSubstr(file + ":3:3: http.lisen: unknown key, did you mean 'http.listen'?"));
  EXPECT_THAT(err, HasSubstr(file + ":5:13: demo.interval: "));
  // A missing key points at the mapping that should hold it.
  EXPECT_THAT(err, HasSubstr(file + ":5:3: demo.greeting: required key missing"));
  EXPECT_THAT(err, HasSubstr(file + ":9:5: kafka.properties.linger.ms: "));
  EXPECT_THAT(err, HasSubstr(file + ":10:5: kafka.properties.enable.auto.commit: managed by"));
  EXPECT_THAT(err, HasSubstr("5 configuration problems"));
  EXPECT_THAT(err + p.out(), Not(HasSubstr(kSecret)));
}

TEST_F(ServiceProcessTest, FlagsSetTheirKeysAndWinOverEnvAndFile) {
  const fs::path config = write_config("good.yaml", good_config());
  ChildProcess p(
      dir_, demo({"--config", config.string(), "--greeting=salut", "--slow", "--check-config"}),
      {"IW_DEMO_GREETING=hello"});
  ASSERT_EQ(p.wait(), 0) << p.err();
  EXPECT_THAT(p.out(), HasSubstr("greeting: \"salut\"  # flag --greeting"));
  EXPECT_THAT(p.out(), HasSubstr("slow: true  # flag --slow"));

  ChildProcess bad(dir_ / "", demo({"--greeting"}));
  EXPECT_EQ(bad.wait(), 2);
  EXPECT_THAT(bad.err(), HasSubstr("--greeting needs a value (TEXT)"));
}

TEST_F(ServiceProcessTest, CheckConfigPrintsTheEffectiveConfigWithSecretsRedacted) {
  const fs::path config = write_config("good.yaml", good_config());
  ChildProcess p(dir_, demo({"--config", config.string(), "--check-config"}));
  ASSERT_EQ(p.wait(), 0) << p.err();
  const std::string out = p.out();
  EXPECT_THAT(out, HasSubstr("bonjour"));
  EXPECT_THAT(out, HasSubstr("<redacted>"));
  EXPECT_THAT(p.err(), HasSubstr("configuration OK"));
  EXPECT_THAT(out + p.err(), Not(HasSubstr(kSecret)));
}

TEST_F(ServiceProcessTest, CrossKeyChecksFailCheckConfigAndStartUpAlike) {
  const fs::path config = write_config("shout.yaml", good_config() + "demo.shout: HI\n");
  const std::string problem =
      config.string() + ":12:13: demo.shout: set demo.greeting or demo.shout, not both";
  ChildProcess check(dir_, demo({"--config", config.string(), "--check-config"}));
  EXPECT_EQ(check.wait(), 2);
  EXPECT_THAT(check.err(), HasSubstr(problem));
  EXPECT_THAT(check.err(), Not(HasSubstr("configuration OK")));

  const fs::path start_dir = dir_ / "start";
  fs::create_directories(start_dir);
  ChildProcess start(start_dir, demo({"--config", config.string()}));
  EXPECT_EQ(start.wait(), 2);
  EXPECT_THAT(start.err(), HasSubstr(problem));
  EXPECT_THAT(start.out(), Not(HasSubstr("\"msg\":\"started\"")));
}

TEST_F(ServiceProcessTest, BadOtelVariablesAreReportedAndCountedWithTheFilesProblems) {
  const fs::path config = write_config("shout.yaml", good_config() + "demo.shout: HI\n");
  ChildProcess p(
      dir_, demo({"--config", config.string(), "--check-config"}),
      {"OTEL_TRACES_SAMPLER_ARG=2", "OTEL_EXPORTER_OTLP_HEADERS=a=" + std::string(kSecret),
       "OTEL_SDK_DISABLED=maybe"});
  EXPECT_EQ(p.wait(), 2);
  const std::string err = p.err();
  EXPECT_THAT(err, HasSubstr("demo.shout: set demo.greeting or demo.shout, not both"));
  EXPECT_THAT(err, HasSubstr(": OTEL_SDK_DISABLED: must be true or false\n"));
  EXPECT_THAT(err, HasSubstr(": OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1\n"));
  EXPECT_THAT(err, HasSubstr("3 configuration problems\n"));
  EXPECT_THAT(err + p.out(), Not(HasSubstr(kSecret)));
}

TEST_F(ServiceProcessTest, ServesMetricsThatPromtoolAcceptsAndDrainsOnSigterm) {
  const fs::path config = write_config("good.yaml", good_config());
  ChildProcess p(dir_, demo({"--config", config.string()}));
  const auto port = p.wait_for_port();
  ASSERT_TRUE(port.has_value()) << p.out() << p.err();

  // Ready once the service says so; alive from the start.
  std::optional<iw::testing::HttpResponse> ready;
  for (int i = 0; i < 100 && (!ready || ready->status != 200); ++i) {
    ready = iw::testing::http_get(*port, "/readyz");
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->status, 200);
  auto health = iw::testing::http_get(*port, "/healthz");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);

  auto scrape = iw::testing::http_get(*port, "/metrics");
  ASSERT_TRUE(scrape.has_value());
  ASSERT_EQ(scrape->status, 200);
  for (const char* name : {"demo_loops_total", "demo_turn_duration_seconds_bucket",
                           "process_resident_memory_bytes", "ingestwatch_build_info{"}) {
    EXPECT_THAT(scrape->body, HasSubstr(name));
  }
  const fs::path scraped = dir_ / "scrape.txt";
  std::ofstream(scraped) << scrape->body;
  const std::string check = "promtool check metrics < '" + scraped.string() + "' > '" +
                            (dir_ / "promtool.out").string() + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << read_file(dir_ / "promtool.out");

  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 0) << p.err();
  const std::string out = p.out();
  EXPECT_THAT(out, HasSubstr("\"msg\":\"draining\""));
  EXPECT_THAT(out, HasSubstr("\"msg\":\"stopped\",\"signal\":15"));
  EXPECT_THAT(out, HasSubstr("\"token_set\":true"));
  EXPECT_THAT(out + p.err(), Not(HasSubstr(kSecret)));
  // Every stdout line is one JSON object with the fixed leading keys.
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_THAT(line, ::testing::MatchesRegex(
                          R"(\{"ts":"[0-9T:.Z-]+","level":"[a-z]+","service":"demo","msg":.*\})"));
  }
}

TEST_F(ServiceProcessTest, BusyPortIsAStartupFailure) {
  const fs::path config = write_config("good.yaml", good_config());
  ChildProcess first(dir_ / "", demo({"--config", config.string()}));
  const auto port = first.wait_for_port();
  ASSERT_TRUE(port.has_value());
  const fs::path second_dir = dir_ / "second";
  fs::create_directories(second_dir);
  ChildProcess second(second_dir, demo({"--config", config.string()}),
                      {"IW_HTTP_LISTEN=127.0.0.1:" + std::to_string(*port)});
  EXPECT_EQ(second.wait(), 1);
  EXPECT_THAT(second.out(), HasSubstr("cannot start http server"));
  first.signal(SIGINT);
  EXPECT_EQ(first.wait(), 0);
}

}  // namespace
}  // namespace iw::runtime
