#include "iw/events/enricher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "iw/base/time_format.h"
#include "iw/loggen/generator.h"
#include "iw/testing/alloc_counter.h"

namespace iw::events {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kBriefRecord =
    R"({"ID": 1224, "Source": "PowerBI", "Objet": "workspaces",)"
    R"( "Transformation": "PowerBI_API_get_data", "Etat": "SUCCESS",)"
    R"( "Debut": "2025-09-15 10:30:00.000", "Fin": "2025-09-15 10:30:01.154",)"
    R"( "Duree secondes": 1.154133, "cpu_time": 0.11, "memory_used": 5849088,)"
    R"( "Description": "", "Zone": "1-Raw", "Entreprise": "akonovia"})";

RecordOrigin origin() {
  return RecordOrigin{
      .topic = "ingestion-logs",
      .partition = 0,
      .offset = 42,
      .execution_id = "exec-1",
      .processed_at = base::TimePoint{std::chrono::seconds{1'757'937'600}},
  };
}

std::string utc(base::TimePoint t) { return base::format_rfc3339_millis(t); }

// The enriched record for `raw` with default options, or "defect <reason>: <message>".
std::string enrich_text(std::string_view raw, EnrichOptions options = {}) {
  Enricher enricher(std::move(options));
  std::string out;
  auto facts = enricher.enrich(raw, 0, origin(), out);
  if (!facts) return "defect " + std::string(facts.error().reason) + ": " + facts.error().message;
  return out;
}

std::string reason_of(std::string_view raw, EnrichOptions options = {}) {
  Enricher enricher(std::move(options));
  std::string out;
  auto facts = enricher.enrich(raw, 0, origin(), out);
  return facts ? std::string("accepted") : std::string(facts.error().reason);
}

// A record with the required fields and `extra` appended (", ..." JSON members).
std::string record_with(std::string_view extra) {
  return R"({"Source": "Zoho", "Objet": "leads", "Etat": "SUCCESS",)"
         R"( "Debut": "2025-09-15 10:30:00", "Fin": "2025-09-15 10:30:02")" +
         std::string(extra) + "}";
}

TEST(EnricherTest, EnrichesTheBriefExample) {
  Enricher enricher({});
  std::string out;
  auto facts = enricher.enrich(kBriefRecord, 0, origin(), out);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->source, "PowerBI");
  EXPECT_EQ(facts->objet, "workspaces");
  EXPECT_EQ(facts->etat, "SUCCESS");
  EXPECT_EQ(facts->zone, "1-Raw");
  EXPECT_EQ(facts->entreprise, "akonovia");
  EXPECT_EQ(utc(facts->start), "2025-09-15T10:30:00.000Z");
  EXPECT_EQ(utc(facts->end), "2025-09-15T10:30:01.154Z");
  EXPECT_DOUBLE_EQ(facts->duration_seconds, 1.154133);
  EXPECT_EQ(facts->cpu_seconds, 0.11);
  EXPECT_EQ(facts->memory_bytes, 5849088);
  ASSERT_EQ(facts->event_id.size(), 32u);
  EXPECT_TRUE(std::all_of(facts->event_id.begin(), facts->event_id.end(),
                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  EXPECT_THAT(out, StartsWith(R"({"@timestamp":"2025-09-15T10:30:00.000Z","@version":"1",)"));
  EXPECT_THAT(out, HasSubstr(R"("memory_used_bytes":5849088,"memory_used_mb":5.58})"));
  EXPECT_THAT(out, HasSubstr(R"("source":{"name":"PowerBI","type":"api"})"));
  EXPECT_THAT(out, HasSubstr(std::string(R"("event":{"id":")") + std::string(facts->event_id)));
  EXPECT_THAT(out, HasSubstr(R"("pipeline":{"execution_id":"exec-1",)"
                             R"("processed_at":"2025-09-15T12:00:00.000Z","enricher":"0.1.0",)"
                             R"("raw":{"topic":"ingestion-logs","partition":0,"offset":42}}})"));
}

TEST(EnricherTest, EventIdIsTheSameForTheSameBytesOnly) {
  Enricher enricher({});
  std::string out;
  auto first = enricher.enrich(kBriefRecord, 0, origin(), out);
  ASSERT_TRUE(first.has_value());
  const std::string id(first->event_id);
  const std::string first_out = out;
  // In place, from a padded buffer: same bytes, same id and same record.
  std::string padded(kBriefRecord);
  padded.append(simdjson::SIMDJSON_PADDING, ' ');
  auto second = enricher.enrich(std::string_view(padded.data(), kBriefRecord.size()),
                                simdjson::SIMDJSON_PADDING, origin(), out);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->event_id, id);
  EXPECT_EQ(out, first_out);
  // Another Enricher, another process: the id depends on the bytes alone.
  Enricher other({});
  auto third = other.enrich(kBriefRecord, 0, origin(), out);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->event_id, id);
  // One byte of whitespace more is another raw record.
  auto spaced = enricher.enrich(std::string(kBriefRecord) + " ", 0, origin(), out);
  ASSERT_TRUE(spaced.has_value());
  EXPECT_NE(spaced->event_id, id);
}

TEST(EnricherTest, FactsOutliveTheRawBytesAndTheOutput) {
  Enricher enricher({});
  std::string out;
  std::string raw(kBriefRecord);
  raw.append(simdjson::SIMDJSON_PADDING, ' ');
  auto facts = enricher.enrich(std::string_view(raw.data(), kBriefRecord.size()),
                               simdjson::SIMDJSON_PADDING, origin(), out);
  ASSERT_TRUE(facts.has_value());
  std::fill(raw.begin(), raw.end(), 'x');
  out.assign(out.size(), 'y');
  EXPECT_EQ(facts->source, "PowerBI");
  EXPECT_EQ(facts->objet, "workspaces");
  EXPECT_EQ(facts->zone, "1-Raw");
  EXPECT_EQ(facts->entreprise, "akonovia");
}

TEST(EnricherTest, ReadsNaiveTimestampsInTheConfiguredZone) {
  auto paris = TimeZone::from_name("Europe/Paris");
  ASSERT_TRUE(paris.has_value()) << paris.error().to_string();
  Enricher enricher({.time_zone = *paris});
  std::string out;
  auto facts = enricher.enrich(record_with(""), 0, origin(), out);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(utc(facts->start), "2025-09-15T08:30:00.000Z");  // CEST, +02:00
  EXPECT_EQ(utc(facts->end), "2025-09-15T08:30:02.000Z");
  // An explicit offset is not reinterpreted.
  auto offset = enricher.enrich(
      R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"2025-09-15T10:30:00Z","Duree secondes":1})",
      0, origin(), out);
  ASSERT_TRUE(offset.has_value()) << offset.error().message;
  EXPECT_EQ(utc(offset->start), "2025-09-15T10:30:00.000Z");
}

TEST(EnricherTest, MapsEveryEtat) {
  struct Case {
    std::string_view text, etat, outcome, failed, success;
  };
  const Case cases[] = {
      {"SUCCESS", "SUCCESS", "success", "0", "1"},
      {"succeeded", "SUCCESS", "success", "0", "1"},
      {"Ok", "SUCCESS", "success", "0", "1"},
      {"DONE", "SUCCESS", "success", "0", "1"},
      {"warning", "SUCCESS", "success", "0", "1"},
      {"FAILED", "FAILED", "failure", "1", "0"},
      {"Failure", "FAILED", "failure", "1", "0"},
      {"ERROR", "FAILED", "failure", "1", "0"},
      {"ko", "FAILED", "failure", "1", "0"},
      {"ECHEC", "FAILED", "failure", "1", "0"},
      {"\xC3\x89"
       "CHEC",
       "FAILED", "failure", "1", "0"},
      {"\xC3\xA9"
       "chec",
       "FAILED", "failure", "1", "0"},
      {"RUNNING", "RUNNING", "unknown", "0", "0"},
      {"started", "RUNNING", "unknown", "0", "0"},
      {"Pending", "RUNNING", "unknown", "0", "0"},
      {" SUCCESS ", "SUCCESS", "success", "0", "1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::string raw = record_with("");
    raw.replace(raw.find("SUCCESS"), 7, c.text);
    Enricher enricher({});
    std::string out;
    auto facts = enricher.enrich(raw, 0, origin(), out);
    ASSERT_TRUE(facts.has_value()) << facts.error().message;
    EXPECT_EQ(facts->etat, c.etat);
    EXPECT_THAT(out, HasSubstr(std::string(R"("outcome":")") + std::string(c.outcome) + "\""));
    EXPECT_THAT(
        out, HasSubstr(std::string(R"("etat":")") + std::string(c.etat) + R"(","etat_source":)"));
    EXPECT_THAT(out, HasSubstr(std::string(R"("is_failed":)") + std::string(c.failed) +
                               R"(,"is_success":)" + std::string(c.success)));
  }
  for (const std::string_view text : {"MAYBE", "", "SUCCESSFUL", "succes", "FAILED!"}) {
    std::string raw = record_with("");
    raw.replace(raw.find("SUCCESS"), 7, text);
    EXPECT_EQ(reason_of(raw), "invalid_etat") << text;
  }
}

TEST(EnricherTest, ThresholdsAreStrictAndConfigurable) {
  const auto flags = [](std::string_view extra, EnrichOptions options = {}) {
    const std::string out = enrich_text(record_with(extra), std::move(options));
    const auto at = out.find(R"("high_memory_usage":)");
    return at == std::string::npos ? out : out.substr(at, 41);
  };
  // 150 MiB exactly is not above 150 MB; one byte more is.
  EXPECT_EQ(flags(R"(, "memory_used": 157286400, "cpu_time": 60)"),
            R"("high_memory_usage":0,"high_cpu_usage":0})");
  EXPECT_EQ(flags(R"(, "memory_used": 157286401, "cpu_time": 60.01)"),
            R"("high_memory_usage":1,"high_cpu_usage":1})");
  EXPECT_EQ(flags(R"(, "memory_used": 5849088, "cpu_time": 0.11)",
                  {.high_memory_mb = 5, .high_cpu_seconds = 0.1}),
            R"("high_memory_usage":1,"high_cpu_usage":1})");
  // Unknown values are not high.
  EXPECT_EQ(flags(""), R"("high_memory_usage":0,"high_cpu_usage":0})");
}

TEST(EnricherTest, TellsApiJobsFromOthers) {
  const auto type = [](std::string_view transformation) {
    const std::string out = enrich_text(
        record_with(std::string(R"(, "Transformation": ")") + std::string(transformation) + "\""));
    const auto at = out.find(R"("type":")");
    return out.substr(at + 8, 3);
  };
  EXPECT_EQ(type("PowerBI_API_get_data"), "api");
  EXPECT_EQ(type("RestAPI"), "api");
  EXPECT_EQ(type("fetch_api_v2"), "api");
  EXPECT_EQ(type("Api"), "api");
  EXPECT_EQ(type("Zoho_Silver_transform"), "job");
  EXPECT_EQ(type("Capital_rapid_load"), "job");
  EXPECT_EQ(type(""), "job");
  EXPECT_THAT(enrich_text(record_with("")), HasSubstr(R"("type":"job")"));
}

TEST(EnricherTest, RejectsOversizedRecordsBeforeParsing) {
  const std::string raw = record_with("");
  EXPECT_EQ(reason_of(raw, {.max_record_bytes = raw.size()}), "accepted");
  EXPECT_EQ(reason_of(raw, {.max_record_bytes = raw.size() - 1}), "oversized_record");
  EXPECT_EQ(reason_of("not even json", {.max_record_bytes = 4}), "oversized_record");
}

TEST(EnricherTest, JudgesJsonItselfEvenWhereNobodyReads) {
  EXPECT_EQ(reason_of(record_with(R"(, "extra": {"a": [1, {"b": null}], "c": "\u00e9"})")),
            "accepted");
  EXPECT_EQ(reason_of(record_with(R"(, "extra": tru)")), "invalid_json");
  EXPECT_EQ(reason_of(record_with(R"(, "extra": [1, 2.])")), "invalid_json");
  EXPECT_EQ(reason_of(record_with(R"(, "extra": {"a": nul})")), "invalid_json");
  EXPECT_EQ(reason_of(record_with(R"(, "extra": "\x")")), "invalid_json");
  EXPECT_EQ(reason_of(record_with(R"(, "Zone": nul)")), "invalid_json");
  EXPECT_EQ(reason_of(record_with("") + " x"), "invalid_json");
  EXPECT_EQ(reason_of(record_with("") + "{}"), "invalid_json");
  EXPECT_EQ(reason_of(""), "invalid_json");
  EXPECT_EQ(reason_of("   "), "invalid_json");
  EXPECT_EQ(reason_of("[1, 2"), "invalid_json");
  EXPECT_EQ(reason_of("[1, 2]"), "not_an_object");
  EXPECT_EQ(reason_of("12"), "not_an_object");
  EXPECT_EQ(reason_of("null"), "not_an_object");
  EXPECT_EQ(reason_of(record_with(", \"Description\": \"\xC3\"")), "invalid_utf8");
  EXPECT_EQ(reason_of(record_with(", \"Description\": \"a\x01z\"")), "invalid_json");
  // simdjson's limit of 1024 levels, the record itself being the first.
  const auto nested = [](std::size_t levels) {
    return record_with(", \"x\": " + std::string(levels, '[') + std::string(levels, ']'));
  };
  EXPECT_EQ(reason_of(nested(1022)), "accepted");
  EXPECT_EQ(reason_of(nested(1023)), "invalid_json");
  EXPECT_EQ(reason_of(nested(5000)), "invalid_json");
  EXPECT_EQ(
      reason_of(record_with(", \"Zone\": " + std::string(5000, '[') + std::string(5000, ']'))),
      "invalid_json");
}

TEST(EnricherTest, ReadsNumbersAsNumbersOrNumericText) {
  const auto perf = [](std::string_view extra) {
    const std::string out = enrich_text(record_with(extra));
    const auto at = out.find(R"("performance":)");
    if (at == std::string::npos) return out;
    return out.substr(at, out.find('}', at) - at + 1);
  };
  EXPECT_EQ(perf(R"(, "Duree secondes": "1,5", "cpu_time": " 0.97 ", "memory_used": "1048576")"),
            R"("performance":{"duree_secondes":1.5,"cpu_time_sec":0.97,)"
            R"("memory_used_bytes":1048576,"memory_used_mb":1})");
  EXPECT_EQ(perf(R"(, "Duree secondes": 2.0, "cpu_time": 1e-7, "memory_used": 5849088.0)"),
            R"("performance":{"duree_secondes":2,"cpu_time_sec":1e-07,)"
            R"("memory_used_bytes":5849088,"memory_used_mb":5.58})");
  EXPECT_EQ(perf(R"(, "Duree secondes": "+2,5e0", "cpu_time": -0.0, "memory_used": "0")"),
            R"("performance":{"duree_secondes":2.5,"cpu_time_sec":0,)"
            R"("memory_used_bytes":0,"memory_used_mb":0})");
  // Huge values keep an exponent: as bare digits readers would take them for integers.
  EXPECT_EQ(perf(R"(, "cpu_time": 184467440737095516160, "memory_used": 9223372036854775807)"),
            R"("performance":{"duree_secondes":2,"cpu_time_sec":1.844674407370955e+20,)"
            R"("memory_used_bytes":9223372036854775807,"memory_used_mb":8796093022208})");
  EXPECT_EQ(perf(R"(, "cpu_time": 123456789012345)"),
            R"("performance":{"duree_secondes":2,"cpu_time_sec":123456789012345,)"
            R"("memory_used_bytes":null,"memory_used_mb":null})");
  EXPECT_EQ(perf(R"(, "cpu_time": null, "memory_used": null)"),
            R"("performance":{"duree_secondes":2,"cpu_time_sec":null,)"
            R"("memory_used_bytes":null,"memory_used_mb":null})");
  for (const std::string_view bad :
       {R"(, "cpu_time": "NaN")", R"(, "cpu_time": "inf")", R"(, "cpu_time": "1,2,3")",
        R"(, "cpu_time": "0x10")", R"(, "cpu_time": "")", R"(, "cpu_time": "--1")",
        R"(, "cpu_time": "+-1")", R"(, "cpu_time": -1)", R"(, "cpu_time": 1e400)",
        R"(, "memory_used": 1.5)", R"(, "memory_used": "1,5")", R"(, "memory_used": -4096)",
        R"(, "memory_used": 1e300)", R"(, "ID": "12a")", R"(, "Duree secondes": "1 s")"}) {
    EXPECT_EQ(reason_of(record_with(bad)), "invalid_number") << bad;
  }
  EXPECT_EQ(reason_of(record_with(R"(, "cpu_time": true)")), "wrong_type");
  EXPECT_EQ(reason_of(record_with(R"(, "ID": [1])")), "wrong_type");
}

TEST(EnricherTest, DerivesTheEndOrTheDuration) {
  Enricher enricher({});
  std::string out;
  const std::string_view no_fin =
      R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"2025-09-15 10:30:00","Duree secondes":"1,5"})";
  auto facts = enricher.enrich(no_fin, 0, origin(), out);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(utc(facts->end), "2025-09-15T10:30:01.500Z");
  EXPECT_EQ(facts->duration_seconds, 1.5);

  const std::string_view no_duree =
      R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"2025-09-15 10:30:00","Fin":"2025-09-15 10:30:01.416"})";
  facts = enricher.enrich(no_duree, 0, origin(), out);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->duration_seconds, 1.416);
  EXPECT_THAT(out, HasSubstr(R"("duree_secondes":1.416,)"));

  // Both: Fin is the end, the duration is kept as the job wrote it.
  const std::string_view both =
      R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"2025-09-15 10:30:00","Fin":"2025-09-15 10:30:05","Duree secondes":4.2})";
  facts = enricher.enrich(both, 0, origin(), out);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(utc(facts->end), "2025-09-15T10:30:05.000Z");
  EXPECT_EQ(facts->duration_seconds, 4.2);

  // Centuries apart: still a number, no overflow.
  const std::string_view far =
      R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"1678-01-01 00:00:00","Fin":"2261-12-31 00:00:00"})";
  facts = enricher.enrich(far, 0, origin(), out);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->duration_seconds, 18'429'120'000.0);  // 213,300 days

  EXPECT_EQ(reason_of(R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"2025-09-15 10:30:00",)"
                      R"("Duree secondes":1e12})"),
            "invalid_number");
  // Even when Fin gives the end (found by the fuzzer).
  EXPECT_EQ(reason_of(R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"2025-09-15 10:30:00",)"
                      R"("Fin":"2025-09-15 10:30:01","Duree secondes":184467440737095516163.5})"),
            "invalid_number");
  EXPECT_EQ(reason_of(R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"2261-12-31 00:00:00",)"
                      R"("Duree secondes":1e9})"),
            "invalid_number");
  EXPECT_EQ(reason_of(R"({"Source":"S","Objet":"o","Etat":"OK","Debut":"9999-12-31 00:00:00",)"
                      R"("Duree secondes":1})"),
            "invalid_timestamp");
}

