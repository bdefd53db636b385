// The evaluator's metrics under the source budget: alerts of sources beyond it are shown under
// source="_other", the series of sources without alerts for the idle timeout go.
#include "alert_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "iw/log/logger.h"

namespace iw::alert_evaluator {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::string exposition(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(AlertMetricsTest, AlertsOfSourcesOverTheBudgetAreShownUnderOtherAndIdleSourcesGo) {
  auto rules = alerting::parse_rules(alerting::default_rules_yaml(), "default");
  ASSERT_TRUE(rules.has_value());
  prometheus::Registry registry;
  base::FakeClock clock;
  log::MemorySink sink;
  log::Logger logger("test", sink);
  AlertMetrics metrics(registry, *rules, {.max_sources = 2, .idle_timeout = 1h}, clock, logger);
  alerting::Evaluator evaluator(*rules);

  const alerting::Instant t0{std::chrono::sys_days{std::chrono::year{2025} / 9 / 15}};
  const std::vector<std::string> sources = {"s0", "s1", "s2", "s3", "s4"};
  for (const std::string& source : sources) {
    ASSERT_EQ(evaluator.add({.source = source,
                             .objet = "deals",
                             .etat = alerting::Etat::kFailed,
                             .end = t0,
                             .duration_seconds = 1}),
              alerting::Evaluator::Admission::kAccepted);
  }
  std::vector<alerting::Transition> transitions;
  evaluator.advance_to(t0 + 1s, transitions);
  for (const auto& transition : transitions) metrics.count_transition(transition);
  metrics.update_active(evaluator);

  std::string text = exposition(registry);
  // Two sources (whichever came first) have series of their own; the three others one, counting
  // them.
  EXPECT_EQ(count(text, R"(objet="deals",severity="critical",source="s)"), 2u) << text;
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_alerts{alertname="IngestionFailureDetected",)"
                              R"(alertstate="firing",severity="critical",source="_other"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_cardinality_tracked{kind="source"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_cardinality_folded_records_total{kind="source"} 3)"));
  std::size_t logged = 0;
  for (const std::string& line : sink.lines()) logged += line.find("budget full") != line.npos;
  EXPECT_EQ(logged, 1u);

  // Resolved: the time to recover is observed per tracked source, and under _other.
  transitions.clear();
  evaluator.advance_to(t0 + 10min, transitions);
  for (const auto& transition : transitions) metrics.count_transition(transition);
  metrics.update_active(evaluator);
  text = exposition(registry);
  constexpr std::string_view kRecovered =
      R"(ingestwatch_alert_firing_duration_seconds_count{alertname="IngestionFailureDetected",)";
  EXPECT_EQ(count(text, std::string(kRecovered) + R"(source="s)"), 2u) << text;
  EXPECT_THAT(text, HasSubstr(std::string(kRecovered) + R"(source="_other"} 3)"));
  EXPECT_EQ(count(text, R"(ingestwatch_alerts{alertname="IngestionFailureDetected")"), 0u);

  // Two hours without an alert: the tracked sources' series go, _other stays.
  clock.advance(2h);
  metrics.update_active(evaluator);
  text = exposition(registry);
  EXPECT_EQ(count(text, R"(source="s)"), 0u) << text;
  EXPECT_THAT(text, HasSubstr(std::string(kRecovered) + R"(source="_other"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_cardinality_evicted_total{kind="source"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(ingestwatch_cardinality_tracked{kind="source"} 0)"));
}

}  // namespace
}  // namespace iw::alert_evaluator
