#include "iw/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "iw/metrics/http_server.h"
#include "iw/metrics/readiness.h"
#include "iw/metrics/record_flow.h"
#include "iw/testing/http_get.h"
#include "prometheus/counter.h"
#include "prometheus/text_serializer.h"

namespace iw::metrics {
namespace {

using ::testing::HasSubstr;

// Sample lines of a text exposition, keyed by everything before the value.
std::map<std::string, double> samples(std::string_view exposition) {
  std::map<std::string, double> out;
  while (!exposition.empty()) {
    const std::size_t end = std::min(exposition.find('\n'), exposition.size());
    const std::string_view line = exposition.substr(0, end);
    exposition.remove_prefix(std::min(end + 1, exposition.size()));
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.rfind(' ');
    out[std::string(line.substr(0, space))] = std::stod(std::string(line.substr(space + 1)));
  }
  return out;
}

std::string scrape(const prometheus::Collectable& collectable) {
  return prometheus::TextSerializer().Serialize(collectable.Collect());
}

TEST(MetricsTest, ExportsBuildInfo) {
  const Metrics metrics({.service = "enricher", .version = "1.2.3", .commit = "abc123"});
  const std::string text = scrape(metrics);
  EXPECT_THAT(text, HasSubstr("# TYPE ingestwatch_build_info gauge\n"));
  EXPECT_THAT(text, HasSubstr("\ningestwatch_build_info{commit=\"abc123\",service=\"enricher\","
                              "version=\"1.2.3\"} 1\n"));
}

TEST(MetricsTest, EmptyBuildFieldsBecomeUnknown) {
  const Metrics metrics({.service = "enricher", .version = "", .commit = ""});
  EXPECT_THAT(scrape(metrics),
              HasSubstr("ingestwatch_build_info{commit=\"unknown\",service=\"enricher\","
                        "version=\"unknown\"} 1\n"));
}

TEST(MetricsTest, ServesRegistryMetricsAndProcessMetricsOverHttp) {
  Metrics metrics({.service = "enricher", .version = "1.2.3", .commit = "abc123"});
  prometheus::BuildCounter()
      .Name("iw_test_records_total")
      .Help("Records.")
      .Register(metrics.registry())
      .Add({{"stage", "enricher"}})
      .Increment(2);
  const Readiness readiness;
  auto server = HttpServer::start({.listen_address = "127.0.0.1:0"}, metrics, readiness);
  ASSERT_TRUE(server) << server.error().to_string();

  const auto response = ::iw::testing::http_get(server->bound_port(), "/metrics");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200);
  EXPECT_THAT(response->body, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(response->body, HasSubstr("# TYPE process_resident_memory_bytes gauge\n"));
  const std::map<std::string, double> values = samples(response->body);
  EXPECT_EQ(values.at("iw_test_records_total{stage=\"enricher\"}"), 2);
  EXPECT_EQ(
      values.at("ingestwatch_build_info{commit=\"abc123\",service=\"enricher\",version=\"1.2.3\"}"),
      1);

  EXPECT_GE(values.at("process_cpu_seconds_total"), 0);
  EXPECT_GT(values.at("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(values.at("process_virtual_memory_bytes"), values.at("process_resident_memory_bytes"));
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double started = values.at("process_start_time_seconds");
  EXPECT_LE(started, now + 1);  // Tick granularity and boot-time rounding.
  EXPECT_GT(started, now - 3600);
  // stdin/stdout/stderr may be closed under a test runner, but the listening socket is not.
  EXPECT_GE(values.at("process_open_fds"), 1);
  EXPECT_GE(values.at("process_max_fds"), values.at("process_open_fds"));
  // The main thread plus the server's threads.
  EXPECT_GE(values.at("process_threads"), 3);
}

TEST(RecordFlowMetricsTest, DeclaresTheSharedCountersWithAChildPerReason) {
  prometheus::Registry registry;
  const std::vector<std::string_view> reasons = {"invalid_json", "missing_field"};
  RecordFlowMetrics flow(registry, "out", reasons);
  flow.records_in.Increment(3);
  flow.records_out.Increment(2);
  flow.rejected(1).Increment();
  flow.dead_lettered(1).Increment();
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("ingestwatch_records_in_total 3"));
  EXPECT_THAT(text, HasSubstr("ingestwatch_records_out_total{topic=\"out\"} 2"));
  EXPECT_THAT(text, HasSubstr("ingestwatch_records_rejected_total{reason=\"invalid_json\"} 0"));
  EXPECT_THAT(text, HasSubstr("ingestwatch_records_rejected_total{reason=\"missing_field\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("ingestwatch_records_dead_lettered_total{reason=\"missing_field\"} 1"));
}

}  // namespace
}  // namespace iw::metrics
