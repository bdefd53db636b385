#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "iw/base/time_format.h"
#include "record_parse.h"
#include "rule_reference.h"
#include "sample_data.h"

namespace iw::loggen {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// data/ holds golden files of the builder: rewritten only on purpose, with
// IW_REGENERATE_DATA=1, and otherwise compared byte for byte.
TEST(DataFiles, MatchTheBuilder) {
  const fs::path dir = IW_DATA_DIR;
  const char* regenerate = std::getenv("IW_REGENERATE_DATA");
  for (const auto& file : sample::build_all()) {
    const fs::path path = dir / file.path;
    if (regenerate != nullptr && std::string_view(regenerate) == "1") {
      fs::create_directories(path.parent_path());
      std::ofstream(path, std::ios::binary) << file.content;
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " missing; run loggen_test with IW_REGENERATE_DATA=1";
    const std::string actual{std::istreambuf_iterator<char>(in), {}};
    const auto mismatch =
        std::mismatch(actual.begin(), actual.end(), file.content.begin(), file.content.end());
    EXPECT_TRUE(actual == file.content)
        << path << " differs from the builder at byte " << (mismatch.first - actual.begin())
        << "; rerun loggen_test with IW_REGENERATE_DATA=1 if the change is intended";
  }
}

TEST(LogsJson, IsAnArrayWithExactlyTheDocumentedBadRecords) {
  const std::string text = sample::build_logs_json();
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  ASSERT_EQ(parser.parse(text).get_array().get(array), simdjson::SUCCESS);
  EXPECT_EQ(array.size(), sample::kLogsRecords);
  // One record per line between the brackets.
  EXPECT_EQ(lines_of(text).size(), sample::kLogsRecords + 2);

  std::set<std::int64_t> bad;
  std::set<std::int64_t> unusual;
  std::map<std::string, std::set<std::string>> objets;
  std::size_t failed = 0;
  std::int64_t expected_id = 1;
  std::optional<base::TimePoint> first_fin, last_fin;
  for (simdjson::dom::element element : array) {
    std::int64_t id = 0;
    ASSERT_EQ(element["ID"].get_int64().get(id), simdjson::SUCCESS);
    EXPECT_EQ(id, expected_id++);
    if (const auto why = testing::brief_violation(element)) {
      bad.insert(id);
      continue;
    }
    const auto strict = testing::parse_strict(element);
    if (!strict || (strict->etat != "SUCCESS" && strict->etat != "FAILED")) {
      unusual.insert(id);
      continue;
    }
    objets[strict->source].insert(strict->objet);
    failed += strict->etat == "FAILED";
    if (!first_fin) first_fin = strict->fin;
    last_fin = strict->fin;
  }
  std::set<std::int64_t> documented_bad, documented_unusual;
  for (const auto& s : sample::bad_records()) documented_bad.insert(s.id);
  for (const auto& s : sample::unusual_records()) documented_unusual.insert(s.id);
  EXPECT_EQ(bad, documented_bad);
  EXPECT_EQ(unusual, documented_unusual);

  EXPECT_EQ(objets.size(), 5u);
  for (const auto& [source, names] : objets) EXPECT_EQ(names.size(), 10u) << source;
  const double rate = static_cast<double>(failed) / static_cast<double>(sample::kLogsRecords);
  EXPECT_NEAR(rate, 0.03, 0.01);
  EXPECT_GE(*last_fin - *first_fin, std::chrono::hours{71});
}

std::vector<testing::RuleRun> runs_of(const std::string& ndjson, std::string* source) {
  std::vector<testing::RuleRun> runs;
  std::optional<base::TimePoint> previous;
  for (const auto& line : lines_of(ndjson)) {
    const auto r = testing::parse_strict(line);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error()) << ": " << line;
    if (!r) continue;
    EXPECT_TRUE(r->etat == "SUCCESS" || r->etat == "FAILED");
    EXPECT_EQ(r->description.empty(), r->etat == "SUCCESS") << line;
    // Scenario durations are whole milliseconds, so Fin = Debut + duration exactly.
    EXPECT_EQ(r->fin - r->debut,
              std::chrono::milliseconds{static_cast<std::int64_t>(r->duree_secondes * 1000 + 0.5)})
        << line;
    EXPECT_EQ(r->fin - r->debut, std::chrono::duration<double>(r->duree_secondes)) << line;
    if (previous) {
      EXPECT_LE(*previous, r->fin) << "out of end-time order: " << line;
    }
    previous = r->fin;
    if (source->empty()) *source = r->source;
    EXPECT_EQ(r->source, *source) << "one source per scenario";
    runs.push_back(
        {.source = r->source,
         .objet = r->objet,
         .failed = r->etat == "FAILED",
         .tau_ms = std::chrono::duration_cast<std::chrono::milliseconds>(r->fin.time_since_epoch())
                       .count(),
         .duration_s = r->duree_secondes,
         .cpu_s = r->cpu_time,
         .memory_bytes = r->memory_used});
  }
  return runs;
}

std::string rfc3339(std::int64_t ms) {
  return base::format_rfc3339_millis(base::TimePoint{std::chrono::milliseconds{ms}});
}

TEST(Scenarios, AreSmallValidTimelinesOfDistinctSources) {
  std::set<std::string> sources;
  for (const auto& file : sample::build_scenarios()) {
    std::string source;
    const auto runs = runs_of(file.content, &source);
    EXPECT_GT(runs.size(), 5u) << file.path;
    EXPECT_LE(runs.size(), 200u) << file.path;
    EXPECT_TRUE(sources.insert(source).second) << source << " reused in " << file.path;
  }
  EXPECT_EQ(sources.size(), 6u);
}

TEST(Scenarios, ReferenceEvaluationMatchesTheHandComputedTable) {
  std::vector<std::string> actual, expected;
  for (const auto& file : sample::build_scenarios()) {
    std::string source;
    const auto runs = runs_of(file.content, &source);
    const std::string name = fs::path(file.path).filename().string();
    for (const auto& alert : testing::evaluate_rules(runs)) {
      actual.push_back(name + " " + alert.alertname + " " + alert.source + " " + alert.key_name +
                       "=" + alert.key_value + " " + rfc3339(alert.starts_ms) + " -> " +
                       (alert.resolved_ms ? rfc3339(*alert.resolved_ms) : "null"));
    }
  }
  for (const auto& alert : sample::expected_alerts()) {
    expected.push_back(std::string(alert.scenario) + " " + std::string(alert.alertname) + " " +
                       std::string(alert.source) + " " + std::string(alert.key_name) + "=" +
                       std::string(alert.key_value) + " " + std::string(alert.starts_at) + " -> " +
                       (alert.resolved_at.empty() ? "null" : std::string(alert.resolved_at)));
  }
  std::sort(actual.begin(), actual.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(actual, expected);
}

// The reference evaluator itself, on the edges the scenarios rely on.
TEST(RuleReference, WindowsAreHalfOpenAndP95IsNearestRank) {
  const std::int64_t t0 = 1'757'932'200'000;
  const std::int64_t minute = 60'000;
  {
    const std::vector<testing::RuleRun> runs = {
        {.source = "S", .objet = "o", .failed = true, .tau_ms = t0}};
    const auto alerts = testing::evaluate_rules(runs);
    ASSERT_EQ(alerts.size(), 2u);  // failure detected, and silent at the end
    EXPECT_EQ(alerts[0].alertname, "IngestionFailureDetected");
    EXPECT_EQ(alerts[0].starts_ms, t0);
    EXPECT_EQ(alerts[0].resolved_ms, t0 + 5 * minute);
    EXPECT_EQ(alerts[1].alertname, "IngestionSourceSilent");
    EXPECT_EQ(alerts[1].starts_ms, t0 + 75 * minute);
  }
  {
    // A run a minute: with n runs in the window, p95 is the ceil(0.95 n)-th smallest, so
    // with 23 runs one slow run is not enough and two are.
    std::vector<testing::RuleRun> runs;
    for (int k = 0; k < 25; ++k) {
      runs.push_back({.source = "S",
                      .objet = "o",
                      .tau_ms = t0 + k * minute,
                      .duration_s = k == 21 || k == 22 ? 61.0 : 1.0});
    }
    auto alerts = testing::evaluate_rules(runs);
    ASSERT_GE(alerts.size(), 1u);
    EXPECT_EQ(alerts[0].alertname, "IngestionLatencyP95Degraded");
    EXPECT_EQ(alerts[0].starts_ms, t0 + 22 * minute);
    runs[21].duration_s = 1.0;
    alerts = testing::evaluate_rules(runs);
    ASSERT_GE(alerts.size(), 1u);
    // Once the input has ended the window shrinks; at 19 runs (k = 6..24) p95 is the maximum.
    EXPECT_EQ(alerts[0].alertname, "IngestionLatencyP95Degraded");
    EXPECT_EQ(alerts[0].starts_ms, t0 + 65 * minute);
  }
}

}  // namespace
}  // namespace iw::loggen
