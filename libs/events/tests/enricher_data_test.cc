// The sample data judged as data/README.md says: exactly the ten bad records of logs.json are
// rejected, the fourteen unusual ones are read as documented, and every scenario is accepted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "iw/base/time_format.h"
#include "iw/events/enricher.h"

namespace iw::events {
namespace {

namespace fs = std::filesystem;

const fs::path kData = IW_DATA_DIR;

// logs.json is an array with one record a line (data/README.md); NDJSON files are one a line.
std::vector<std::string> records_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> records;
  std::string line;
  while (std::getline(in, line)) {
    if (line == "[" || line == "]" || line.empty()) continue;
    if (line.ends_with(',')) line.pop_back();
    records.push_back(line);
  }
  return records;
}

std::int64_t id_of(const std::string& record) {
  simdjson::dom::parser parser;
  std::int64_t id = -1;
  EXPECT_EQ(parser.parse(record)["ID"].get(id), simdjson::SUCCESS) << record;
  return id;
}

std::string utc(base::TimePoint t) { return base::format_rfc3339_millis(t); }

// The facts worth checking for one accepted record, copied out of the Enricher.
struct Seen {
  std::string etat, start, end;
  double duration = 0;
  std::optional<double> cpu;
  std::optional<std::int64_t> memory;
};

TEST(EnricherDataTest, LogsJsonHasExactlyTheTenDocumentedBadRecords) {
  const std::vector<std::string> records = records_of(kData / "logs.json");
  ASSERT_EQ(records.size(), 3600u);
  Enricher enricher({});
  std::string out;
  const RecordOrigin origin{.topic = "ingestion-logs"};
  std::map<std::int64_t, std::string> rejected;
  std::map<std::int64_t, Seen> seen;
  std::map<std::string, std::size_t> etats;
  for (const std::string& record : records) {
    auto facts = enricher.enrich(record, 0, origin, out);
    const std::int64_t id = id_of(record);
    if (!facts) {
      rejected[id] = std::string(facts.error().reason) + ": " + facts.error().message;
      continue;
    }
    ++etats[std::string(facts->etat)];
    seen[id] = Seen{std::string(facts->etat), utc(facts->start),  utc(facts->end),
                    facts->duration_seconds,  facts->cpu_seconds, facts->memory_bytes};
  }
  const std::map<std::int64_t, std::string> expected = {
      {137, "wrong_type: Debut: expected a timestamp string, got a number"},
      {412, "missing_field: Source: required field is missing"},
      {745,
       "end_before_start: Fin: 2025-09-15T14:52:30.205Z is before Debut 2025-09-15T14:54:30.205Z"},
      {1003, "negative_duration: Duree secondes: -3.2 is negative"},
      {1290, "missing_field: Objet: required field is null"},
      {1618, "missing_field: Etat: required field is missing"},
      {1954, "invalid_timestamp: Debut: not a timestamp (expected YYYY-MM-DD): '16/09/2025 15:08'"},
      {2267, "wrong_type: Source: expected a non-empty string, got a number"},
      {2589,
       "invalid_timestamp: Debut: not a timestamp (time out of range): "
       "'2025-09-17 25:61:00.000'"},
      {2901, "negative_duration: Duree secondes: -0.8 is negative"},
  };
  EXPECT_EQ(rejected, expected);
  EXPECT_EQ(seen.size(), 3590u);
  EXPECT_EQ(etats, (std::map<std::string, std::size_t>{
                       {"SUCCESS", 3455}, {"FAILED", 134}, {"RUNNING", 1}}));

  // The unusual ones, as data/README.md lists them.
  EXPECT_EQ(seen[60].etat, "FAILED");  // ERROR
  EXPECT_EQ(seen[300].etat, "RUNNING");
  EXPECT_EQ(seen[520].duration, 1.5);  // "1,5"
  EXPECT_EQ(seen[520].end, "2025-09-15T10:33:41.729Z");
  EXPECT_EQ(seen[888].etat, "SUCCESS");                    // WARNING
  EXPECT_EQ(seen[950].start, "2025-09-15T18:58:41.837Z");  // +02:00
  EXPECT_EQ(seen[950].end, "2025-09-15T18:58:47.857Z");
  EXPECT_EQ(seen[1100].etat, "FAILED");    // failed
  EXPECT_EQ(seen[1500].etat, "FAILED");    // ERROR
  EXPECT_EQ(seen[1750].memory, 44281856);  // "44281856"
  EXPECT_EQ(seen[2000].etat, "SUCCESS");   // Success
  EXPECT_EQ(seen[2100].start, "2025-09-16T17:58:42.000Z");
  EXPECT_EQ(seen[2400].etat, "SUCCESS");                  // WARNING
  EXPECT_EQ(seen[2750].cpu, 0.97);                        // "0,97"
  EXPECT_EQ(seen[3100].end, "2025-09-17T13:59:03.272Z");  // Debut + 60.621776 s
  EXPECT_EQ(seen[3100].etat, "FAILED");
  EXPECT_EQ(seen[3300].duration, 1.416);  // Fin - Debut
}

TEST(EnricherDataTest, EveryScenarioRecordIsAccepted) {
  Enricher enricher({});
  std::string out;
  std::size_t total = 0;
  for (const auto& entry : fs::directory_iterator(kData / "scenarios")) {
    if (entry.path().extension() != ".ndjson") continue;
    for (const std::string& record : records_of(entry.path())) {
      auto facts = enricher.enrich(record, 0, RecordOrigin{.topic = "t"}, out);
      EXPECT_TRUE(facts.has_value())
          << entry.path().filename() << ": " << facts.error().message << "\n"
          << record;
      ++total;
    }
  }
  EXPECT_GT(total, 100u);
}

}  // namespace
}  // namespace iw::events
