#include "iw/alerting/evaluator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "iw/base/time_format.h"

namespace iw::alerting {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// 2025-09-21T08:00:00Z, a round instant to count from.
const Instant kT0{std::chrono::sys_days{std::chrono::year{2025} / 9 / 21} + std::chrono::hours(8)};

Rule failed_runs(Millis window, Comparison op, double threshold) {
  return {.alert = "Failures",
          .kind = RuleKind::kFailedRuns,
          .group_by = GroupBy::kSourceObjet,
          .window = window,
          .comparison = op,
          .threshold = threshold,
          .labels = {{"severity", "critical"}}};
}

Run run(std::string_view source, std::string_view objet, Etat etat, Instant end,
        double duration = 1) {
  return {.source = source, .objet = objet, .etat = etat, .end = end, .duration_seconds = duration};
}

// A transition as text, so a whole timeline compares in one assertion with a readable diff.
std::string describe(const Transition& t) {
  // The source first, then the key's other labels (objet, resource).
  std::string labels;
  for (const auto& [name, value] : *t.alert.labels) {
    if (name == "source") labels = value;
  }
  for (const auto& [name, value] : *t.alert.labels) {
    if (name == "alertname" || name == "severity" || name == "source") continue;
    labels += "," + value;
  }
  return std::string(state_name(t.from)) + "->" + std::string(state_name(t.to)) + " " +
         t.alert.rule->alert + "{" + labels + "} at " + base::format_rfc3339_millis(t.at);
}

std::vector<std::string> describe(const std::vector<Transition>& transitions) {
  std::vector<std::string> out;
  for (const Transition& t : transitions) out.push_back(describe(t));
  return out;
}

std::string at(Instant t) { return base::format_rfc3339_millis(t); }

TEST(EvaluatorTest, FailureFiresAtItsEndAndResolvesExactlyOneWindowLater) {
  Evaluator evaluator({failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1)});
  const Instant failure = kT0 + minutes(35) + Millis(2154);
  ASSERT_EQ(evaluator.add(run("Zoho", "deals", Etat::kSuccess, kT0)),
            Evaluator::Admission::kAccepted);
  ASSERT_EQ(evaluator.add(run("Zoho", "deals", Etat::kFailed, failure)),
            Evaluator::Admission::kAccepted);
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(60), out);
  EXPECT_THAT(
      describe(out),
      testing::ElementsAre("inactive->firing Failures{Zoho,deals} at " + at(failure),
                           "firing->inactive Failures{Zoho,deals} at " + at(failure + minutes(5))));
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].fired_at, failure);
  EXPECT_EQ(out[1].fired_at, failure);  // a resolve carries its episode's startsAt
  EXPECT_DOUBLE_EQ(out[0].value, 1);
}

TEST(EvaluatorTest, ARunLeavingAsAnotherEntersIsNoChange) {
  // Failures exactly one window apart: at 08:05 one leaves as the other enters.
  Evaluator evaluator({failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1)});
  evaluator.add(run("Zoho", "contacts", Etat::kFailed, kT0));
  evaluator.add(run("Zoho", "contacts", Etat::kFailed, kT0 + minutes(5)));
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(30), out);
  EXPECT_THAT(
      describe(out),
      testing::ElementsAre("inactive->firing Failures{Zoho,contacts} at " + at(kT0),
                           "firing->inactive Failures{Zoho,contacts} at " + at(kT0 + minutes(10))));
}

TEST(EvaluatorTest, ThresholdIsStrictWhenTheRuleSaysSo) {
  // "> 3 in 10 min": three failures never fire, a fourth does.
  Evaluator evaluator({failed_runs(minutes(10), Comparison::kGreater, 3)});
  for (int i = 0; i < 3; ++i) {
    evaluator.add(run("Efficy", "leads", Etat::kFailed, kT0 + minutes(3 * i)));
  }
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(8), out);
  EXPECT_TRUE(out.empty());
  evaluator.add(run("Efficy", "leads", Etat::kFailed, kT0 + minutes(9)));
  evaluator.advance_to(kT0 + minutes(30), out);
  EXPECT_THAT(
      describe(out),
      testing::ElementsAre("inactive->firing Failures{Efficy,leads} at " + at(kT0 + minutes(9)),
                           // The first failure (08:00) leaves at 08:10: three left.
                           "firing->inactive Failures{Efficy,leads} at " + at(kT0 + minutes(10))));
}

