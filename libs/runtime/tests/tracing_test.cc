// The tracing.* keys, the OTEL_* environment over them, and the trace metrics.
#include "iw/runtime/tracing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace iw::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

config::Schema schema() {
  config::Schema schema;
  declare_tracing_keys(schema);
  return schema;
}

std::expected<config::Config, std::vector<config::Diagnostic>> load(
    std::string_view yaml, std::map<std::string, std::string> env = {}) {
  return config::load_string(schema(), yaml, "test.yaml", {.env = std::move(env)});
}

std::string problems(std::string_view yaml) {
  auto loaded = load(yaml);
  EXPECT_FALSE(loaded.has_value()) << yaml;
  return loaded ? std::string() : config::format_diagnostics(loaded.error());
}

const otlp::Resource kResource{
    .service_name = "ingest-enricher", .service_version = "0.1.0", .host_name = "box"};

TEST(TracingSettingsTest, DefaultsAreTheContractsAndTracingIsOff) {
  auto loaded = load("");
  ASSERT_TRUE(loaded.has_value()) << config::format_diagnostics(loaded.error());
  const auto s = loaded->read<TracingSettings>();
  EXPECT_EQ(s.endpoint, "");
  EXPECT_DOUBLE_EQ(s.sampling_ratio, 0.01);
  EXPECT_EQ(s.max_queue_spans, 2048u);
  EXPECT_EQ(s.max_batch_spans, 512u);
  EXPECT_EQ(s.schedule_delay, 1s);
  EXPECT_EQ(s.export_timeout, 10s);
  EXPECT_TRUE(s.headers.empty());
  const TracingPlan plan = plan_tracing(s, {}, kResource);
  EXPECT_FALSE(plan.exporting);
  EXPECT_DOUBLE_EQ(plan.sampling_ratio, 0.01);
}

TEST(TracingSettingsTest, YamlSetsEveryKey) {
  auto loaded = load(
      "tracing:\n"
      "  endpoint: http://collector:4318/v1/traces\n"
      "  sampling_ratio: 0.5\n"
      "  max_queue_spans: 100\n"
      "  max_batch_spans: 10\n"
      "  schedule_delay: 250ms\n"
      "  export_timeout: 3s\n"
      "  headers: authorization=Bearer%20abc, x-tenant = t1\n");
  ASSERT_TRUE(loaded.has_value()) << config::format_diagnostics(loaded.error());
  const TracingPlan plan = plan_tracing(loaded->read<TracingSettings>(), {}, kResource);
  EXPECT_TRUE(plan.exporting);
  EXPECT_DOUBLE_EQ(plan.sampling_ratio, 0.5);
  EXPECT_EQ(plan.exporter.endpoint, "http://collector:4318/v1/traces");
  EXPECT_EQ(plan.exporter.max_queue_spans, 100u);
  EXPECT_EQ(plan.exporter.max_batch_spans, 10u);
  EXPECT_EQ(plan.exporter.schedule_delay, 250ms);
  EXPECT_EQ(plan.exporter.export_timeout, 3s);
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(plan.exporter.headers, (Headers{{"authorization", "Bearer abc"}, {"x-tenant", "t1"}}));
  EXPECT_EQ(plan.exporter.resource.service_name, "ingest-enricher");
  EXPECT_EQ(plan.exporter.resource.service_version, "0.1.0");
  EXPECT_EQ(plan.exporter.resource.host_name, "box");
}

TEST(TracingSettingsTest, TheEnvironmentWinsOverYaml) {
  auto loaded = load(
      "tracing:\n"
      "  endpoint: http://yaml:4318/v1/traces\n"
      "  sampling_ratio: 0.5\n"
      "  headers: a=yaml\n");
  ASSERT_TRUE(loaded.has_value());
  otlp::EnvironmentSettings env;
  env.endpoint = "http://env:4318/v1/traces";
  env.sampling_ratio = 1.0;
  env.headers = {{{"b", "env"}}};
  env.service_name = "renamed";
  env.resource_attributes = {{.key = "deployment.environment", .value = std::string("test")}};
  env.max_queue_spans = 64;
  env.schedule_delay = 20ms;
  const TracingPlan plan = plan_tracing(loaded->read<TracingSettings>(), env, kResource);
  EXPECT_TRUE(plan.exporting);
  EXPECT_EQ(plan.exporter.endpoint, "http://env:4318/v1/traces");
  EXPECT_DOUBLE_EQ(plan.sampling_ratio, 1.0);
  ASSERT_EQ(plan.exporter.headers.size(), 1u);
  EXPECT_EQ(plan.exporter.headers[0].first, "b");
  EXPECT_EQ(plan.exporter.resource.service_name, "renamed");
  ASSERT_EQ(plan.exporter.resource.extra.size(), 1u);
  EXPECT_EQ(plan.exporter.resource.extra[0].key, "deployment.environment");
  EXPECT_EQ(plan.exporter.max_queue_spans, 64u);
  EXPECT_EQ(plan.exporter.max_batch_spans, 64u);  // never above the queue
  EXPECT_EQ(plan.exporter.schedule_delay, 20ms);
  EXPECT_EQ(plan.exporter.export_timeout, 10s);  // the YAML's default where env is silent
}

