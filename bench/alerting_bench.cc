// Events per second through the in-stream rules (libs/alerting) with 10 000 active keys, the
// state they hold per key, and how far the p95 the rules act on is from an exact nearest-rank
// p95 computed independently. A CPU benchmark of pure code: no broker, so no ratio against
// librdkafka; the bar is >= 1 M events/s on one core.
//
//   build/bench/alerting_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "iw/alerting/evaluator.h"
#include "iw/alerting/rule.h"

namespace {

using iw::alerting::Etat;
using iw::alerting::Evaluator;
using iw::alerting::Instant;
using iw::alerting::Millis;
using iw::alerting::Run;
using iw::alerting::Transition;

constexpr int kSources = 1000;
constexpr int kObjetsPerSource = 10;  // 10 000 (source, objet) keys, 1 000 source keys
constexpr std::size_t kRuns = 2'000'000;

struct Workload {
  std::vector<std::string> sources;
  std::vector<std::string> objets;
  std::vector<Run> runs;  // views into the strings above, in arrival order
};

// Each source runs every ~3 minutes of event time (20 runs in a 60-minute window, like the
// scenarios), its objets in turn; 3 % fail; durations, CPU and memory mostly small with a
// heavy tail so the percentile rules fire now and then. Arrival is in end order with a few
// runs up to two minutes late (within the allowed lateness).
const Workload& workload() {
  static const Workload kWorkload = [] {
    Workload w;
    for (int s = 0; s < kSources; ++s) w.sources.push_back("source-" + std::to_string(s));
    for (int o = 0; o < kObjetsPerSource; ++o) w.objets.push_back("objet-" + std::to_string(o));
    std::mt19937_64 random(20250915);
    std::lognormal_distribution<double> duration(1.5, 1.0);
    std::uniform_real_distribution<double> unit(0, 1);
    const Instant start{std::chrono::sys_days{std::chrono::year{2025} / 9 / 15}};
    // kSources runs per 3 minutes.
    const double spacing_ms = 180'000.0 / kSources;
    w.runs.reserve(kRuns);
    for (std::size_t i = 0; i < kRuns; ++i) {
      const std::size_t source = i % kSources;
      const std::size_t objet = (i / kSources) % kObjetsPerSource;
      Instant end = start + Millis(static_cast<std::int64_t>(static_cast<double>(i) * spacing_ms));
      if (unit(random) < 0.01) end -= Millis(static_cast<std::int64_t>(unit(random) * 120'000));
      const double d = duration(random);
      w.runs.push_back({.source = w.sources[source],
                        .objet = w.objets[objet],
                        .etat = unit(random) < 0.03 ? Etat::kFailed : Etat::kSuccess,
                        .end = end,
                        .duration_seconds = d,
                        .cpu_seconds = d * 0.2,
                        .memory_bytes = 40.0 * 1024 * 1024 * (1 + d / 10)});
    }
    return w;
  }();
  return kWorkload;
}

std::vector<iw::alerting::Rule> default_rules() {
  auto rules = iw::alerting::parse_rules(iw::alerting::default_rules_yaml(), "built-in");
  if (!rules) std::abort();
  return std::move(*rules);
}

// add() every run and advance the clock to (latest end − 5 min) every 256 runs, as the service
// does between polls.
void BM_EvaluateDefaultRules(benchmark::State& state) {
  const Workload& w = workload();
  const auto rules = default_rules();
  std::size_t transitions = 0;
  std::size_t bytes_per_key = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Evaluator evaluator(rules);
    std::vector<Transition> out;
    out.reserve(1 << 16);
    state.ResumeTiming();
    Instant latest = Instant::min();
    for (std::size_t i = 0; i < w.runs.size(); ++i) {
      evaluator.add(w.runs[i]);
      latest = std::max(latest, w.runs[i].end);
      if (i % 256 == 255) {
        evaluator.advance_to(latest - std::chrono::minutes(5), out);
        transitions += out.size();
        out.clear();
      }
    }
    state.PauseTiming();
    bytes_per_key = evaluator.memory_bytes() / evaluator.key_count();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.runs.size()));
  state.counters["keys"] = kSources * kObjetsPerSource;
  state.counters["bytes_per_key"] = static_cast<double>(bytes_per_key);
  state.counters["transitions"] = benchmark::Counter(static_cast<double>(transitions) /
                                                     static_cast<double>(state.iterations()));
}
BENCHMARK(BM_EvaluateDefaultRules)->Unit(benchmark::kMillisecond)->UseRealTime();

// The value a percentile rule reports at each of its transitions, next to the nearest-rank
// p95 of the same window computed from the runs themselves (sort, take ⌈0.95·n⌉-th). Reports
// the largest relative difference; the evaluator keeps the window's values, so 0 is expected.
void BM_PercentileErrorAgainstExact(benchmark::State& state) {
  const Workload& w = workload();
  const auto rules = default_rules();
  // The first 200 000 runs, in end order so the exact windows are easy to cut.
  std::vector<Run> runs(w.runs.begin(), w.runs.begin() + 200'000);
  std::stable_sort(runs.begin(), runs.end(),
                   [](const Run& a, const Run& b) { return a.end < b.end; });
  double worst = 0;
  std::size_t compared = 0;
  for (auto _ : state) {
    Evaluator evaluator(rules);
    std::vector<Transition> out;
    for (const Run& run : runs) evaluator.add(run);
    evaluator.advance_to(runs.back().end, out);
    std::map<std::string_view, std::vector<const Run*>> by_source;
    for (const Run& run : runs) by_source[run.source].push_back(&run);
    for (const Transition& t : out) {
      if (t.alert.rule->kind != iw::alerting::RuleKind::kPercentile) continue;
      if (t.to != iw::alerting::AlertState::kFiring) continue;  // value at the firing instant
      std::string_view source;
      for (const auto& [name, value] : *t.alert.labels) {
        if (name == "source") source = value;
      }
      std::vector<double> values;
      for (const Run* run : by_source[source]) {
        if (run->end > t.at - t.alert.rule->window && run->end <= t.at) {
          switch (t.alert.rule->field) {
            case iw::alerting::RunField::kDurationSeconds:
              values.push_back(run->duration_seconds);
              break;
            case iw::alerting::RunField::kCpuSeconds:
              values.push_back(*run->cpu_seconds);
              break;
            case iw::alerting::RunField::kMemoryBytes:
              values.push_back(*run->memory_bytes);
              break;
          }
        }
      }
      std::sort(values.begin(), values.end());
      const auto rank =
          static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(values.size()) - 1e-9));
      const double exact = values[std::max<std::size_t>(rank, 1) - 1];
      worst = std::max(worst, std::abs(t.value - exact) / exact);
      ++compared;
    }
  }
  state.counters["percentile_transitions"] = static_cast<double>(compared);
  state.counters["max_relative_error"] = worst;
}
BENCHMARK(BM_PercentileErrorAgainstExact)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
