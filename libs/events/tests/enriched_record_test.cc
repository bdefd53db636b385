// The one reader of the enriched record: every field the alert rules and the Loki pusher read,
// checked against the enricher's golden outputs (read independently with simdjson's DOM API),
// and every way a record is refused.
#include "iw/events/enriched_record.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <set>
#include <vector>

#include "iw/base/time_format.h"
#include "iw/events/timestamp.h"
#include "iw/testing/alloc_counter.h"
#include "iw/testing/enricher_goldens.h"

namespace iw::events {
namespace {

using F = EnrichedField;
using Kind = EnrichedRecordError::Kind;

// What each consumer asks for.
const std::initializer_list<EnrichedField> kAlerting = {F::kSourceName, F::kObjetName, F::kEtat,
                                                        F::kEventEnd,   F::kDuration,  F::kCpuTime,
                                                        F::kMemoryUsed};
const std::initializer_list<EnrichedField> kLoki = {F::kTimestamp, F::kLabelSource, F::kLabelEtat,
                                                    F::kLabelZone, F::kLabelEntreprise};
const std::initializer_list<EnrichedField> kEvery = {
    F::kTimestamp,   F::kSourceName, F::kObjetName, F::kEtat,
    F::kEventEnd,    F::kDuration,   F::kCpuTime,   F::kMemoryUsed,
    F::kLabelSource, F::kLabelEtat,  F::kLabelZone, F::kLabelEntreprise};

using Golden = iw::testing::EnrichedGolden;

std::vector<Golden> golden_outputs() { return iw::testing::enricher_golden_outputs(IW_GOLDEN_DIR); }

std::string_view optional_text(simdjson::dom::element labels, const char* key) {
  simdjson::dom::element value;
  if (labels[key].get(value) != simdjson::SUCCESS || value.is_null()) return "";
  return std::string_view(value);
}

// Every field the reader gives, against the same record read with simdjson's DOM API and the
// enricher's timestamp parser.
void expect_matches(const EnrichedRecord& got, const std::string& json) {
  simdjson::dom::parser parser;
  const simdjson::dom::element record = parser.parse(json);
  const simdjson::dom::element performance = record["performance"];
  const simdjson::dom::element labels = record["labels"];
  auto timestamp = parse_timestamp(std::string_view(record["@timestamp"]), TimeZone::utc());
  ASSERT_TRUE(timestamp.has_value());
  EXPECT_EQ(got.timestamp, *timestamp);
  EXPECT_EQ(got.source, std::string_view(record["source"]["name"]));
  EXPECT_EQ(got.objet, std::string_view(record["objet"]["name"]));
  EXPECT_EQ(got.etat, std::string_view(record["etat"]));
  EXPECT_EQ(got.end, base::parse_rfc3339_millis(std::string_view(record["event"]["end"])));
  EXPECT_EQ(got.duration_seconds, double(performance["duree_secondes"]));
  if (performance["cpu_time_sec"].is_null()) {
    EXPECT_FALSE(got.cpu_seconds.has_value());
  } else {
    EXPECT_EQ(got.cpu_seconds, double(performance["cpu_time_sec"]));
  }
  if (performance["memory_used_bytes"].is_null()) {
    EXPECT_FALSE(got.memory_bytes.has_value());
  } else {
    EXPECT_EQ(got.memory_bytes, std::uint64_t(performance["memory_used_bytes"]));
  }
  EXPECT_EQ(got.labels.source, std::string_view(labels["source"]));
  EXPECT_EQ(got.labels.etat, std::string_view(labels["etat"]));
  EXPECT_EQ(got.labels.zone, optional_text(labels, "zone"));
  EXPECT_EQ(got.labels.entreprise, optional_text(labels, "entreprise"));
}

TEST(EnrichedRecordReaderTest, ReadsEveryGoldenOutputOfTheEnricherInPlaceOrCopied) {
  const std::vector<Golden> goldens = golden_outputs();
  ASSERT_GE(goldens.size(), 50u);
  EnrichedRecordReader reader(kEvery);
  std::set<std::string_view> etats;
  bool without_zone = false;
  for (const Golden& golden : goldens) {
    SCOPED_TRACE(golden.name);
    // Padding of junk after the record, as in a Kafka payload parsed where it is.
    std::string padded = golden.json + std::string(simdjson::SIMDJSON_PADDING, '}');
    for (const std::size_t padding : {std::size_t{0}, simdjson::SIMDJSON_PADDING}) {
      const auto record =
          reader.read(std::string_view(padded).substr(0, golden.json.size()), padding);
      ASSERT_TRUE(record.has_value()) << record.error().message;
      expect_matches(*record, golden.json);
      etats.insert(record->etat == "SUCCESS"  ? "SUCCESS"
                   : record->etat == "FAILED" ? "FAILED"
                                              : "RUNNING");
      without_zone = without_zone || record->labels.zone.empty();
    }
  }
  EXPECT_EQ(etats.size(), 3u);
  EXPECT_TRUE(without_zone);
}

TEST(EnrichedRecordReaderTest, TheBriefsExampleForBothConsumers) {
  const auto goldens = golden_outputs();
  const auto brief = std::ranges::find(goldens, "ok-brief_example", &Golden::name);
  ASSERT_NE(brief, goldens.end());

  EnrichedRecordReader alerting(kAlerting);
  const auto run = alerting.read(brief->json, 0);
  ASSERT_TRUE(run.has_value()) << run.error().message;
  EXPECT_EQ(run->source, "PowerBI");
  EXPECT_EQ(run->objet, "workspaces");
  EXPECT_EQ(run->etat, "SUCCESS");
  EXPECT_EQ(base::format_rfc3339_millis(run->end), "2025-09-15T10:30:01.154Z");
  EXPECT_EQ(run->duration_seconds, 1.154133);
  EXPECT_EQ(run->cpu_seconds, 0.11);
  EXPECT_EQ(run->memory_bytes, 5849088u);
  EXPECT_EQ(run->timestamp, base::TimePoint{});  // not asked for
  EXPECT_EQ(run->labels.source, "");

  EnrichedRecordReader loki(kLoki);
  const auto entry = loki.read(brief->json, 0);
  ASSERT_TRUE(entry.has_value()) << entry.error().message;
  EXPECT_EQ(base::format_rfc3339_millis(entry->timestamp), "2025-09-15T10:30:00.000Z");
  EXPECT_EQ(entry->labels.source, "PowerBI");
  EXPECT_EQ(entry->labels.etat, "SUCCESS");
  EXPECT_EQ(entry->labels.zone, "1-Raw");
  EXPECT_EQ(entry->labels.entreprise, "akonovia");
  EXPECT_EQ(entry->source, "");  // not asked for
  EXPECT_FALSE(entry->memory_bytes.has_value());

  // event.id, for deduplication; objet.id is another field.
  EnrichedRecordReader ids({EnrichedField::kEventId});
  const auto id = ids.read(brief->json, 0);
  ASSERT_TRUE(id.has_value()) << id.error().message;
  EXPECT_EQ(id->event_id.size(), 32U) << id->event_id;
  EXPECT_NE(brief->json.find(R"("event":{"id":")" + std::string(id->event_id)), std::string::npos);
  // Optional: a record without it reads, as "".
  const auto none = ids.read(R"({"event":{"end":"2025-09-15T10:30:01.154Z"}})", 0);
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_EQ(none->event_id, "");
}

constexpr std::string_view kRecord =
    R"({"@timestamp":"2025-09-15T10:30:00.000Z","event":{"end":"2025-09-15T10:30:01.154Z"},)"
    R"("source":{"name":"PowerBI"},"objet":{"name":"workspaces"},"etat":"FAILED",)"
    R"("performance":{"duree_secondes":1.5,"cpu_time_sec":0.11,"memory_used_bytes":5849088},)"
    R"("labels":{"etat":"FAILED","source":"PowerBI","zone":"1-Raw","entreprise":"akonovia"}})";

// `from` replaced by `to` in kRecord.
std::string with(std::string_view from, std::string_view to) {
  return iw::testing::replaced(kRecord, from, to);
}

TEST(EnrichedRecordReaderTest, OnlyWhatIsAskedForIsReadOrRequired) {
  // Neither consumer looks at what only the other needs, even when it is missing or wrong.
  EnrichedRecordReader alerting(kAlerting);
  EnrichedRecordReader loki(kLoki);
  const std::string no_labels = with(
      R"(,"labels":{"etat":"FAILED","source":"PowerBI","zone":"1-Raw","entreprise":"akonovia"})",
      R"(,"labels":42)");
  EXPECT_TRUE(alerting.read(no_labels, 0).has_value());
  EXPECT_FALSE(loki.read(no_labels, 0).has_value());
  const std::string bad_timestamp = with("2025-09-15T10:30:00.000Z", "yesterday");
  EXPECT_TRUE(alerting.read(bad_timestamp, 0).has_value());
  EXPECT_FALSE(loki.read(bad_timestamp, 0).has_value());
  const std::string only_labels =
      R"({"@timestamp":"2025-09-15T10:30:00Z","labels":{"source":"a","etat":"b"}})";
  const auto entry = loki.read(only_labels, 0);
  ASSERT_TRUE(entry.has_value()) << entry.error().message;
  EXPECT_EQ(entry->labels.etat, "b");  // any label value: the label is not the canonical etat
  EXPECT_FALSE(alerting.read(only_labels, 0).has_value());
  // An unread member of a read object is skipped, whatever it holds.
  EXPECT_TRUE(alerting.read(with(R"("name":"PowerBI")", R"("name":"PowerBI","type":[{}])"), 0));
}

TEST(EnrichedRecordReaderTest, UnescapedInAnyOrderAndViewsPointIntoTheReader) {
  EnrichedRecordReader reader(kEvery);
  std::string input =
      R"( {"labels":{"source":"Sh\u0061rePoint \"é\"","etat":"RUNNING","zone":null,"entreprise":""},)"
      R"("performance":{"memory_used_bytes":null,"duree_secondes":2},"etat":"RUNNING","x":1,)"
      R"("objet":{"name":""},"event":{"end":"2025-09-15T10:30:01Z","start":"x"},)"
      R"("source":{"name":"Power\u0042I"},"@timestamp":"2025-09-15T10:30:00.123456789Z"} )";
  const auto record = reader.read(input, 0);
  ASSERT_TRUE(record.has_value()) << record.error().message;
  std::ranges::fill(input, ' ');
  EXPECT_EQ(record->labels.source, "SharePoint \"é\"");
  EXPECT_EQ(record->labels.zone, "");
  EXPECT_EQ(record->labels.entreprise, "");
  EXPECT_EQ(record->source, "PowerBI");
  EXPECT_EQ(record->objet, "");
  EXPECT_EQ(record->etat, "RUNNING");
  EXPECT_EQ(record->duration_seconds, 2);
  EXPECT_FALSE(record->cpu_seconds.has_value());   // absent
  EXPECT_FALSE(record->memory_bytes.has_value());  // null
  EXPECT_EQ(record->timestamp.time_since_epoch() % std::chrono::seconds{1},
            std::chrono::nanoseconds{123'456'789});
  EXPECT_EQ(base::format_rfc3339_millis(record->end), "2025-09-15T10:30:01.000Z");
}

struct Case {
  std::string json;
  Kind kind;
  std::string_view message;
};

void expect_refused(EnrichedRecordReader& reader, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    for (const std::size_t padding : {std::size_t{0}, simdjson::SIMDJSON_PADDING}) {
      const std::string padded = c.json + std::string(simdjson::SIMDJSON_PADDING, ' ');
      const auto record = reader.read(std::string_view(padded).substr(0, c.json.size()), padding);
      ASSERT_FALSE(record.has_value()) << c.json;
      EXPECT_EQ(record.error().kind, c.kind) << c.json;
      EXPECT_EQ(record.error().message, c.message) << c.json;
      EXPECT_TRUE(c.message.starts_with(std::string(record.error().field) + ": ")) << c.json;
      // A refused record does not spoil the reader for the next one.
      EXPECT_TRUE(reader.read(kRecord, 0).has_value());
    }
  }
}

