#include "iw/alerting/enriched_run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <set>

#include "iw/events/timestamp.h"
#include "iw/testing/alloc_counter.h"
#include "iw/testing/enricher_goldens.h"

namespace iw::alerting {
namespace {

using ::testing::HasSubstr;

using Golden = iw::testing::EnrichedGolden;

// The enricher's golden outputs: real enriched records, as the evaluator will read them.
std::vector<Golden> golden_outputs() {
  return iw::testing::enricher_golden_outputs(IW_ENRICHER_GOLDEN_DIR);
}

// What a record says, read with simdjson's DOM API and the enricher's timestamp parser rather
// than with the code under test.
struct Expected {
  std::string source;
  std::string objet;
  std::string etat;
  Instant end;
  double duration_seconds = 0;
  std::optional<double> cpu_seconds;
  std::optional<double> memory_bytes;
};

Expected expected_of(const std::string& json) {
  simdjson::dom::parser parser;
  const simdjson::dom::element record = parser.parse(json);
  const simdjson::dom::element performance = record["performance"];
  Expected e;
  e.source = std::string_view(record["source"]["name"]);
  e.objet = std::string_view(record["objet"]["name"]);
  e.etat = std::string_view(record["etat"]);
  auto end =
      events::parse_timestamp(std::string_view(record["event"]["end"]), events::TimeZone::utc());
  EXPECT_TRUE(end.has_value());
  if (end) e.end = std::chrono::time_point_cast<Millis>(*end);
  e.duration_seconds = double(performance["duree_secondes"]);
  if (!performance["cpu_time_sec"].is_null()) e.cpu_seconds = double(performance["cpu_time_sec"]);
  if (!performance["memory_used_bytes"].is_null()) {
    e.memory_bytes = static_cast<double>(std::int64_t(performance["memory_used_bytes"]));
  }
  return e;
}

std::string_view etat_text(Etat etat) {
  switch (etat) {
    case Etat::kSuccess:
      return "SUCCESS";
    case Etat::kFailed:
      return "FAILED";
    case Etat::kRunning:
      return "RUNNING";
  }
  return "?";
}

TEST(EnrichedRunReaderTest, ReadsEveryGoldenOutputOfTheEnricher) {
  const std::vector<Golden> goldens = golden_outputs();
  ASSERT_GE(goldens.size(), 50u);
  EnrichedRunReader reader;  // one reader for all, as in the service
  std::set<std::string_view> etats;
  for (const Golden& golden : goldens) {
    SCOPED_TRACE(golden.name);
    const auto run = reader.read(golden.json);
    ASSERT_TRUE(run.has_value()) << run.error().to_string();
    const Expected expected = expected_of(golden.json);
    EXPECT_EQ(run->source, expected.source);
    EXPECT_EQ(run->objet, expected.objet);
    EXPECT_EQ(etat_text(run->etat), expected.etat);
    EXPECT_EQ(run->end, expected.end);
    EXPECT_EQ(run->duration_seconds, expected.duration_seconds);
    EXPECT_EQ(run->cpu_seconds, expected.cpu_seconds);
    EXPECT_EQ(run->memory_bytes, expected.memory_bytes);
    etats.insert(etat_text(run->etat));
  }
  // The goldens cover every etat and records without cpu or memory.
  EXPECT_EQ(etats.size(), 3u);
}

TEST(EnrichedRunReaderTest, BriefExample) {
  const auto goldens = golden_outputs();
  const auto brief = std::ranges::find(goldens, "ok-brief_example", &Golden::name);
  ASSERT_NE(brief, goldens.end());
  EnrichedRunReader reader;
  const auto run = reader.read(brief->json);
  ASSERT_TRUE(run.has_value()) << run.error().to_string();
  EXPECT_EQ(run->source, "PowerBI");
  EXPECT_EQ(run->objet, "workspaces");
  EXPECT_EQ(run->etat, Etat::kSuccess);
  // 2025-09-15T10:30:01.154Z
  EXPECT_EQ(run->end, Instant{std::chrono::sys_days{std::chrono::year{2025} / 9 / 15}} +
                          std::chrono::hours{10} + std::chrono::minutes{30} +
                          std::chrono::seconds{1} + Millis{154});
  EXPECT_EQ(run->duration_seconds, 1.154133);
  EXPECT_EQ(run->cpu_seconds, 0.11);
  EXPECT_EQ(run->memory_bytes, 5849088.0);
}

TEST(EnrichedRunReaderTest, DoesNotAllocateOnceWarm) {
  const std::vector<Golden> goldens = golden_outputs();
  EnrichedRunReader reader;
  for (const Golden& golden : goldens) ASSERT_TRUE(reader.read(golden.json).has_value());
  std::size_t read = 0;
  iw::testing::start_counting_allocations();
  for (int pass = 0; pass < 2; ++pass) {
    for (const Golden& golden : goldens) read += reader.read(golden.json).has_value() ? 1 : 0;
  }
  const std::size_t allocations = iw::testing::stop_counting_allocations();
  EXPECT_EQ(read, 2 * goldens.size());
  EXPECT_EQ(allocations, 0u);
}

// The control for the test above: the counter must see allocations, or "0" would prove nothing.
TEST(EnrichedRunReaderTest, AllocationCounterSeesAllocationsInThisBinary) {
  iw::testing::start_counting_allocations();
  std::vector<int>* volatile escaped = new std::vector<int>(100);
  delete escaped;
  EXPECT_GE(iw::testing::stop_counting_allocations(), 2u);
}

constexpr std::string_view kRecord =
    R"({"source":{"name":"PowerBI"},"objet":{"name":"workspaces"},"etat":"FAILED",)"
    R"("event":{"end":"2025-09-15T10:30:01.154Z"},)"
    R"("performance":{"duree_secondes":1.5,"cpu_time_sec":0.11,"memory_used_bytes":5849088}})";

TEST(EnrichedRunReaderTest, ViewsPointIntoTheReaderNotTheInput) {
  EnrichedRunReader reader;
  std::string input(kRecord);
  const auto run = reader.read(input);
  ASSERT_TRUE(run.has_value()) << run.error().to_string();
  std::ranges::fill(input, ' ');
  EXPECT_EQ(run->source, "PowerBI");
  EXPECT_EQ(run->objet, "workspaces");
}

TEST(EnrichedRunReaderTest, FieldsInAnyOrderAndUnknownFieldsIgnored) {
  EnrichedRunReader reader;
  const auto run = reader.read(
      R"( {"performance":{"memory_used_mb":null,"memory_used_bytes":null,"duree_secondes":2,)"
      R"("extra":[1,{"a":[]}]},"labels":{"source":"other"},"etat":"RUNNING",)"
      R"("objet":{"id":7,"name":""},"event":{"start":"x","end":"2025-09-15T10:30:01Z"},)"
      R"("source":{"type":"api","name":"Power\u0042I"}} )");
  ASSERT_TRUE(run.has_value()) << run.error().to_string();
  EXPECT_EQ(run->source, "PowerBI");  // unescaped
  EXPECT_EQ(run->objet, "");
  EXPECT_EQ(run->etat, Etat::kRunning);
  EXPECT_EQ(run->duration_seconds, 2);
  EXPECT_FALSE(run->cpu_seconds.has_value());   // absent
  EXPECT_FALSE(run->memory_bytes.has_value());  // null
  EXPECT_EQ(run->end.time_since_epoch() % std::chrono::seconds{1}, Millis{0});
}

// `from` replaced by `to` in kRecord.
std::string with(std::string_view from, std::string_view to) {
  return iw::testing::replaced(kRecord, from, to);
}

TEST(EnrichedRunReaderTest, ErrorsNameTheField) {
  EnrichedRunReader reader;
  ASSERT_TRUE(reader.read(kRecord).has_value());
  const std::initializer_list<std::pair<std::string, std::string_view>> kCases = {
      {"[]", "record: expected a JSON object"},
      {"42", "record: expected a JSON object"},
      {with(R"({"name":"PowerBI"})", "42"), "source: expected an object"},
      {with(R"("PowerBI")", "42"), "source.name: expected a string"},
      {with(R"("PowerBI")", R"("")"), "source.name: must not be empty"},
      {with(R"("source":{"name":"PowerBI"},)", ""), "source.name: missing"},
      {with(R"("source":{"name":"PowerBI"},)", R"("source":{},)"), "source.name: missing"},
      {with(R"("objet":{"name":"workspaces"},)", ""), "objet.name: missing"},
      {with(R"("workspaces")", "null"), "objet.name: expected a string"},
      {with(R"("FAILED")", R"("DONE")"), "etat: expected SUCCESS, FAILED or RUNNING"},
      {with(R"("FAILED")", R"("failed")"), "etat: expected SUCCESS, FAILED or RUNNING"},
      {with(R"("FAILED")", "0"), "etat: expected a string"},
      {with(R"("etat":"FAILED",)", ""), "etat: missing"},
      {with("2025-09-15T10:30:01.154Z", "2025-09-15 10:30:01.154"),
       "event.end: not an RFC 3339 timestamp"},
      {with("2025-09-15T10:30:01.154Z", "2025-09-15T10:30:01.1541Z"),
       "event.end: not an RFC 3339 timestamp"},
      {with("2025-09-15T10:30:01.154Z", "2025-02-30T10:30:01.154Z"),
       "event.end: not an RFC 3339 timestamp"},
      {with("2025-09-15T10:30:01.154Z", "2025-09-15T10:30:01.154+02:00"),
       "event.end: not an RFC 3339 timestamp"},
      {with("2025-09-15T10:30:01.154Z", "2025-09-15T24:00:00.000Z"),
       "event.end: not an RFC 3339 timestamp"},
      {with("2025-09-15T10:30:01.154Z", "2025-09-15T10:30:01.Z"),
       "event.end: not an RFC 3339 timestamp"},
      {with(R"("2025-09-15T10:30:01.154Z")", "1757932201154"), "event.end: expected a string"},
      {with(R"("end":"2025-09-15T10:30:01.154Z")", R"("start":"2025-09-15T10:30:01.154Z")"),
       "event.end: missing"},
      {with(R"("duree_secondes":1.5)", R"("duree_secondes":"1.5")"),
       "performance.duree_secondes: expected a number"},
      {with(R"("duree_secondes":1.5)", R"("duree_secondes":null)"),
       "performance.duree_secondes: expected a number"},
      {with(R"("duree_secondes":1.5,)", ""), "performance.duree_secondes: missing"},
      {with(R"("cpu_time_sec":0.11)", R"("cpu_time_sec":"0.11")"),
       "performance.cpu_time_sec: expected a number or null"},
      {with(R"("memory_used_bytes":5849088)", R"("memory_used_bytes":1.5)"),
       "performance.memory_used_bytes: expected a non-negative integer or null"},
      {with(R"("memory_used_bytes":5849088)", R"("memory_used_bytes":-1)"),
       "performance.memory_used_bytes: expected a non-negative integer or null"},
      {with(R"("memory_used_bytes":5849088)", R"("memory_used_bytes":true)"),
       "performance.memory_used_bytes: expected a non-negative integer or null"},
  };
  for (const auto& [json, message] : kCases) {
    const auto run = reader.read(json);
    ASSERT_FALSE(run.has_value()) << json;
    EXPECT_EQ(run.error().code(), base::ErrorCode::kInvalidInput);
    EXPECT_EQ(run.error().message(), message) << json;
    // A bad record does not spoil the reader for the next one.
    EXPECT_TRUE(reader.read(kRecord).has_value());
  }
}

TEST(EnrichedRunReaderTest, BrokenJsonIsInvalidInput) {
  EnrichedRunReader reader;
  for (const std::string& json :
       {std::string(), std::string("{"), std::string(kRecord.substr(0, kRecord.size() / 2)),
        std::string(kRecord.substr(0, kRecord.size() - 1)), with(",", " "),
        std::string(kRecord) + " x", std::string(kRecord) + "}", std::string(kRecord) + " {}",
        std::string(kRecord) + " 1", std::string(kRecord) + "]"}) {
    const auto run = reader.read(json);
    ASSERT_FALSE(run.has_value()) << json;
    EXPECT_EQ(run.error().code(), base::ErrorCode::kInvalidInput);
    EXPECT_THAT(run.error().message(), HasSubstr("not JSON")) << json;
  }
}

// No proper prefix of a JSON object is one: a record cut short anywhere is rejected, never read
// as a run (and never read out of bounds).
TEST(EnrichedRunReaderTest, EveryTruncatedGoldenIsRejected) {
  EnrichedRunReader reader;
  for (const Golden& golden : golden_outputs()) {
    for (std::size_t size = 0; size < golden.json.size(); ++size) {
      const auto run = reader.read(std::string_view(golden.json).substr(0, size));
      ASSERT_FALSE(run.has_value()) << golden.name << " cut at " << size;
      ASSERT_EQ(run.error().code(), base::ErrorCode::kInvalidInput);
    }
  }
}

}  // namespace
}  // namespace iw::alerting
