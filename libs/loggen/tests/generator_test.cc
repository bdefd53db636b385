#include "iw/loggen/generator.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "iw/testing/alloc_counter.h"
#include "record_parse.h"

namespace iw::loggen {
namespace {

using namespace std::chrono_literals;
using testing::parse_strict;
using testing::ParsedRecord;

std::vector<std::string> generate(GeneratorOptions options, std::size_t n) {
  Generator generator(options);
  std::vector<std::string> out;
  std::string line;
  for (std::size_t i = 0; i < n; ++i) {
    line.clear();
    if (!generator.next(line)) break;
    out.push_back(line);
  }
  return out;
}

std::vector<ParsedRecord> parse_all(const std::vector<std::string>& lines) {
  std::vector<ParsedRecord> out;
  for (const auto& line : lines) {
    auto parsed = parse_strict(line);
    EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error()) << ": " << line;
    if (parsed) out.push_back(std::move(*parsed));
  }
  return out;
}

TEST(Generator, CatalogueHasFiveSourcesOfTenObjects) {
  Generator generator({});
  std::map<std::string_view, std::set<std::string_view>> objets;
  for (const auto& job : generator.jobs()) objets[job.source].insert(job.objet);
  ASSERT_EQ(objets.size(), std::size(kSources));
  for (const auto source : kSources) EXPECT_EQ(objets[source].size(), 10u) << source;
}

TEST(Generator, EveryRecordHasTheBriefFieldsWithTheirTypes) {
  const auto records = parse_all(generate({.seed = 7}, 5000));
  ASSERT_EQ(records.size(), 5000u);
  const std::set<std::string_view> sources(std::begin(kSources), std::end(kSources));
  const std::set<std::string_view> zones = {"1-Raw", "2-Silver", "3-Gold"};
  for (const auto& r : records) {
    EXPECT_TRUE(sources.contains(r.source)) << r.source;
    EXPECT_TRUE(zones.contains(r.zone)) << r.zone;
    EXPECT_TRUE(r.entreprise == "akonovia" || r.entreprise == "veltys") << r.entreprise;
    EXPECT_TRUE(r.transformation.starts_with(r.source + "_")) << r.transformation;
    EXPECT_TRUE(r.etat == "SUCCESS" || r.etat == "FAILED") << r.etat;
    EXPECT_EQ(r.description.empty(), r.etat == "SUCCESS") << r.id;
    EXPECT_GE(r.duree_secondes, 0.05);
    EXPECT_LE(r.duree_secondes, 900.0);
    EXPECT_GT(r.memory_used, 0);
    EXPECT_EQ(r.memory_used % 4096, 0);
    EXPECT_GT(r.cpu_time, 0.0);
    // One process, mostly one busy thread: CPU time never exceeds wall time (plus rounding).
    EXPECT_LE(r.cpu_time, r.duree_secondes + 0.01) << r.id;
  }
}

TEST(Generator, FinIsDebutPlusTheDurationToTheMillisecond) {
  for (const auto& r : parse_all(generate({.seed = 11}, 3000))) {
    const auto exact = r.debut + std::chrono::microseconds{
                                     static_cast<std::int64_t>(r.duree_secondes * 1e6 + 0.5)};
    EXPECT_LE(r.fin, exact) << r.id;
    EXPECT_LT(exact - r.fin, 1ms) << r.id;
  }
}

TEST(Generator, RecordsComeInEndTimeOrderWithConsecutiveIds) {
  const auto records = parse_all(generate({.seed = 3, .first_id = 1000}, 4000));
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].id, 1000 + static_cast<std::int64_t>(i));
    if (i > 0) {
      EXPECT_LE(records[i - 1].fin, records[i].fin) << records[i].id;
    }
  }
}

TEST(Generator, EachPairRunsOncePerStepAtAStableMinute) {
  const GeneratorOptions options{.seed = 5, .step = 30min};
  const auto records = parse_all(generate(options, 50 * 20));
  std::map<std::pair<std::string, std::string>, std::map<std::int64_t, std::int64_t>> runs;
  for (const auto& r : records) {
    const auto since = r.debut - options.start;
    const auto cycle = since / options.step;
    const auto minute = std::chrono::floor<std::chrono::minutes>(since - cycle * options.step);
    auto& by_cycle = runs[std::pair{r.source, r.objet}];
    EXPECT_TRUE(by_cycle.emplace(cycle, minute.count()).second)
        << r.source << "/" << r.objet << " twice in cycle " << cycle;
  }
  ASSERT_EQ(runs.size(), 50u);
  for (const auto& [pair, by_cycle] : runs) {
    for (std::int64_t cycle = 0; cycle < 18; ++cycle) {
      ASSERT_TRUE(by_cycle.contains(cycle)) << pair.first << "/" << pair.second << " " << cycle;
      // Scheduled on a fixed minute; the start jitter is under a minute.
      EXPECT_EQ(by_cycle.at(cycle), by_cycle.at(0)) << pair.first << "/" << pair.second;
    }
  }
}