TEST(EnricherTest, TreatsNullAsAbsentAndDuplicatesAsDefects) {
  // The same record but for event.id (other bytes).
  const auto without_id = [](std::string text) {
    const auto at = text.find(R"("id":")");
    return text.erase(at, 6 + 32);
  };
  EXPECT_EQ(without_id(enrich_text(
                record_with(R"(, "Zone": null, "Entreprise": "", "Description": null)"))),
            without_id(enrich_text(record_with(""))));
  EXPECT_EQ(
      enrich_text(
          R"({"Source":"S","Objet":null,"Etat":"OK","Debut":"2025-09-15 10:30:00","Fin":"2025-09-15 10:30:00"})"),
      "defect missing_field: Objet: required field is null");
  EXPECT_EQ(enrich_text(record_with(R"(, "Etat": "FAILED")")),
            "defect duplicate_field: Etat: appears more than once");
  // Unknown fields may repeat: nobody reads them.
  EXPECT_EQ(reason_of(record_with(R"(, "x": 1, "x": 2)")), "accepted");
}

// Keys are read in place unless they hold an escape: an escaped key means the same field, a key
// with a bad escape or a control character is not JSON, in the record or in an unknown value.
TEST(EnricherTest, ReadsKeysWithEscapesAsTheirText) {
  const auto without_id = [](std::string text) {
    const auto at = text.find(R"("id":")");
    return text.erase(at, 6 + 32);
  };
  EXPECT_EQ(without_id(enrich_text(record_with(R"(, "Zon\u0065": "1-Raw")"))),
            without_id(enrich_text(record_with(R"(, "Zone": "1-Raw")"))));
  EXPECT_EQ(enrich_text(record_with(R"(, "Z\u006fne": "a", "Zone": "b")")),
            "defect duplicate_field: Zone: appears more than once");
  EXPECT_EQ(reason_of(record_with(R"(, "Zo\"ne": "a")")), "accepted");  // unknown
  EXPECT_EQ(reason_of(record_with(R"(, "Zo\xne": "a")")), "invalid_json");
  EXPECT_EQ(reason_of(record_with(", \"Zo\x01ne\": \"a\"")), "invalid_json");
  EXPECT_EQ(reason_of(record_with(R"(, "x": {"a\u00e9\"": 1, "b\q": 2})")), "invalid_json");
  EXPECT_EQ(reason_of(record_with(R"(, "x": {"a\u00e9\"": 1, "b": 2})")), "accepted");
  EXPECT_EQ(reason_of(R"({"Sour\ce": "Zoho"})"), "invalid_json");
}

// Numbers are written as std::to_chars writes them, shortest round trip (an exponent beyond 15
// digits), whichever way the enricher gets there: durations of every millisecond up to 20 s and
// every microsecond up to 20 ms, random ones with up to three or six decimals up to 10^9 and
// beyond, and random doubles.
TEST(EnricherTest, WritesNumbersAsToChars) {
  const auto reference = [](double value) {
    char buf[32];
    auto result = std::to_chars(buf, buf + sizeof buf, value);
    const std::string_view text(buf, static_cast<std::size_t>(result.ptr - buf));
    if (text.size() > 15 && text.find_first_of(".e") == std::string_view::npos) {
      result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    }
    return std::string(buf, result.ptr);
  };
  Enricher enricher({});
  std::string out;
  const auto written = [&](double value) {
    char number[40];
    const auto end = std::to_chars(number, number + sizeof number, value).ptr;
    const std::string raw = record_with(R"(, "Duree secondes": )" + std::string(number, end));
    auto facts = enricher.enrich(raw, 0, origin(), out);
    if (!facts) return "defect " + facts.error().message;
    constexpr std::string_view kField = R"("duree_secondes":)";
    const auto at = out.find(kField) + kField.size();
    return out.substr(at, out.find(',', at) - at);
  };
  std::vector<double> values = {
      0.0,    0.001,         0.0001,         0.01,         0.1,
      1,      10000,         100000,         120000,       1e8,
      1.23e8, 999999999.999, 999999999.99,   1e9,          1e9 + 0.5,
      5e-324, 8e9,           8999999999.999, 1234567890.5, 0.30000000000000004};
  for (int n = 0; n <= 20000; ++n) values.push_back(n / 1000.0);
  for (int n = 0; n <= 20000; ++n) values.push_back(n / 1e6);
  std::mt19937_64 random(20261206);
  for (int i = 0; i < 30000; ++i) {
    values.push_back(static_cast<double>(random() % 1'000'000'000'000) / 1000.0);
    values.push_back(static_cast<double>(random() % 100'000) / 100.0);
    values.push_back(static_cast<double>(random() % 1'000'000'000) / 1e6);
    values.push_back(static_cast<double>(random() % 1'000'000'000'000'000) / 1e6);
    values.push_back(static_cast<double>(random() % 9'000'000'000'000) / 1000.0);
    double bits_value = 0;
    const std::uint64_t bits = random() & 0x7FEF'FFFF'FFFF'FFFF;  // finite, positive
    std::memcpy(&bits_value, &bits, sizeof bits_value);
    if (bits_value < 9e9) values.push_back(bits_value);
  }
  for (const double value : values) {
    ASSERT_EQ(written(value), reference(value)) << value;
  }
}

TEST(EnricherTest, ReasonsAreDeclaredOnce) {
  const auto reasons = enrich_defect_reasons();
  const std::set<std::string_view> unique(reasons.begin(), reasons.end());
  EXPECT_EQ(unique.size(), reasons.size());
  EXPECT_EQ(reasons.size(), 13u);
}

TEST(EnricherTest, WritesProcessedAtOfEachRecord) {
  Enricher enricher({});
  std::string out;
  RecordOrigin o = origin();
  ASSERT_TRUE(enricher.enrich(kBriefRecord, 0, o, out).has_value());
  EXPECT_THAT(out, HasSubstr(R"("processed_at":"2025-09-15T12:00:00.000Z")"));
  o.processed_at += std::chrono::milliseconds{1500};
  o.execution_id = "";
  ASSERT_TRUE(enricher.enrich(kBriefRecord, 0, o, out).has_value());
  EXPECT_THAT(out, HasSubstr(R"("execution_id":null,"processed_at":"2025-09-15T12:00:01.500Z")"));
}

TEST(EnricherTest, AllocatesNothingOnceWarm) {
  loggen::Generator generator({.seed = 7, .runs = 500, .target_record_bytes = 500});
  std::vector<std::string> records;
  std::string line;
  while (generator.next(line)) {
    line.append(simdjson::SIMDJSON_PADDING, ' ');
    records.push_back(line);
    line.clear();
  }
  Enricher enricher({});
  std::string out;
  const RecordOrigin o = origin();
  const auto pass = [&](bool in_place) {
    std::size_t accepted = 0;
    for (const std::string& record : records) {
      const std::string_view raw(record.data(), record.size() - simdjson::SIMDJSON_PADDING);
      auto facts = enricher.enrich(raw, in_place ? simdjson::SIMDJSON_PADDING : 0, o, out);
      accepted += facts.has_value() ? 1 : 0;
    }
    return accepted;
  };
  ASSERT_EQ(pass(true), records.size());
  ASSERT_EQ(pass(false), records.size());
  iw::testing::start_counting_allocations();
  const std::size_t in_place = pass(true);
  const std::size_t copied = pass(false);
  const std::size_t allocations = iw::testing::stop_counting_allocations();
  EXPECT_EQ(in_place + copied, 2 * records.size());
  EXPECT_EQ(allocations, 0u);
}

// The control for the test above: the counter must see allocations, or "0" would prove nothing.
TEST(AllocCounterTest, SeesAllocationsInThisBinary) {
  iw::testing::start_counting_allocations();
  std::vector<int>* volatile escaped = new std::vector<int>(100);
  delete escaped;
  EXPECT_GE(iw::testing::stop_counting_allocations(), 2u);
}

}  // namespace
}  // namespace iw::events