TEST(EvaluatorTest, RunsOutOfOrderWithinTheBufferGiveTheInOrderResult) {
  const auto transitions = [](const std::vector<alerting::Run>& runs) {
    Evaluator evaluator({failed_runs(minutes(10), Comparison::kGreater, 1)});
    for (const alerting::Run& r : runs)
      EXPECT_EQ(evaluator.add(r), Evaluator::Admission::kAccepted);
    std::vector<Transition> out;
    evaluator.advance_to(kT0 + minutes(60), out);
    return describe(out);
  };
  const alerting::Run a = run("Zoho", "deals", Etat::kFailed, kT0 + minutes(1));
  const alerting::Run b = run("Zoho", "deals", Etat::kSuccess, kT0 + minutes(2));
  const alerting::Run c = run("Zoho", "deals", Etat::kFailed, kT0 + minutes(3));
  const auto in_order = transitions({a, b, c});
  ASSERT_EQ(in_order.size(), 2U);
  EXPECT_EQ(transitions({c, a, b}), in_order);
  EXPECT_EQ(transitions({b, c, a}), in_order);
}

// As a poll delivers them: each of 12 partitions (more than the evaluator's FIFO lanes, so
// its heap takes some) in τ order, the partitions interleaved in batches of uneven size, some
// runs of different partitions at the same instant. The transitions are those of the runs fed
// in τ order.
TEST(EvaluatorTest, PartitionsInterleavedInBatchesGiveTheInOrderResult) {
  constexpr int kPartitions = 12;
  const std::vector<std::string> sources = {"Zoho", "PowerBI", "Efficy", "SharePoint"};
  std::vector<std::vector<alerting::Run>> partitions(kPartitions);
  std::vector<alerting::Run> sorted;
  for (int i = 0; i < 1200; ++i) {
    const int p = (i * 7) % kPartitions;
    // Every third instant is shared by two consecutive runs (of different partitions).
    const Instant end = kT0 + seconds(20) * (i - i / 3);
    const alerting::Run r = run(sources[static_cast<std::size_t>(p) % sources.size()], "deals",
                                i % 37 == 0 ? Etat::kFailed : Etat::kSuccess, end);
    partitions[static_cast<std::size_t>(p)].push_back(r);
    sorted.push_back(r);
  }
  std::vector<alerting::Run> interleaved;
  std::vector<std::size_t> next(kPartitions, 0);
  for (std::size_t round = 0; interleaved.size() < sorted.size(); ++round) {
    for (std::size_t p = 0; p < kPartitions; ++p) {
      const std::size_t batch = 1 + (round * 5 + p * 3) % 17;
      for (std::size_t k = 0; k < batch && next[p] < partitions[p].size(); ++k) {
        interleaved.push_back(partitions[p][next[p]++]);
      }
    }
  }
  const auto transitions = [](const std::vector<alerting::Run>& runs) {
    Evaluator evaluator({failed_runs(minutes(2), Comparison::kGreaterOrEqual, 1)});
    std::vector<Transition> out;
    for (const alerting::Run& r : runs) {
      EXPECT_EQ(evaluator.add(r), Evaluator::Admission::kAccepted);
    }
    evaluator.advance_to(kT0 + std::chrono::hours(12), out);
    return describe(out);
  };
  const auto in_order = transitions(sorted);
  ASSERT_GT(in_order.size(), 20U);
  EXPECT_EQ(transitions(interleaved), in_order);
}

TEST(EvaluatorTest, ARunAtOrBeforeTheEvaluatedInstantIsLateAndNotFoldedIn) {
  Evaluator evaluator({failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1)});
  std::vector<Transition> out;
  evaluator.advance_to(kT0, out);
  EXPECT_EQ(evaluator.now(), kT0);
  EXPECT_EQ(evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0)), Evaluator::Admission::kLate);
  EXPECT_EQ(evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0 - minutes(1))),
            Evaluator::Admission::kLate);
  evaluator.advance_to(kT0 + minutes(30), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0 + minutes(30) + Millis(1))),
            Evaluator::Admission::kAccepted);
}