TEST(EnrichedRecordReaderTest, MissingFieldsInTheOrderOfEnrichedField) {
  EnrichedRecordReader reader(kEvery);
  ASSERT_TRUE(reader.read(kRecord, 0).has_value());
  expect_refused(
      reader,
      {
          {"{}", Kind::kMissing, "@timestamp: required field is missing"},
          {with(R"("@timestamp":"2025-09-15T10:30:00.000Z",)", ""), Kind::kMissing,
           "@timestamp: required field is missing"},
          {with(R"("source":{"name":"PowerBI"},)", ""), Kind::kMissing,
           "source.name: required field is missing"},
          {with(R"("source":{"name":"PowerBI"},)", R"("source":{"type":"api"},)"), Kind::kMissing,
           "source.name: required field is missing"},
          {with(R"("objet":{"name":"workspaces"},)", ""), Kind::kMissing,
           "objet.name: required field is missing"},
          {with(R"("etat":"FAILED",)", ""), Kind::kMissing, "etat: required field is missing"},
          {with(R"("end":"2025-09-15T10:30:01.154Z")", R"("start":"x")"), Kind::kMissing,
           "event.end: required field is missing"},
          {with(R"("duree_secondes":1.5,)", ""), Kind::kMissing,
           "performance.duree_secondes: required field is missing"},
          {with(R"("source":"PowerBI",)", ""), Kind::kMissing,
           "labels.source: required field is missing"},
          {with(R"({"etat":"FAILED",)", "{"), Kind::kMissing,
           "labels.etat: required field is missing"},
          // Several missing: the first in EnrichedField order, not in document order.
          {R"({"etat":"FAILED","@timestamp":"2025-09-15T10:30:00Z"})", Kind::kMissing,
           "source.name: required field is missing"},
          {R"({"labels":{},"performance":{}})", Kind::kMissing,
           "@timestamp: required field is missing"},
      });
  // Optional fields may be absent.
  EXPECT_TRUE(reader.read(with(R"(,"cpu_time_sec":0.11,"memory_used_bytes":5849088)", ""), 0));
  EXPECT_TRUE(reader.read(with(R"(,"zone":"1-Raw","entreprise":"akonovia")", ""), 0));
}

