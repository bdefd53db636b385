// Feeds a real scrape to `promtool check metrics`, Prometheus' own parser and linter, so the
// exposition is checked by the consumer rather than by our reading of the format.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "iw/metrics/http_server.h"
#include "iw/metrics/metrics.h"
#include "iw/metrics/readiness.h"
#include "iw/testing/http_get.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace iw::metrics {
namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) result.output += buffer;
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool have_promtool() { return run("command -v promtool").exit_code == 0; }

class PromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_promtool()) GTEST_SKIP() << "promtool is not installed";
  }

  // `promtool check metrics` reads the exposition from stdin; exit 0 means it parsed and
  // passed every lint (1 = parse error, 3 = lint problems).
  CommandResult check(const std::string& exposition) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::filesystem::path file =
        std::filesystem::path(::testing::TempDir()) /
        (std::string("iw_scrape_") + info->name() + "_" + std::to_string(::getpid()) + ".txt");
    std::ofstream(file) << exposition;
    CommandResult result = run("promtool check metrics < '" + file.string() + "'");
    std::filesystem::remove(file);
    return result;
  }
};

TEST_F(PromtoolTest, RealScrapePassesCheckMetrics) {
  Metrics metrics({.service = "enricher", .version = "1.2.3", .commit = "abc123"});
  auto& registry = metrics.registry();
  auto& runs = prometheus::BuildCounter()
                   .Name("ingestion_runs_total")
                   .Help("Ingestion runs by source, object and outcome.")
                   .Register(registry);
  runs.Add({{"source", "PowerBI"}, {"objet", "workspaces"}, {"etat", "SUCCESS"}}).Increment(3);
  runs.Add({{"source", "Zoho"}, {"objet", "deals"}, {"etat", "FAILED"}}).Increment();
  auto& durations = prometheus::BuildHistogram()
                        .Name("ingestion_run_duration_seconds")
                        .Help("Duration of ingestion runs.")
                        .Register(registry);
  const prometheus::Histogram::BucketBoundaries buckets{0.5, 1, 5, 30, 60, 300};
  auto& powerbi = durations.Add({{"source", "PowerBI"}}, buckets);
  powerbi.Observe(1.154133);
  powerbi.Observe(42);
  durations.Add({{"source", "Zoho \"EU\"\\n"}}, buckets).Observe(0.2);  // Escaping matters.
  prometheus::BuildGauge()
      .Name("ingestion_last_run_timestamp_seconds")
      .Help("Event time of the latest run.")
      .Register(registry)
      .Add({{"source", "PowerBI"}})
      .Set(1757932201.154);

  const Readiness readiness;
  auto server = HttpServer::start({.listen_address = "127.0.0.1:0"}, metrics, readiness);
  ASSERT_TRUE(server) << server.error().to_string();
  const auto response = ::iw::testing::http_get(server->bound_port(), "/metrics");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200);
  // The families the check must have seen, or passing would prove little.
  for (const char* line :
       {"# TYPE ingestion_runs_total counter", "# TYPE ingestion_run_duration_seconds histogram",
        "ingestion_run_duration_seconds_bucket{source=\"PowerBI\",le=\"+Inf\"} 2",
        "# TYPE process_cpu_seconds_total counter", "# TYPE ingestwatch_build_info gauge"}) {
    EXPECT_THAT(response->body, ::testing::HasSubstr(line));
  }

  const CommandResult result = check(response->body);
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- scrape ---\n" << response->body;
  EXPECT_EQ(result.output, "");
}

// Shows the check above can fail: promtool does lint what it is given.
TEST_F(PromtoolTest, CheckRejectsACounterWithoutTotalSuffix) {
  const CommandResult result = check(
      "# HELP bad_counter x\n# TYPE bad_counter counter\n"
      "bad_counter 1\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.output, ::testing::HasSubstr("_total"));
}

}  // namespace
}  // namespace iw::metrics