// A producer's resend: the same raw record again, with the same event.id. It counts once,
// whether the copy comes before or after the clock reached it, for as long as a window could
// hold it; after that a copy is late like any old run.
TEST(EvaluatorTest, ACopyOfARunWithTheSameIdCountsOnce) {
  Evaluator evaluator({failed_runs(minutes(5), Comparison::kGreaterOrEqual, 2)});
  alerting::Run failure = run("Zoho", "deals", Etat::kFailed, kT0 + minutes(1));
  failure.id = "0123456789abcdef0123456789abcdef";
  ASSERT_EQ(evaluator.add(failure), Evaluator::Admission::kAccepted);
  EXPECT_EQ(evaluator.add(failure), Evaluator::Admission::kDuplicate);  // still buffered
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(2), out);
  EXPECT_EQ(evaluator.add(failure), Evaluator::Admission::kDuplicate);  // evaluated already
  // Runs without an id are never taken for copies.
  alerting::Run anonymous = run("Zoho", "deals", Etat::kSuccess, kT0 + minutes(3));
  EXPECT_EQ(evaluator.add(anonymous), Evaluator::Admission::kAccepted);
  EXPECT_EQ(evaluator.add(anonymous), Evaluator::Admission::kAccepted);
  evaluator.advance_to(kT0 + minutes(20), out);
  EXPECT_THAT(out, testing::IsEmpty());  // one failure, never two
  // The window (5 min) has passed the run: its id is forgotten, and a copy is late.
  EXPECT_EQ(evaluator.remembered_ids(), 0U);
  EXPECT_EQ(evaluator.add(failure), Evaluator::Admission::kLate);
}

TEST(EvaluatorTest, SourcesAndObjetsAreKeptApart) {
  Evaluator evaluator({failed_runs(minutes(10), Comparison::kGreater, 1)});
  // One failure each for two objets of Zoho and for the same objet of another source: no key
  // reaches two.
  evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0 + minutes(1)));
  evaluator.add(run("Zoho", "leads", Etat::kFailed, kT0 + minutes(2)));
  evaluator.add(run("Efficy", "deals", Etat::kFailed, kT0 + minutes(3)));
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(30), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(evaluator.key_count(), 5U);  // two sources, three (source, objet) pairs
}

TEST(EvaluatorTest, PendingForItsForDurationThenFiring) {
  Rule rule = failed_runs(minutes(10), Comparison::kGreaterOrEqual, 1);
  rule.for_duration = minutes(2);
  Evaluator evaluator({rule});
  evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0));
  // A second episode that ends before `for` runs out: pending, then inactive, never firing.
  evaluator.add(run("Zoho", "leads", Etat::kFailed, kT0 + minutes(30)));
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(20), out);
  EXPECT_THAT(
      describe(out),
      testing::ElementsAre("inactive->pending Failures{Zoho,deals} at " + at(kT0),
                           "pending->firing Failures{Zoho,deals} at " + at(kT0 + minutes(2)),
                           "firing->inactive Failures{Zoho,deals} at " + at(kT0 + minutes(10))));
  EXPECT_EQ(out[1].fired_at, kT0 + minutes(2));
  EXPECT_EQ(out[1].active_at, kT0);

  Rule long_for = failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1);
  long_for.for_duration = minutes(5);  // the condition ends exactly when `for` runs out
  Evaluator strict({long_for});
  strict.add(run("Zoho", "deals", Etat::kFailed, kT0));
  std::vector<Transition> never;
  strict.advance_to(kT0 + minutes(20), never);
  EXPECT_THAT(
      describe(never),
      testing::ElementsAre("inactive->pending Failures{Zoho,deals} at " + at(kT0),
                           "pending->inactive Failures{Zoho,deals} at " + at(kT0 + minutes(5))));
}

