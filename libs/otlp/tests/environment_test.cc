#include "iw/otlp/environment.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace iw::otlp {
namespace {

using namespace std::chrono_literals;
using Env = std::map<std::string, std::string, std::less<>>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

base::Result<EnvironmentSettings> read(const Env& env) {
  return read_environment([&](std::string_view name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

EnvironmentSettings ok(const Env& env) {
  auto settings = read(env);
  EXPECT_TRUE(settings.has_value()) << settings.error().to_string();
  return settings.value_or(EnvironmentSettings{});
}

std::string error_of(const Env& env) {
  auto settings = read(env);
  EXPECT_FALSE(settings.has_value());
  if (settings) return "";
  EXPECT_EQ(settings.error().code(), base::ErrorCode::kInvalidInput);
  return settings.error().message();
}

TEST(EnvironmentTest, NothingSetSetsNothing) {
  const EnvironmentSettings s = ok({});
  EXPECT_FALSE(s.enabled);
  EXPECT_FALSE(s.endpoint);
  EXPECT_FALSE(s.headers);
  EXPECT_FALSE(s.sampling_ratio);
  EXPECT_FALSE(s.service_name);
  EXPECT_TRUE(s.resource_attributes.empty());
  EXPECT_FALSE(s.max_queue_spans);
  EXPECT_FALSE(s.max_batch_spans);
  EXPECT_FALSE(s.schedule_delay);
  EXPECT_FALSE(s.export_timeout);
}

TEST(EnvironmentTest, AnEmptyValueCountsAsUnset) {
  const EnvironmentSettings s =
      ok({{"OTEL_EXPORTER_OTLP_ENDPOINT", ""}, {"OTEL_TRACES_SAMPLER", " "}});
  EXPECT_FALSE(s.endpoint);
  EXPECT_FALSE(s.sampling_ratio);
}

TEST(EnvironmentTest, DisabledBySdkDisabledOrExporterNone) {
  EXPECT_EQ(ok({{"OTEL_SDK_DISABLED", "true"}}).enabled, false);
  EXPECT_EQ(ok({{"OTEL_SDK_DISABLED", "TRUE"}}).enabled, false);
  EXPECT_FALSE(ok({{"OTEL_SDK_DISABLED", "false"}}).enabled);
  EXPECT_EQ(ok({{"OTEL_TRACES_EXPORTER", "none"}}).enabled, false);
  EXPECT_FALSE(ok({{"OTEL_TRACES_EXPORTER", "otlp"}}).enabled);
  EXPECT_EQ(error_of({{"OTEL_SDK_DISABLED", "yes"}}), "OTEL_SDK_DISABLED: must be true or false");
  EXPECT_EQ(error_of({{"OTEL_TRACES_EXPORTER", "zipkin"}}),
            "OTEL_TRACES_EXPORTER: only otlp (OTLP/HTTP) and none are supported");
}

TEST(EnvironmentTest, TheBaseEndpointGetsV1TracesAndTheTracesOneIsTakenAsIs) {
  EXPECT_EQ(ok({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"}}).endpoint,
            "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(ok({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}}).endpoint,
            "http://collector:4318/v1/traces");
  EXPECT_EQ(ok({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c/otlp//"}}).endpoint,
            "https://c/otlp/v1/traces");
  EXPECT_EQ(ok({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom/"}}).endpoint,
            "http://c:4318/custom/");
  EXPECT_EQ(ok({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"},
                {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/x"}})
                .endpoint,
            "http://traces:4318/x");
}

TEST(EnvironmentTest, AnEndpointThatIsNotHttpIsAnErrorThatDoesNotQuoteIt) {
  const std::string message =
      error_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://user:s3cret@c:4317"}});
  EXPECT_EQ(message, "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL");
  EXPECT_EQ(error_of({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "c:4318"}}),
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http:// or https:// URL");
}

TEST(EnvironmentTest, HeadersArePercentDecodedPairs) {
  EXPECT_EQ(ok({{"OTEL_EXPORTER_OTLP_HEADERS",
                 "Authorization=Basic%20dXNlcjpwYXNz , x-tenant=a%2Cb,,"
                 "x-pct=100%,x-eq=a=b"}})
                .headers,
            (Pairs{{"Authorization", "Basic dXNlcjpwYXNz"},
                   {"x-tenant", "a,b"},
                   {"x-pct", "100%"},
                   {"x-eq", "a=b"}}));
}

TEST(EnvironmentTest, TracesHeadersReplaceTheGeneralOnes) {
  EXPECT_EQ(
      ok({{"OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2"}, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "c=3"}})
          .headers,
      (Pairs{{"c", "3"}}));
}

TEST(EnvironmentTest, AnInvalidHeaderListNamesTheVariableNeverTheValue) {
  const std::string secret = "Bearer-sup3rs3cret";
  for (const std::string& value : {"Authorization" + secret, "=" + secret, "bad name=" + secret,
                                   "x=" + secret + "%0d%0aX: y"}) {
    const std::string message = error_of({{"OTEL_EXPORTER_OTLP_HEADERS", value}});
    EXPECT_TRUE(message.starts_with("OTEL_EXPORTER_OTLP_HEADERS: entry 1 ")) << message;
    EXPECT_EQ(message.find("sup3rs3cret"), std::string::npos) << message;
  }
  const std::string message = error_of({{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=1,oops"}});
  EXPECT_EQ(message, "OTEL_EXPORTER_OTLP_TRACES_HEADERS: entry 2 is not key=value");
}

TEST(EnvironmentTest, Samplers) {
  EXPECT_EQ(
      ok({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.25"}})
          .sampling_ratio,
      0.25);
  EXPECT_EQ(ok({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0"}})
                .sampling_ratio,
            0.0);
  // A ratio sampler without its argument samples everything (OTel's default argument).
  EXPECT_EQ(ok({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}}).sampling_ratio, 1.0);
  // The argument alone sets the ratio: the default sampler here is parentbased_traceidratio.
  EXPECT_EQ(ok({{"OTEL_TRACES_SAMPLER_ARG", "1"}}).sampling_ratio, 1.0);
  EXPECT_EQ(ok({{"OTEL_TRACES_SAMPLER_ARG", "0.01"}}).sampling_ratio, 0.01);
  EXPECT_EQ(ok({{"OTEL_TRACES_SAMPLER", "always_on"}}).sampling_ratio, 1.0);
  EXPECT_EQ(ok({{"OTEL_TRACES_SAMPLER", "parentbased_always_on"}}).sampling_ratio, 1.0);
  EXPECT_EQ(ok({{"OTEL_TRACES_SAMPLER", "always_off"}}).sampling_ratio, 0.0);
  EXPECT_EQ(
      ok({{"OTEL_TRACES_SAMPLER", "parentbased_always_off"}, {"OTEL_TRACES_SAMPLER_ARG", "0.5"}})
          .sampling_ratio,
      0.0);
}

TEST(EnvironmentTest, AnUnknownSamplerOrABadRatioIsAnError) {
  EXPECT_TRUE(error_of({{"OTEL_TRACES_SAMPLER", "jaeger_remote"}})
                  .starts_with("OTEL_TRACES_SAMPLER: must be one of parentbased_traceidratio,"));
  for (const char* arg : {"1.5", "-0.1", "half", "0.5x", "nan"}) {
    EXPECT_EQ(error_of({{"OTEL_TRACES_SAMPLER_ARG", arg}}),
              "OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1")
        << arg;
  }
}

TEST(EnvironmentTest, ServiceNameAndResourceAttributes) {
  const EnvironmentSettings s =
      ok({{"OTEL_SERVICE_NAME", "my-enricher"},
          {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=data%20platform"}});
  EXPECT_EQ(s.service_name, "my-enricher");
  ASSERT_EQ(s.resource_attributes.size(), 2U);
  EXPECT_EQ(s.resource_attributes[0].key, "deployment.environment");
  EXPECT_EQ(std::get<std::string>(s.resource_attributes[0].value), "prod");
  EXPECT_EQ(s.resource_attributes[1].key, "team");
  EXPECT_EQ(std::get<std::string>(s.resource_attributes[1].value), "data platform");
  EXPECT_EQ(error_of({{"OTEL_RESOURCE_ATTRIBUTES", "a=1,broken"}}),
            "OTEL_RESOURCE_ATTRIBUTES: entry 2 is not key=value");
}

TEST(EnvironmentTest, BatchProcessorSettings) {
  const EnvironmentSettings s = ok({{"OTEL_BSP_MAX_QUEUE_SIZE", "4096"},
                                    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"},
                                    {"OTEL_BSP_SCHEDULE_DELAY", "250"},
                                    {"OTEL_BSP_EXPORT_TIMEOUT", "3000"}});
  EXPECT_EQ(s.max_queue_spans, 4096U);
  EXPECT_EQ(s.max_batch_spans, 256U);
  EXPECT_EQ(s.schedule_delay, 250ms);
  EXPECT_EQ(s.export_timeout, 3s);
  EXPECT_EQ(error_of({{"OTEL_BSP_SCHEDULE_DELAY", "1s"}}),
            "OTEL_BSP_SCHEDULE_DELAY: must be a whole number from 1 to 86400000 of milliseconds");
  EXPECT_EQ(error_of({{"OTEL_BSP_MAX_QUEUE_SIZE", "0"}}),
            "OTEL_BSP_MAX_QUEUE_SIZE: must be a whole number from 1 to 1048576");
  // A typo's queue would be refused here rather than fail the service when it is allocated.
  EXPECT_EQ(ok({{"OTEL_BSP_MAX_QUEUE_SIZE", "1048576"}}).max_queue_spans, kMaxSpanCount);
  EXPECT_EQ(error_of({{"OTEL_BSP_MAX_QUEUE_SIZE", "1048577"}}),
            "OTEL_BSP_MAX_QUEUE_SIZE: must be a whole number from 1 to 1048576");
}

// The tracing.headers key reads its value with the same parser as the variables.
TEST(HeadersTest, ParsedAsTheVariablesAre) {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(parse_headers(""), Headers{});
  EXPECT_EQ(parse_headers("a=1,,b = x%2Cy "), (Headers{{"a", "1"}, {"b", "x,y"}}));
  EXPECT_EQ(parse_headers("a=b=c"), (Headers{{"a", "b=c"}}));
  EXPECT_EQ(parse_headers("a=%4"), (Headers{{"a", "%4"}}));  // Baggage: a lone '%' stays
  EXPECT_EQ(parse_headers("a").error(), "entry 1 is not key=value");
  EXPECT_FALSE(parse_headers("=v").has_value());
  EXPECT_FALSE(parse_headers("a b=v").has_value());
  EXPECT_EQ(parse_headers("a=1,x=y%0D%0AHost:%20evil").error(),
            "entry 2 has a line break in its value");
}

TEST(LoggableUrlTest, NoUserinfoQueryOrFragment) {
  EXPECT_EQ(loggable_url("http://127.0.0.1:4318/v1/traces"), "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(loggable_url("https://user:pw@collector/v1/traces?api_key=k#f"),
            "https://collector/v1/traces");
  EXPECT_EQ(loggable_url("https://collector/v1/traces?a=b@c"), "https://collector/v1/traces");
  EXPECT_EQ(loggable_url("https://user:pw@collector"), "https://collector");
  EXPECT_EQ(loggable_url(""), "");
}

TEST(EnvironmentTest, EveryInvalidVariableIsReportedTogether) {
  EXPECT_EQ(error_of({{"OTEL_SDK_DISABLED", "maybe"}, {"OTEL_BSP_EXPORT_TIMEOUT", "-1"}}),
            "OTEL_SDK_DISABLED: must be true or false\n"
            "OTEL_BSP_EXPORT_TIMEOUT: must be a whole number from 1 to 86400000 of milliseconds");
}

}  // namespace
}  // namespace iw::otlp