TEST(EnrichedRecordReaderTest, MistypedFieldsNameTheField) {
  EnrichedRecordReader reader(kEvery);
  expect_refused(
      reader,
      {
          {with(R"("2025-09-15T10:30:00.000Z")", "0"), Kind::kInvalid,
           "@timestamp: expected a string"},
          {with(R"("2025-09-15T10:30:00.000Z")", R"("")"), Kind::kInvalid,
           "@timestamp: must not be empty"},
          {with("2025-09-15T10:30:00.000Z", "yesterday"), Kind::kInvalid,
           "@timestamp: not a timestamp (expected YYYY-MM-DD): 'yesterday'"},
          {with(R"({"name":"PowerBI"})", "42"), Kind::kInvalid, "source: expected an object"},
          {with(R"("name":"PowerBI")", R"("name":null)"), Kind::kInvalid,
           "source.name: expected a string"},
          {with(R"("name":"PowerBI")", R"("name":"")"), Kind::kInvalid,
           "source.name: must not be empty"},
          {with(R"("workspaces")", "null"), Kind::kInvalid, "objet.name: expected a string"},
          {with(R"("etat":"FAILED")", R"("etat":"failed")"), Kind::kInvalid,
           "etat: expected SUCCESS, FAILED or RUNNING"},
          {with(R"("etat":"FAILED")", R"("etat":0)"), Kind::kInvalid, "etat: expected a string"},
          {with("2025-09-15T10:30:01.154Z", "2025-09-15 10:30:01.154"), Kind::kInvalid,
           "event.end: not an RFC 3339 timestamp"},
          {with("2025-09-15T10:30:01.154Z", "2025-09-15T10:30:01.154+02:00"), Kind::kInvalid,
           "event.end: not an RFC 3339 timestamp"},
          {with(R"("duree_secondes":1.5)", R"("duree_secondes":"1.5")"), Kind::kInvalid,
           "performance.duree_secondes: expected a number"},
          {with(R"("duree_secondes":1.5)", R"("duree_secondes":null)"), Kind::kInvalid,
           "performance.duree_secondes: expected a number"},
          {with(R"("cpu_time_sec":0.11)", R"("cpu_time_sec":"0.11")"), Kind::kInvalid,
           "performance.cpu_time_sec: expected a number or null"},
          {with(R"("memory_used_bytes":5849088)", R"("memory_used_bytes":-1)"), Kind::kInvalid,
           "performance.memory_used_bytes: expected a non-negative integer or null"},
          {with(R"("memory_used_bytes":5849088)", R"("memory_used_bytes":1.5)"), Kind::kInvalid,
           "performance.memory_used_bytes: expected a non-negative integer or null"},
          {with(R"("labels":{)", R"("labels":[],"x":{)"), Kind::kInvalid,
           "labels: expected an object"},
          {with(R"("source":"PowerBI","zone")", R"("source":"","zone")"), Kind::kInvalid,
           "labels.source: must not be empty"},
          {with(R"("zone":"1-Raw")", R"("zone":3)"), Kind::kInvalid,
           "labels.zone: expected a string"},
          {with(R"("entreprise":"akonovia")", R"("entreprise":false)"), Kind::kInvalid,
           "labels.entreprise: expected a string"},
          // Field defects come in document order, before missing fields.
          {R"({"etat":"x","@timestamp":0})", Kind::kInvalid,
           "etat: expected SUCCESS, FAILED or RUNNING"},
      });
}