TEST(TracingSettingsTest, TheEnvironmentCanTurnTracingOff) {
  auto loaded = load("tracing:\n  endpoint: http://yaml:4318/v1/traces\n");
  ASSERT_TRUE(loaded.has_value());
  otlp::EnvironmentSettings env;
  env.enabled = false;
  EXPECT_FALSE(plan_tracing(loaded->read<TracingSettings>(), env, kResource).exporting);
  // ... and on, with an endpoint of its own.
  otlp::EnvironmentSettings on;
  on.endpoint = "http://env:4318/v1/traces";
  EXPECT_TRUE(plan_tracing(TracingSettings{}, on, kResource).exporting);
}

TEST(TracingSettingsTest, BadValuesAreRefusedNamingTheKey) {
  EXPECT_THAT(problems("tracing:\n  endpoint: collector:4318\n"),
              HasSubstr("tracing.endpoint: must be an http:// or https:// URL"));
  EXPECT_THAT(problems("tracing:\n  sampling_ratio: 1.5\n"), HasSubstr("tracing.sampling_ratio"));
  EXPECT_THAT(problems("tracing:\n  sampling_ratio: -0.1\n"), HasSubstr("tracing.sampling_ratio"));
  EXPECT_THAT(problems("tracing:\n  max_queue_spans: 0\n"), HasSubstr("tracing.max_queue_spans"));
  // A typo's huge queue is a configuration problem, not a failed allocation at start.
  EXPECT_THAT(problems("tracing:\n  max_queue_spans: 1000000000000\n"),
              HasSubstr("tracing.max_queue_spans"));
  EXPECT_THAT(problems("tracing:\n  max_queue_spans: 10\n  max_batch_spans: 20\n"),
              HasSubstr("must not exceed tracing.max_queue_spans"));
  EXPECT_THAT(problems("tracing:\n  schedule_delay: 0s\n"), HasSubstr("tracing.schedule_delay"));
}

TEST(TracingSettingsTest, HeadersAreSecret) {
  // A decoded line break would start another header: refused, without the value.
  const std::string bad = problems("tracing:\n  headers: authorization=Bearer%0Asupersecret\n");
  EXPECT_THAT(bad, HasSubstr("tracing.headers"));
  EXPECT_THAT(bad, Not(HasSubstr("supersecret")));
  EXPECT_THAT(problems("tracing:\n  headers: supersecret\n"), Not(HasSubstr("supersecret")));
  auto loaded = load("tracing:\n  headers: authorization=supersecret\n");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_THAT(loaded->dump(), Not(HasSubstr("supersecret")));
  EXPECT_THAT(loaded->dump(), HasSubstr("headers:"));
  EXPECT_THAT(schema().help(), Not(HasSubstr("supersecret")));
  // The environment sets it too (IW_TRACING_HEADERS), still never shown.
  auto from_env = load("", {{"IW_TRACING_HEADERS", "authorization=envsecret"}});
  ASSERT_TRUE(from_env.has_value());
  EXPECT_THAT(from_env->dump(), Not(HasSubstr("envsecret")));
  EXPECT_EQ(
      plan_tracing(from_env->read<TracingSettings>(), {}, kResource).exporter.headers[0].second,
      "envsecret");
}

TEST(TraceMetricsTest, CountersFollowTheExportersCounts) {
  prometheus::Registry registry;
  TraceMetrics metrics(registry);
  const auto text = [&] { return prometheus::TextSerializer().Serialize(registry.Collect()); };
  EXPECT_THAT(text(), HasSubstr("ingestwatch_trace_spans_exported_total 0"));
  EXPECT_THAT(text(), HasSubstr("ingestwatch_trace_spans_dropped_total{reason=\"queue_full\"} 0"));
  metrics.update({.exported = 5, .dropped_queue_full = 2});
  metrics.update(
      {.exported = 7, .dropped_queue_full = 2, .dropped_export_failed = 1, .dropped_shutdown = 3});
  EXPECT_THAT(text(), HasSubstr("ingestwatch_trace_spans_exported_total 7"));
  EXPECT_THAT(text(), HasSubstr("ingestwatch_trace_spans_dropped_total{reason=\"queue_full\"} 2"));
  EXPECT_THAT(text(),
              HasSubstr("ingestwatch_trace_spans_dropped_total{reason=\"export_failed\"} 1"));
  EXPECT_THAT(text(), HasSubstr("ingestwatch_trace_spans_dropped_total{reason=\"shutdown\"} 3"));
}

}  // namespace
}  // namespace iw::runtime