TEST(EvaluatorTest, KeepFiringForHoldsAnEpisodeOpenAndBridgesAShortGap) {
  Rule rule = failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1);
  rule.keep_firing_for = minutes(3);
  Evaluator evaluator({rule});
  evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0));
  // False from 08:05 to 08:07, true again 08:07..08:12: within keep_firing_for, one episode.
  evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0 + minutes(7)));
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(60), out);
  EXPECT_THAT(
      describe(out),
      testing::ElementsAre("inactive->firing Failures{Zoho,deals} at " + at(kT0),
                           "firing->inactive Failures{Zoho,deals} at " + at(kT0 + minutes(15))));
  EXPECT_EQ(out[1].fired_at, kT0);
}

TEST(EvaluatorTest, FailureRatioNeedsItsMinimumRunsAndIsStrict) {
  const Rule ratio{.alert = "Rate",
                   .kind = RuleKind::kFailureRatio,
                   .group_by = GroupBy::kSource,
                   .window = minutes(15),
                   .comparison = Comparison::kGreater,
                   .threshold = 0.02,
                   .min_runs = 10};
  const auto timeline = [&](int runs, int spacing_seconds) {
    Evaluator evaluator({ratio});
    for (int i = 0; i < runs; ++i) {
      evaluator.add(run("PowerBI", "x", i == runs / 2 ? Etat::kFailed : Etat::kSuccess,
                        kT0 + seconds(spacing_seconds * i)));
    }
    std::vector<Transition> out;
    evaluator.advance_to(kT0 + std::chrono::hours(3), out);
    return out;
  };
  EXPECT_TRUE(timeline(25, 100).empty());  // 9 runs in 15 min: under the minimum
  EXPECT_TRUE(timeline(100, 18).empty());  // 1/50 = 2 %, not above 2 %
  const auto fires = timeline(35, 60);     // 1/15
  ASSERT_EQ(fires.size(), 2U);
  EXPECT_EQ(fires[0].at, kT0 + minutes(17));
  EXPECT_NEAR(fires[0].value, 1.0 / 15, 1e-12);
  EXPECT_EQ(fires[1].at, kT0 + minutes(32));
}

TEST(EvaluatorTest, PercentileIsNearestRankOverTheWindow) {
  const Rule p95{.alert = "Latency",
                 .kind = RuleKind::kPercentile,
                 .group_by = GroupBy::kSource,
                 .window = minutes(60),
                 .comparison = Comparison::kGreater,
                 .threshold = 60,
                 .field = RunField::kDurationSeconds,
                 .quantile = 0.95};
  // A run every 3 minutes: 20 in a full window, p95 is the 19th smallest.
  const auto timeline = [&](std::vector<std::pair<int, double>> outliers) {
    Evaluator evaluator({p95});
    for (int k = 0; k <= 60; ++k) {
      double duration = 5;
      for (const auto& [index, value] : outliers) {
        if (index == k) duration = value;
      }
      evaluator.add(run("Zoho", "x", Etat::kSuccess, kT0 + minutes(3 * k), duration));
    }
    std::vector<Transition> out;
    evaluator.advance_to(kT0 + minutes(3 * 60 - 1), out);
    return describe(out);
  };
  EXPECT_THAT(timeline({{30, 120}}), testing::IsEmpty());           // one outlier: 20th value
  EXPECT_THAT(timeline({{30, 60}, {32, 60}}), testing::IsEmpty());  // 19th is 60, not > 60
  EXPECT_THAT(timeline({{30, 90}, {33, 100}}),
              testing::ElementsAre("inactive->firing Latency{Zoho} at " + at(kT0 + minutes(99)),
                                   // The 90 s run (τ = 09:30) leaves at 10:30: one outlier left.
                                   "firing->inactive Latency{Zoho} at " + at(kT0 + minutes(150))));
}

TEST(EvaluatorTest, PercentileIgnoresRunsWithoutTheField) {
  const Rule memory{.alert = "Memory",
                    .kind = RuleKind::kPercentile,
                    .group_by = GroupBy::kSource,
                    .window = minutes(60),
                    .comparison = Comparison::kGreater,
                    .threshold = 100,
                    .field = RunField::kMemoryBytes,
                    .quantile = 0.95};
  Evaluator evaluator({memory});
  alerting::Run with = run("Zoho", "x", Etat::kSuccess, kT0);
  with.memory_bytes = 200;
  evaluator.add(with);
  for (int i = 1; i < 30; ++i) evaluator.add(run("Zoho", "x", Etat::kSuccess, kT0 + minutes(i)));
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(30), out);
  // The 29 runs without memory do not dilute the window: the one value is the p95.
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].at, kT0);
  EXPECT_DOUBLE_EQ(out[0].value, 200);
}