TEST(Generator, FailureRateIsWithinTolerance) {
  for (const double rate : {0.03, 0.2}) {
    const auto records = parse_all(generate({.seed = 42, .failure_rate = rate}, 10'000));
    std::size_t failed = 0;
    for (const auto& r : records) failed += r.etat == "FAILED";
    // Binomial standard deviation is under 0.4 % here; allow about four of them.
    EXPECT_NEAR(static_cast<double>(failed) / 10'000.0, rate, 0.015) << rate;
  }
  for (const auto& r : parse_all(generate({.failure_rate = 0.0}, 2000))) {
    EXPECT_EQ(r.etat, "SUCCESS");
  }
  for (const auto& r : parse_all(generate({.failure_rate = 1.0}, 2000))) {
    EXPECT_EQ(r.etat, "FAILED");
  }
}

TEST(Generator, FailureDescriptionsAreInFrenchAndEnglish) {
  std::set<std::string> descriptions;
  for (const auto& r : parse_all(generate({.seed = 9, .failure_rate = 0.5}, 2000))) {
    if (r.etat == "FAILED") descriptions.insert(r.description);
  }
  EXPECT_GE(descriptions.size(), 10u);
  EXPECT_TRUE(descriptions.contains("Erreur 401 : jeton expiré"));
  EXPECT_TRUE(descriptions.contains("HTTP 429 Too Many Requests from API"));
  EXPECT_TRUE(descriptions.contains("Timeout lors de l'appel à l'API"));
}

TEST(Generator, DurationsSpreadFromSecondsToMinutesPerSource) {
  std::map<std::string, std::vector<double>> by_source;
  for (const auto& r : parse_all(generate({.seed = 1, .failure_rate = 0.0}, 20'000))) {
    by_source[r.source].push_back(r.duree_secondes);
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  EXPECT_LT(median(by_source["PowerBI"]), median(by_source["Zoho"]));
  EXPECT_LT(median(by_source["Zoho"]), median(by_source["SharePoint"]));
  for (auto& [source, durations] : by_source) {
    std::sort(durations.begin(), durations.end());
    EXPECT_GT(durations.front(), 0.2) << source;
    EXPECT_GT(durations.back(), 3 * median(durations)) << source;  // a tail of slow runs
  }
  EXPECT_GT(by_source["SharePoint"].back(), 60.0);
}

TEST(Generator, SameOptionsGiveTheSameBytesAndAnotherSeedOthers) {
  const GeneratorOptions options{.seed = 123, .runs = 3000};
  const auto a = generate(options, 5000);
  const auto b = generate(options, 5000);
  ASSERT_EQ(a.size(), 3000u);
  EXPECT_EQ(a, b);
  auto other = options;
  other.seed = 124;
  const auto c = generate(other, 5000);
  ASSERT_EQ(c.size(), a.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == c[i];
  EXPECT_EQ(same, 0u);
}

TEST(Generator, StopsAfterRunsRecordsAndLeavesTheBufferAlone) {
  Generator generator({.runs = 2});
  std::string out;
  EXPECT_TRUE(generator.next(out));
  EXPECT_TRUE(generator.next(out));
  const std::string before = out;
  EXPECT_FALSE(generator.next(out));
  EXPECT_FALSE(generator.next_record().has_value());
  EXPECT_EQ(out, before);
  EXPECT_EQ(generator.produced(), 2u);
}

TEST(Generator, TargetRecordBytesPadsDescriptionToTheSize) {
  const auto lines = generate({.seed = 8, .failure_rate = 0.1, .target_record_bytes = 500}, 3000);
  const auto records = parse_all(lines);
  ASSERT_EQ(records.size(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(lines[i].size()), 500.0, 50.0) << lines[i];
    EXPECT_FALSE(records[i].description.empty());
  }
  // Failure descriptions survive the padding, in front of it.
  std::size_t failed = 0;
  for (const auto& r : records) {
    const bool padding_only = r.description.starts_with("Extraction OK");
    EXPECT_EQ(padding_only, r.etat == "SUCCESS") << r.description;
    failed += r.etat == "FAILED";
  }
  EXPECT_GT(failed, 0u);
  // Records already longer than the target are left alone.
  for (const auto& line : generate({.seed = 8, .target_record_bytes = 100}, 200)) {
    EXPECT_GT(line.size(), 100u);
    EXPECT_EQ(line.find("Extraction OK"), std::string::npos);
  }
}

TEST(Generator, AppendsToTheCallersBufferAndStopsAllocatingOnceWarm) {
  Generator generator({.seed = 2, .target_record_bytes = 500});
  std::string out = "keep|";
  ASSERT_TRUE(generator.next(out));
  EXPECT_TRUE(out.starts_with("keep|{\"ID\": 1, "));
  EXPECT_TRUE(out.ends_with("}"));

  out.reserve(4096);
  for (int i = 0; i < 200; ++i) {  // warm up: the pending queue reaches its working size
    out.clear();
    generator.next(out);
  }
  iw::testing::start_counting_allocations();
  for (int i = 0; i < 5000; ++i) {
    out.clear();
    generator.next(out);
  }
  EXPECT_EQ(iw::testing::stop_counting_allocations(), 0u);
}

}  // namespace
}  // namespace iw::loggen