TEST(EnrichedRecordReaderTest, DuplicatesOfWhatIsReadAreRefused) {
  EnrichedRecordReader reader(kEvery);
  expect_refused(
      reader,
      {
          {with(R"("etat":"FAILED",)", R"("etat":"FAILED","etat":"FAILED",)"), Kind::kDuplicate,
           "etat: appears twice"},
          {with(R"("@timestamp":)", R"("@timestamp":"x","@timestamp":)"), Kind::kInvalid,
           "@timestamp: not a timestamp (expected YYYY-MM-DD): 'x'"},
          {with(R"({"@timestamp":)", R"({"@timestamp":"2025-09-15T10:30:00Z","@timestamp":)"),
           Kind::kDuplicate, "@timestamp: appears twice"},
          {with(R"("name":"PowerBI")", R"("name":"PowerBI","name":"Zoho")"), Kind::kDuplicate,
           "source.name: appears twice"},
          {with(R"("source":"PowerBI",)", R"("source":"PowerBI","source":"Zoho",)"),
           Kind::kDuplicate, "labels.source: appears twice"},
          {with(R"("zone":"1-Raw")", R"("zone":null,"zone":"1-Raw")"), Kind::kDuplicate,
           "labels.zone: appears twice"},
          {with(R"("objet":{"name":"workspaces"},)",
                R"("objet":{"name":"workspaces"},"objet":{},)"),
           Kind::kDuplicate, "objet: appears twice"},
          {with(R"("labels":{)", R"("labels":{},"labels":{)"), Kind::kDuplicate,
           "labels: appears twice"},
      });
  // Duplicates of what is not read are not looked at.
  EXPECT_TRUE(reader.read(with(R"("source":{"name":"PowerBI"})",
                               R"("source":{"name":"PowerBI","type":1,"type":2},"x":1,"x":2)"),
                          0));
  EnrichedRecordReader alerting(kAlerting);
  EXPECT_TRUE(alerting.read(with(R"("labels":{)", R"("labels":{},"labels":{)"), 0));
}

