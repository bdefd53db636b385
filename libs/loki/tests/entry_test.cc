#include "iw/loki/entry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "iw/loki/recent_events.h"

namespace iw::loki {
namespace {

using std::chrono::seconds;

// 2025-09-15T10:30:00Z, the start of the BRIEF's example run.
constexpr std::int64_t kBriefStart = 1'757'932'200'000'000'000;
const base::TimePoint kIngest{seconds{1'800'000'000}};
constexpr EntryRef kRef{.topic = 1, .partition = 2, .offset = 3};

std::string enricher_golden(std::string_view name) {
  std::ifstream in(std::filesystem::path(IW_ENRICHER_GOLDEN_DIR) / name, std::ios::binary);
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string run(std::string_view labels, std::string_view timestamp = "2025-09-15T10:30:00.000Z") {
  return R"({"@timestamp":")" + std::string(timestamp) + R"(","@version":"1","labels":)" +
         std::string(labels) + "}";
}

TEST(TraceIdTest, FromAValidSampledTraceparentOnly) {
  const TraceId id =
      TraceId::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(TraceId().empty());
  EXPECT_EQ(TraceId().hex(), "");
  for (std::string_view bad : {
           "", "00-4bf92f3577b34da6a3ce929d0e0e4736",
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // unknown version
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",  // not sampled: no trace
       }) {
    EXPECT_TRUE(TraceId::from_traceparent(bad).empty()) << bad;
  }
}

TEST(TraceIdTest, TheBuildersLeaveItToTheCaller) {
  EntryBuilder builder;
  auto entry = builder.enriched_run(run(R"({"source":"Zoho","etat":"SUCCESS"})"), kRef, kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_TRUE(entry->trace_id.empty());
}

TEST(EnrichedRunTest, TheBriefsExample) {
  const std::string record = enricher_golden("ok-brief_example.output.json");
  ASSERT_FALSE(record.empty());
  EntryBuilder builder;
  auto entry = builder.enriched_run(record, kRef, kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(entry->stream,
            R"({entreprise="akonovia", etat="SUCCESS", job="ingestion-logs", source="PowerBI", )"
            R"(zone="1-Raw"})");
  EXPECT_EQ(entry->timestamp_ns, kBriefStart);
  EXPECT_EQ(entry->line, record);
  EXPECT_EQ(entry->ref, kRef);
  // The key of its event.id, for the pusher's memory of recent runs; none without one.
  const auto at = record.find(R"("event":{"id":")");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(entry->event_key, event_key(std::string_view(record).substr(at + 15, 32)));
  auto without = builder.enriched_run(run(R"({"source":"Zoho","etat":"FAILED"})"), kRef, kIngest);
  ASSERT_TRUE(without) << without.error().message;
  EXPECT_EQ(without->event_key, 0U);
}

TEST(EnrichedRunTest, ZoneAndEntrepriseOnlyWhenPresent) {
  EntryBuilder builder;
  for (const std::string_view labels :
       {R"({"etat":"FAILED","source":"Zoho"})", R"({"etat":"FAILED","source":"Zoho","zone":""})",
        R"({"etat":"FAILED","source":"Zoho","zone":null,"entreprise":null})"}) {
    auto entry = builder.enriched_run(run(labels), kRef, kIngest);
    ASSERT_TRUE(entry) << labels << ": " << entry.error().message;
    EXPECT_EQ(entry->stream, R"({etat="FAILED", job="ingestion-logs", source="Zoho"})") << labels;
  }
}

// The builder remembers each label set's stream: the same values give the same stream, other
// values (however their bytes line up) another, and a refused set is refused every time.
TEST(EnrichedRunTest, EachLabelSetHasItsOwnStreamEveryTime) {
  EntryBuilder builder({.label_limits = {.max_value_length = 16}});
  auto stream = [&](std::string_view labels) {
    auto entry = builder.enriched_run(run(labels), kRef, kIngest);
    return entry ? entry->stream : "refused: " + entry.error().message;
  };
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(stream(R"({"etat":"SUCCESS","source":"Zoho"})"),
              R"({etat="SUCCESS", job="ingestion-logs", source="Zoho"})");
    EXPECT_EQ(stream(R"({"etat":"CESS","source":"ZohoSUC"})"),
              R"({etat="CESS", job="ingestion-logs", source="ZohoSUC"})");
    EXPECT_EQ(stream(R"({"etat":"SUCCESS","source":"Zoho","zone":"eu"})"),
              R"({etat="SUCCESS", job="ingestion-logs", source="Zoho", zone="eu"})");
    EXPECT_EQ(stream(R"({"etat":"SUCCESS","source":"Zoho","entreprise":"eu"})"),
              R"({entreprise="eu", etat="SUCCESS", job="ingestion-logs", source="Zoho"})");
    EXPECT_EQ(stream(R"({"etat":"SUCCESS","source":"Zoho-is-too-long!"})"),
              "refused: label source has a value of 17 bytes, more than the limit of 16");
  }
}

TEST(EnrichedRunTest, OnlyTheAllowListBecomesLabels) {
  EntryBuilder builder;
  auto entry = builder.enriched_run(
      run(R"({"objet":"deals","etat":"SUCCESS","source":"Zoho","id":{"x":[1,2]}})"), kRef, kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(entry->stream, R"({etat="SUCCESS", job="ingestion-logs", source="Zoho"})");
}

TEST(EnrichedRunTest, FieldsInAnyOrderAndEscaped) {
  EntryBuilder builder;
  auto entry =
      builder.enriched_run(R"({"labels":{"source":"Sh\u0061rePoint \"é\"","etat":"RUNNING"},"x":1,)"
                           R"("@timestamp":"2025-09-15T10:30:00.123456789Z"})",
                           kRef, kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(entry->stream, R"({etat="RUNNING", job="ingestion-logs", source="SharePoint \"é\""})");
  EXPECT_EQ(entry->timestamp_ns, kBriefStart + 123'456'789);
}

TEST(EnrichedRunTest, IngestTimeWhenAskedFor) {
  EntryBuilder builder({.timestamp = TimestampSource::kIngestTime});
  auto entry = builder.enriched_run(run(R"({"etat":"SUCCESS","source":"Zoho"})"), kRef, kIngest);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->timestamp_ns, 1'800'000'000'000'000'000);
}

TEST(EnrichedRunTest, Rejections) {
  EntryBuilder builder({.label_limits = {.max_value_length = 16}});
  auto rejection = [&](std::string_view record) {
    auto entry = builder.enriched_run(record, kRef, kIngest);
    EXPECT_FALSE(entry) << record;
    return entry ? Rejection{} : entry.error();
  };
  const Rejection not_json = rejection(R"({"@timestamp":)");
  EXPECT_EQ(not_json.reason, Reason::kInvalidRecord);
  EXPECT_EQ(not_json.message,
            "record: not JSON (JSON document ended early in the middle of an object or array.)");
  EXPECT_EQ(rejection("[1]").message, "record: expected a JSON object");
  EXPECT_EQ(rejection(R"({"labels":{"etat":"SUCCESS","source":"Zoho"}})").message,
            "@timestamp: required field is missing");
  EXPECT_EQ(rejection(run(R"({"etat":"SUCCESS","source":"Zoho"})", "yesterday")).message,
            "@timestamp: not a timestamp (expected YYYY-MM-DD): 'yesterday'");
  EXPECT_EQ(rejection(run(R"({"etat":"SUCCESS"})")).message,
            "labels.source: required field is missing");
  EXPECT_EQ(rejection(run(R"({"etat":"SUCCESS","source":""})")).message,
            "labels.source: must not be empty");
  EXPECT_EQ(rejection(run(R"({"etat":"SUCCESS","source":"Zoho","zone":3})")).message,
            "labels.zone: expected a string");
  EXPECT_EQ(rejection(run(R"({"etat":"SUCCESS","source":"Zoho","source":"PowerBI"})")).message,
            "labels.source: appears twice");
  EXPECT_EQ(rejection(run(R"([])")).message, "labels: expected an object");
  const Rejection too_long = rejection(run(R"({"etat":"SUCCESS","source":"Zoho-is-too-long!"})"));
  EXPECT_EQ(too_long.reason, Reason::kInvalidLabels);
  EXPECT_EQ(too_long.message, "label source has a value of 17 bytes, more than the limit of 16");
}

// The record is read by events::EnrichedRecordReader: one object, each field it reads once.
TEST(EnrichedRunTest, OneObjectAndEachFieldReadOnce) {
  EntryBuilder builder;
  auto message = [&](const std::string& record) {
    auto entry = builder.enriched_run(record, kRef, kIngest);
    EXPECT_FALSE(entry) << record;
    if (entry) return std::string();
    EXPECT_EQ(entry.error().reason, Reason::kInvalidRecord);
    return entry.error().message;
  };
  const std::string good = run(R"({"etat":"SUCCESS","source":"Zoho"})");
  EXPECT_EQ(message(good + R"( {"labels":{}})"), "record: not JSON (text after the object)");
  EXPECT_EQ(message(R"({"@timestamp":"2025-09-15T10:30:00Z","@timestamp":"2025-09-15T10:30:00Z",)"
                    R"("labels":{"etat":"SUCCESS","source":"Zoho"}})"),
            "@timestamp: appears twice");
  EXPECT_EQ(message(R"({"labels":{},"@timestamp":"2025-09-15T10:30:00Z",)"
                    R"("labels":{"etat":"SUCCESS","source":"Zoho"}})"),
            "labels: appears twice");
  // Fields the pusher does not read are not looked at, even when another reader would object
  // (it reads event.id, for its memory of recent runs, so not `event`).
  auto entry = builder.enriched_run(
      run(R"({"etat":"SUCCESS","source":"Zoho"})").insert(1, R"("etat":0,"objet":1,)"), kRef,
      kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(entry->stream, R"({etat="SUCCESS", job="ingestion-logs", source="Zoho"})");
}

std::string alert(std::string_view status, std::string_view ends_at) {
  return R"({"status":")" + std::string(status) +
         R"(","labels":{"alertname":"IngestionFailureDetected","objet":"deals",)"
         R"("severity":"critical","source":"Zoho"},"annotations":{"summary":"s"},)"
         R"("startsAt":"2025-09-21T08:35:00.000Z","endsAt":")" +
         std::string(ends_at) + R"(","value":2,"fingerprint":"a9533006a7ebe300"})";
}

TEST(AlertEventTest, FiringIsFiledUnderItsStart) {
  EntryBuilder builder;
  const std::string record = alert("firing", "0001-01-01T00:00:00.000Z");
  auto entry = builder.alert_event(record, kRef, kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(
      entry->stream,
      R"({alertname="IngestionFailureDetected", job="ingestion-alerts", severity="critical", )"
      R"(source="Zoho", status="firing"})");
  EXPECT_EQ(entry->timestamp_ns, 1'758'443'700'000'000'000);
  EXPECT_EQ(entry->line, record);
}

TEST(AlertEventTest, ResolvedIsFiledUnderItsEnd) {
  EntryBuilder builder;
  auto entry = builder.alert_event(alert("resolved", "2025-09-21T09:00:01.999Z"), kRef, kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_TRUE(entry->stream.ends_with(R"(status="resolved"})"));
  EXPECT_EQ(entry->timestamp_ns, 1'758'445'201'999'000'000);
}

TEST(AlertEventTest, SeverityAndSourceAreOptional) {
  EntryBuilder builder;
  auto entry = builder.alert_event(
      R"({"status":"firing","labels":{"alertname":"X"},"startsAt":"2025-09-21T08:35:00Z"})", kRef,
      kIngest);
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(entry->stream, R"({alertname="X", job="ingestion-alerts", status="firing"})");
}

TEST(AlertEventTest, Rejections) {
  EntryBuilder builder;
  auto message = [&](std::string_view record) {
    auto entry = builder.alert_event(record, kRef, kIngest);
    EXPECT_FALSE(entry) << record;
    return entry ? std::string() : entry.error().message;
  };
  EXPECT_EQ(message(alert("pending", "x")), R"(status: expected "firing" or "resolved")");
  EXPECT_EQ(message(R"({"status":"firing","labels":{},"startsAt":"2025-09-21T08:35:00Z"})"),
            "labels.alertname: required field is missing");
  EXPECT_EQ(message(R"({"status":"resolved","labels":{"alertname":"X"},)"
                    R"("startsAt":"2025-09-21T08:35:00Z"})"),
            "endsAt: required field is missing");
}

TEST(ReasonTest, NamesAreDistinct) {
  std::set<std::string_view> names;
  for (const Reason reason : all_reasons()) names.insert(reason_name(reason));
  EXPECT_EQ(names.size(), kReasonCount);
  EXPECT_EQ(reason_name(Reason::kTooOld), "greater_than_max_sample_age");
}

}  // namespace
}  // namespace iw::loki