TEST(EvaluatorTest, SilenceFiresOneWindowAfterTheLastRunAndResolvesOnTheNext) {
  const Rule silent{.alert = "Silent",
                    .kind = RuleKind::kNoRuns,
                    .group_by = GroupBy::kSource,
                    .window = minutes(75)};
  Evaluator evaluator({silent}, {.configured_sources = {"Never"}});
  evaluator.add(run("Zoho", "x", Etat::kSuccess, kT0));
  // Exactly 75 minutes later: never silent.
  evaluator.add(run("Zoho", "x", Etat::kSuccess, kT0 + minutes(75)));
  evaluator.add(run("Zoho", "x", Etat::kSuccess, kT0 + minutes(200)));
  std::vector<Transition> out;
  evaluator.advance_to(kT0 - minutes(10), out);  // start-up: "Never" is known from here
  evaluator.advance_to(kT0 + minutes(300), out);
  EXPECT_THAT(describe(out),
              testing::ElementsAre("inactive->firing Silent{Never} at " + at(kT0 + minutes(65)),
                                   "inactive->firing Silent{Zoho} at " + at(kT0 + minutes(150)),
                                   "firing->inactive Silent{Zoho} at " + at(kT0 + minutes(200)),
                                   "inactive->firing Silent{Zoho} at " + at(kT0 + minutes(275))));
  EXPECT_DOUBLE_EQ(out[1].value, 75 * 60);  // seconds since the last run
}

TEST(EvaluatorTest, ChangesAtOneInstantComeInRuleThenFingerprintOrder) {
  const auto transitions = [](bool reversed) {
    Evaluator evaluator({failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1)});
    std::vector<alerting::Run> runs;
    for (const char* objet : {"a", "b", "c", "d", "e"}) {
      runs.push_back(run("Zoho", objet, Etat::kFailed, kT0));
    }
    if (reversed) std::reverse(runs.begin(), runs.end());
    for (const alerting::Run& r : runs) evaluator.add(r);
    std::vector<Transition> out;
    evaluator.advance_to(kT0 + minutes(1), out);
    return describe(out);
  };
  EXPECT_EQ(transitions(false).size(), 5U);
  EXPECT_EQ(transitions(false), transitions(true));
}

TEST(EvaluatorTest, RestoreKeepsTheOriginalStartsAt) {
  Evaluator evaluator({failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1)});
  evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0));
  std::vector<Transition> out;
  evaluator.advance_to(kT0 + minutes(1), out);
  ASSERT_EQ(out.size(), 1U);
  const std::uint64_t fingerprint = out[0].alert.fingerprint;
  EXPECT_FALSE(evaluator.restore_fired_at(fingerprint + 1, kT0 - minutes(30)));
  EXPECT_TRUE(evaluator.restore_fired_at(fingerprint, kT0 - minutes(30)));
  std::vector<ActiveAlert> active;
  evaluator.for_each_active([&](const ActiveAlert& a) { active.push_back(a); });
  ASSERT_EQ(active.size(), 1U);
  EXPECT_EQ(active[0].fired_at, kT0 - minutes(30));
  out.clear();
  evaluator.advance_to(kT0 + minutes(10), out);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].fired_at, kT0 - minutes(30));
}

TEST(EvaluatorTest, LabelsAreAlertnameRuleLabelsAndKeySorted) {
  Rule rule = failed_runs(minutes(5), Comparison::kGreaterOrEqual, 1);
  rule.labels = {{"resource", "memory"}, {"severity", "warning"}};
  Evaluator evaluator({rule});
  evaluator.add(run("Zoho", "deals", Etat::kFailed, kT0));
  std::vector<Transition> out;
  evaluator.advance_to(kT0, out);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(*out[0].alert.labels, (Labels{{"alertname", "Failures"},
                                          {"objet", "deals"},
                                          {"resource", "memory"},
                                          {"severity", "warning"},
                                          {"source", "Zoho"}}));
}

}  // namespace
}  // namespace iw::alerting