TEST(EnrichedRecordReaderTest, OneObjectAndNothingAfterIt) {
  EnrichedRecordReader reader(kEvery);
  const std::string record(kRecord);
  expect_refused(
      reader,
      {
          {"[]", Kind::kInvalid, "record: expected a JSON object"},
          {" 42", Kind::kInvalid, "record: expected a JSON object"},
          {R"("x")", Kind::kInvalid, "record: expected a JSON object"},
          {"", Kind::kInvalid, "record: not JSON (Empty: no JSON found)"},
          {record + " {}", Kind::kInvalid, "record: not JSON (text after the object)"},
          {R"({"@timestamp":)", Kind::kInvalid,
           "record: not JSON (JSON document ended early in the middle of an object or array.)"},
      });
  // simdjson's words for these vary with where it notices; "not JSON" is what they share.
  for (const std::string& json : {record + " x", record + " 1", record + "}", record + "]",
                                  record.substr(0, record.size() - 1), with(",", " ")}) {
    const auto got = reader.read(json, 0);
    ASSERT_FALSE(got.has_value()) << json;
    EXPECT_EQ(got.error().kind, Kind::kInvalid);
    EXPECT_NE(got.error().message.find("not JSON"), std::string::npos) << got.error().message;
  }
  // Blanks around the object are fine.
  EXPECT_TRUE(reader.read(" \n" + record + " \n", 0).has_value());
}

// No proper prefix of a JSON object is one: a record cut short anywhere is refused, in place or
// copied (and never read out of bounds).
TEST(EnrichedRecordReaderTest, EveryTruncatedGoldenIsRefused) {
  EnrichedRecordReader reader(kEvery);
  const auto goldens = golden_outputs();
  const Golden& golden = goldens.front();
  const std::string padded = golden.json + std::string(simdjson::SIMDJSON_PADDING, '"');
  for (std::size_t size = 0; size < golden.json.size(); ++size) {
    for (const std::size_t padding : {std::size_t{0}, simdjson::SIMDJSON_PADDING}) {
      const auto record = reader.read(std::string_view(padded).substr(0, size), padding);
      ASSERT_FALSE(record.has_value()) << golden.name << " cut at " << size;
    }
  }
}

TEST(EnrichedRecordReaderTest, DoesNotAllocateOnceWarm) {
  const std::vector<Golden> goldens = golden_outputs();
  EnrichedRecordReader reader(kEvery);
  for (const Golden& golden : goldens) ASSERT_TRUE(reader.read(golden.json, 0).has_value());
  std::size_t read = 0;
  iw::testing::start_counting_allocations();
  for (int pass = 0; pass < 2; ++pass) {
    for (const Golden& golden : goldens) read += reader.read(golden.json, 0) ? 1 : 0;
  }
  const std::size_t allocations = iw::testing::stop_counting_allocations();
  EXPECT_EQ(read, 2 * goldens.size());
  EXPECT_EQ(allocations, 0u);
}

}  // namespace
}  // namespace iw::events
