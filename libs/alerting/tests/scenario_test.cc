// The six default rules on data/scenarios/*.ndjson find exactly the alert episodes of
// data/scenarios/expected.yaml (computed independently, by hand and by a naive reference
// evaluation in libs/loggen's tests), at their exact instants, and nothing else.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "iw/alerting/evaluator.h"
#include "iw/alerting/rule.h"
#include "iw/base/time_format.h"
#include "iw/events/enricher.h"

namespace iw::alerting {
namespace {

struct Episode {
  std::string scenario, alertname, labels, starts_at, resolved_at;
  friend auto operator<=>(const Episode&, const Episode&) = default;
};

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "source=X,objet=Y" without alertname and severity, names sorted.
std::string key_of(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (name == "alertname" || name == "severity") continue;
    out += (out.empty() ? "" : ",") + name + "=" + value;
  }
  return out;
}

std::set<Episode> evaluate(const std::string& scenario, const std::string& ndjson) {
  auto rules = parse_rules(default_rules_yaml(), "built-in");
  EXPECT_TRUE(rules.has_value());
  Evaluator evaluator(std::move(*rules));
  events::Enricher enricher({});
  std::string enriched;
  std::istringstream lines(ndjson);
  std::string line;
  Instant last = Instant::min();
  std::vector<Transition> transitions;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto facts = enricher.enrich(line, 0, {.topic = "t"}, enriched);
    EXPECT_TRUE(facts.has_value()) << line;
    if (!facts) continue;
    const alerting::Run run{
        .source = facts->source,
        .objet = facts->objet,
        .etat = etat_from_name(facts->etat).value_or(Etat::kRunning),
        .end = std::chrono::floor<Millis>(facts->end),
        .duration_seconds = facts->duration_seconds,
        .cpu_seconds = facts->cpu_seconds,
        .memory_bytes = facts->memory_bytes
                            ? std::optional<double>(static_cast<double>(*facts->memory_bytes))
                            : std::nullopt};
    EXPECT_EQ(evaluator.add(run), Evaluator::Admission::kAccepted);
    last = std::max(last, run.end);
    evaluator.advance_to(last - std::chrono::minutes(5), transitions);
  }
  // Far enough past the end for the last silence to begin (75 min after the last run).
  evaluator.advance_to(last + std::chrono::hours(3), transitions);

  std::set<Episode> episodes;
  std::map<std::uint64_t, Episode> open;
  for (const Transition& t : transitions) {
    if (t.to == AlertState::kFiring) {
      open[t.alert.fingerprint] = {scenario, t.alert.rule->alert, key_of(*t.alert.labels),
                                   base::format_rfc3339_millis(t.fired_at), "null"};
    } else if (t.from == AlertState::kFiring) {
      Episode episode = open.at(t.alert.fingerprint);
      open.erase(t.alert.fingerprint);
      episode.resolved_at = base::format_rfc3339_millis(t.at);
      episodes.insert(episode);
    }
  }
  for (const auto& [fingerprint, episode] : open) episodes.insert(episode);
  return episodes;
}

TEST(ScenarioTest, EveryScenarioYieldsExactlyItsExpectedEpisodes) {
  const std::filesystem::path dir = std::filesystem::path(IW_DATA_DIR) / "scenarios";
  const YAML::Node expected_yaml = YAML::LoadFile((dir / "expected.yaml").string());
  std::map<std::string, std::set<Episode>> expected;
  for (const YAML::Node& alert : expected_yaml["alerts"]) {
    Labels labels;
    for (const auto& label : alert["labels"]) {
      labels.emplace_back(label.first.Scalar(), label.second.Scalar());
    }
    std::sort(labels.begin(), labels.end());
    const std::string scenario = alert["scenario"].Scalar();
    expected[scenario].insert(
        {scenario, alert["alertname"].Scalar(), key_of(labels), alert["starts_at"].Scalar(),
         alert["resolved_at"].IsNull() ? "null" : alert["resolved_at"].Scalar()});
  }
  ASSERT_EQ(expected.size(), 6U);
  for (const auto& [scenario, episodes] : expected) {
    SCOPED_TRACE(scenario);
    const std::set<Episode> found = evaluate(scenario, read(dir / scenario));
    EXPECT_EQ(found, episodes);
    for (const Episode& e : found) {
      if (!episodes.contains(e)) {
        ADD_FAILURE() << "unexpected " << e.alertname << "{" << e.labels << "} " << e.starts_at
                      << " .. " << e.resolved_at;
      }
    }
    for (const Episode& e : episodes) {
      if (!found.contains(e)) {
        ADD_FAILURE() << "missing " << e.alertname << "{" << e.labels << "} " << e.starts_at
                      << " .. " << e.resolved_at;
      }
    }
  }
}

}  // namespace
}  // namespace iw::alerting
