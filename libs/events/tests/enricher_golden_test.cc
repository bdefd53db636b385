// Golden files of the enricher: tests/golden/enricher/NAME.input.json is a raw record (one
// trailing newline, if any, is not part of it); NAME.output.json is the enriched record plus a
// newline, or NAME.defect.txt the defect's reason and message on two lines. Names start with
// "ok-" or "defect-<reason>-". IW_REGENERATE_GOLDEN=1 rewrites the expected files from what the
// enricher does now; review the diff. See tests/golden/README.md.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <vector>

#include "iw/events/enricher.h"

namespace iw::events {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = IW_GOLDEN_DIR;
constexpr std::string_view kInputSuffix = ".input.json";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    const std::string file = entry.path().filename().string();
    if (file.size() > kInputSuffix.size() && file.ends_with(kInputSuffix)) {
      names.push_back(file.substr(0, file.size() - kInputSuffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool regenerating() {
  const char* value = std::getenv("IW_REGENERATE_GOLDEN");
  return value != nullptr && std::string_view(value) == "1";
}

// Fixed, so that the expected files never change by themselves.
EnrichOptions golden_options() {
  return EnrichOptions{
      .time_zone = TimeZone::utc(),
      .high_memory_mb = 150,
      .high_cpu_seconds = 60,
      .max_record_bytes = 4096,  // so that defect-oversized_record stays a small file
      .enricher_version = "0.1.0",
  };
}

RecordOrigin golden_origin() {
  return RecordOrigin{
      .topic = "ingestion-logs",
      .partition = 3,
      .offset = 42,
      .execution_id = "0f8c2d1e-golden",
      .processed_at = base::TimePoint{std::chrono::seconds{1'757'937'600}},  // 12:00:00Z
  };
}

// The keys of `object` in document order.
std::vector<std::string> keys_of(simdjson::dom::object object) {
  std::vector<std::string> keys;
  for (auto field : object) keys.emplace_back(field.key);
  return keys;
}

std::vector<std::string> keys_at(simdjson::dom::element root, std::string_view pointer) {
  simdjson::dom::object object;
  if (root.at_pointer(pointer).get_object().get(object) != simdjson::SUCCESS) return {"<none>"};
  return keys_of(object);
}

// The schema, field by field and in order (docs/ENRICHED_RECORD.md).
void expect_schema(std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(line).get(root), simdjson::SUCCESS) << line;
  using Keys = std::vector<std::string>;
  EXPECT_EQ(keys_at(root, ""),
            (Keys{"@timestamp", "@version", "event", "source", "objet", "etat", "etat_source",
                  "performance", "labels", "metrics", "description", "pipeline"}));
  EXPECT_EQ(keys_at(root, "/event"), (Keys{"id", "dataset", "kind", "outcome", "start", "end"}));
  EXPECT_EQ(keys_at(root, "/source"), (Keys{"name", "type"}));
  EXPECT_EQ(keys_at(root, "/objet"), (Keys{"id", "name", "transformation"}));
  EXPECT_EQ(keys_at(root, "/performance"),
            (Keys{"duree_secondes", "cpu_time_sec", "memory_used_bytes", "memory_used_mb"}));
  Keys labels = keys_at(root, "/labels");
  ASSERT_GE(labels.size(), 2u);
  EXPECT_EQ(Keys(labels.begin(), labels.begin() + 2), (Keys{"etat", "source"}));
  for (std::size_t i = 2; i < labels.size(); ++i) {
    EXPECT_TRUE(labels[i] == "zone" || labels[i] == "entreprise") << labels[i];
  }
  EXPECT_EQ(keys_at(root, "/metrics"),
            (Keys{"is_failed", "is_success", "high_memory_usage", "high_cpu_usage"}));
  EXPECT_EQ(keys_at(root, "/pipeline"), (Keys{"execution_id", "processed_at", "enricher", "raw"}));
  EXPECT_EQ(keys_at(root, "/pipeline/raw"), (Keys{"topic", "partition", "offset"}));
  std::string_view timestamp, start, id, etat, label_etat;
  ASSERT_EQ(root["@timestamp"].get(timestamp), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/event/start").get(start), simdjson::SUCCESS);
  EXPECT_EQ(timestamp, start);
  ASSERT_EQ(root.at_pointer("/event/id").get(id), simdjson::SUCCESS);
  EXPECT_EQ(id.size(), 32u);
  ASSERT_EQ(root["etat"].get(etat), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/labels/etat").get(label_etat), simdjson::SUCCESS);
  EXPECT_EQ(etat, label_etat);
}

class EnricherGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EnricherGoldenTest, MatchesItsExpectedFile) {
  const std::string& name = GetParam();
  std::string raw = read_file(kDir / (name + std::string(kInputSuffix)));
  if (raw.ends_with('\n')) raw.pop_back();

  Enricher enricher(golden_options());
  std::string out;
  const auto facts = enricher.enrich(raw, 0, golden_origin(), out);
  const fs::path output_file = kDir / (name + ".output.json");
  const fs::path defect_file = kDir / (name + ".defect.txt");
  const fs::path& expected_file = facts ? output_file : defect_file;
  const std::string actual =
      facts ? out + "\n" : std::string(facts.error().reason) + "\n" + facts.error().message + "\n";

  // The name says what the case is about: a regeneration cannot flip it silently.
  if (name.starts_with("ok-")) {
    EXPECT_TRUE(facts.has_value()) << name << ": " << facts.error().message;
  } else {
    ASSERT_TRUE(name.starts_with("defect-")) << name << ": name must start with ok- or defect-";
    const std::string reason = name.substr(7, name.find('-', 7) - 7);
    ASSERT_FALSE(facts.has_value()) << name << " was accepted: " << out;
    EXPECT_EQ(facts.error().reason, reason) << facts.error().message;
  }

  if (regenerating()) {
    write_file(expected_file, actual);
    fs::remove(facts ? defect_file : output_file);
  } else {
    EXPECT_FALSE(fs::exists(facts ? defect_file : output_file))
        << "stale expected file next to " << expected_file;
    ASSERT_TRUE(fs::exists(expected_file))
        << expected_file << " is missing; IW_REGENERATE_GOLDEN=1 writes it";
    EXPECT_EQ(actual, read_file(expected_file)) << "differs from " << expected_file;
  }
  if (facts) expect_schema(out);
}

INSTANTIATE_TEST_SUITE_P(Files, EnricherGoldenTest, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
                               '_');
                           return name;
                         });

TEST(EnricherGoldenFiles, CoverEveryDefectReasonAndHaveNoOrphans) {
  std::set<std::string> names;
  for (const std::string& name : case_names()) names.insert(name);
  for (const std::string_view reason : enrich_defect_reasons()) {
    const std::string prefix = "defect-" + std::string(reason) + "-";
    const bool covered = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
      return name.starts_with(prefix);
    });
    EXPECT_TRUE(covered) << "no golden input for defect " << reason;
  }
  for (const auto& entry : fs::directory_iterator(kDir)) {
    const std::string file = entry.path().filename().string();
    for (const std::string_view suffix : {".output.json", ".defect.txt"}) {
      if (file.ends_with(suffix)) {
        const std::string name = file.substr(0, file.size() - suffix.size());
        EXPECT_TRUE(names.contains(name)) << file << " has no " << name << kInputSuffix;
      }
    }
  }
}

}  // namespace
}  // namespace iw::events
