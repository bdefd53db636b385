#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "iw/otlp/tracer.h"

namespace iw::otlp {
namespace {

using std::chrono::nanoseconds;

base::TimePoint at(std::int64_t unix_nanos) {
  return base::TimePoint(
      std::chrono::duration_cast<base::TimePoint::duration>(nanoseconds(unix_nanos)));
}

Resource resource() {
  return Resource{.service_name = "ingest-enricher",
                  .service_version = "1.2.3",
                  .host_name = "box-1",
                  .extra = {{"deployment.environment", std::string("test")}}};
}

Span enrich_span() {
  return Span{.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
              .span_id = "00f067aa0ba902b7",
              .parent_span_id = "b7ad6b7169203331",
              .name = "enrich",
              .kind = SpanKind::kConsumer,
              .start = at(1'700'000'000'123'456'789),
              .end = at(1'700'000'000'223'456'789),
              .attributes = {{"ingestwatch.source", std::string("sap \"prod\"")},
                             {"messaging.kafka.offset", std::int64_t{42}},
                             {"ratio", 0.5},
                             {"retried", false}},
              .events = {{.name = "alert firing",
                          .time = at(1'700'000'000'200'000'000),
                          .attributes = {{"alertname", std::string("IngestionFailed")}}}},
              .status = SpanStatus::kError,
              .status_message = "bad\nrecord"};
}

TEST(EncodeJsonTest, WritesOtlpJsonExactly) {
  const std::string expected =
      R"({"resourceSpans":[{"resource":{"attributes":[)"
      R"({"key":"service.name","value":{"stringValue":"ingest-enricher"}},)"
      R"({"key":"service.version","value":{"stringValue":"1.2.3"}},)"
      R"({"key":"host.name","value":{"stringValue":"box-1"}},)"
      R"({"key":"deployment.environment","value":{"stringValue":"test"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"ingestwatch","version":"1.2.3"},"spans":[)"
      R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7",)"
      R"("parentSpanId":"b7ad6b7169203331","name":"enrich","kind":5,)"
      R"("startTimeUnixNano":"1700000000123456789","endTimeUnixNano":"1700000000223456789",)"
      R"("attributes":[{"key":"ingestwatch.source","value":{"stringValue":"sap \"prod\""}},)"
      R"({"key":"messaging.kafka.offset","value":{"intValue":"42"}},)"
      R"({"key":"ratio","value":{"doubleValue":0.5}},)"
      R"({"key":"retried","value":{"boolValue":false}}],)"
      R"("events":[{"timeUnixNano":"1700000000200000000","name":"alert firing",)"
      R"("attributes":[{"key":"alertname","value":{"stringValue":"IngestionFailed"}}]}],)"
      R"("status":{"code":2,"message":"bad\nrecord"}}]}]}]})";
  EXPECT_EQ(encode_json(resource(), {enrich_span()}), expected);
}

TEST(EncodeJsonTest, ARootSpanHasNoParentAndAnUnsetStatusNoMessage) {
  const Span root{.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                  .span_id = "00f067aa0ba902b7",
                  .name = "publish",
                  .kind = SpanKind::kProducer,
                  .start = at(1),
                  .end = at(2)};
  const std::string body = encode_json(Resource{}, {root});
  EXPECT_NE(
      body.find(R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7",)"
                R"("name":"publish","kind":4,"startTimeUnixNano":"1","endTimeUnixNano":"2",)"
                R"("attributes":[],"events":[],"status":{"code":0}})"),
      std::string::npos)
      << body;
}

TEST(EncodeJsonTest, ResourceExtrasDoNotRepeatTheServicesOwnKeys) {
  Resource r = resource();
  r.extra = {{"service.name", std::string("other")}, {"team", std::string("data")}};
  const std::string body = encode_json(r, {});
  EXPECT_EQ(body.find("other"), std::string::npos) << body;
  EXPECT_NE(body.find(R"({"key":"team","value":{"stringValue":"data"}})"), std::string::npos);
  EXPECT_NE(body.find(R"("spans":[])"), std::string::npos);
}

TEST(EncodeJsonTest, NumbersJsonCannotHoldAreProtobufsStrings) {
  Span span = enrich_span();
  span.attributes = {{"nan", std::nan("")},
                     {"inf", std::numeric_limits<double>::infinity()},
                     {"minus_inf", -std::numeric_limits<double>::infinity()},
                     {"big", std::numeric_limits<std::int64_t>::min()}};
  const std::string body = encode_json(resource(), {span});
  EXPECT_NE(body.find(R"({"doubleValue":"NaN"})"), std::string::npos);
  EXPECT_NE(body.find(R"({"doubleValue":"Infinity"})"), std::string::npos);
  EXPECT_NE(body.find(R"({"doubleValue":"-Infinity"})"), std::string::npos);
  EXPECT_NE(body.find(R"({"intValue":"-9223372036854775808"})"), std::string::npos);
}

TEST(EncodeJsonTest, TheBodyParsesAndHasEveryFieldWhateverTheText) {
  Span second = enrich_span();
  second.span_id = "1111111111111111";
  second.name = std::string("bad \x01 bytes \xff and \"quotes\" \\");
  second.attributes.push_back({"k\n", std::string("\xc3\x28")});
  const std::string body = encode_json(resource(), {enrich_span(), second});

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
  simdjson::dom::array resource_spans;
  ASSERT_EQ(root["resourceSpans"].get(resource_spans), simdjson::SUCCESS);
  ASSERT_EQ(resource_spans.size(), 1U);
  const simdjson::dom::element rs = resource_spans.at(0);
  std::string_view text;
  ASSERT_EQ(rs.at_pointer("/resource/attributes/0/value/stringValue").get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "ingest-enricher");
  ASSERT_EQ(rs.at_pointer("/scopeSpans/0/scope/name").get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "ingestwatch");
  simdjson::dom::array spans;
  ASSERT_EQ(rs.at_pointer("/scopeSpans/0/spans").get(spans), simdjson::SUCCESS);
  ASSERT_EQ(spans.size(), 2U);
  for (const simdjson::dom::element span : spans) {
    for (const char* field :
         {"traceId", "spanId", "parentSpanId", "name", "startTimeUnixNano", "endTimeUnixNano"}) {
      EXPECT_EQ(span[field].get(text), simdjson::SUCCESS) << field;
    }
    std::int64_t kind = 0;
    EXPECT_EQ(span["kind"].get(kind), simdjson::SUCCESS);
    EXPECT_EQ(kind, 5);
    std::int64_t code = 0;
    EXPECT_EQ(span.at_pointer("/status/code").get(code), simdjson::SUCCESS);
    EXPECT_EQ(code, 2);
    double ratio = 0;
    EXPECT_EQ(span.at_pointer("/attributes/2/value/doubleValue").get(ratio), simdjson::SUCCESS);
    EXPECT_EQ(ratio, 0.5);
    EXPECT_EQ(span.at_pointer("/events/0/name").get(text), simdjson::SUCCESS);
    EXPECT_EQ(text, "alert firing");
  }
  ASSERT_EQ(spans.at(1)["spanId"].get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "1111111111111111");
}

}  // namespace
}  // namespace iw::otlp
