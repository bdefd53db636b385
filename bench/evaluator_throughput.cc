// ns and allocations per record for the alert evaluator's work on the enriched stream, without
// Kafka: what its stage processor (services/alert-evaluator) does per record — read the run
// (EnrichedRunReader), the future-timestamp check, the evaluation clock, the evaluator's add —
// and per poll of 256 records — the clock, advance_to, and the alert events of the transitions
// (event_for, the JSON line, the history, what Alertmanager's notifier is handed) — on 100 000
// realistic records (iw::loggen, ~500 bytes raw, hourly cycles) with the default rules; and
// again on records in one-minute cycles, as bench/pipeline_bench.py and bench/evaluator_process
// send them (BM_EvaluatorPerRecordMinuteCycles: fuller windows, more alert events). Next to it,
// the baseline: simdjson On-Demand walking every field of the first set's bytes, copied into a
// padded buffer as the reader does; the ratio of the two is the price of the
// rules over the parse. A CPU benchmark of pure code: no broker.
//
//   build/bench/evaluator_throughput [--benchmark_filter=...] [--benchmark_repetitions=3]
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstring>
#include <string>
#include <vector>

#include "iw/alerting/alert_event.h"
#include "iw/alerting/emission.h"
#include "iw/alerting/enriched_run.h"
#include "iw/alerting/evaluation_clock.h"
#include "iw/alerting/evaluator.h"
#include "iw/alerting/rule.h"
#include "iw/events/enricher.h"
#include "iw/events/future_timestamp.h"
#include "iw/loggen/generator.h"
#include "iw/testing/alloc_counter.h"
#include "pure_bench.h"

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kRecords = 100'000;
constexpr std::size_t kPollBatch = 256;  // stage::StageOptions::poll_batch
std::size_t g_firing_notified = 0;       // firing alerts handed to the notifier, last pass

// The enricher's output for kRecords records of `options`, as the evaluator reads them.
std::vector<std::string> enrich_all(const iw::loggen::GeneratorOptions& options) {
  iw::loggen::Generator generator(options);
  iw::events::Enricher enricher({});
  const iw::events::RecordOrigin& origin = iw::bench::kOrigin;
  std::vector<std::string> out;
  out.reserve(kRecords);
  std::string raw;
  std::string line;
  while (generator.next(raw)) {
    if (enricher.enrich(raw, 0, origin, line)) out.push_back(line);
    raw.clear();
  }
  return out;
}

// Hourly cycles (loggen's default step): a percentile window holds ~10 runs per source.
const std::vector<std::string>& enriched_records() {
  static const std::vector<std::string> kEnriched = enrich_all(
      {.seed = 20250915, .runs = kRecords, .failure_rate = 0.03, .target_record_bytes = 500});
  return kEnriched;
}

// One-minute cycles, as bench/pipeline_bench.py and bench/evaluator_process send them: ~600
// runs per source in a 60-minute window, and an alert event per ~7 records.
const std::vector<std::string>& minute_cycle_records() {
  static const std::vector<std::string> kEnriched = enrich_all(
      {.seed = 23, .step = std::chrono::minutes{1}, .runs = kRecords, .target_record_bytes = 500});
  return kEnriched;
}

std::vector<iw::alerting::Rule> default_rules() {
  auto rules = iw::alerting::parse_rules(iw::alerting::default_rules_yaml(), "built-in");
  if (!rules) std::abort();
  return std::move(*rules);
}

// One pass over every record as the evaluator's processor handles it; returns the alert events
// written.
std::size_t evaluate_all(const std::vector<std::string>& records,
                         const std::vector<iw::alerting::Rule>& rules) {
  iw::alerting::EnrichedRunReader reader;
  iw::alerting::Evaluator evaluator(rules);
  iw::alerting::EvaluationClock clock({});
  // With an Alertmanager, as the local stack runs it: every poll that wrote an event hands the
  // notifier the alerts firing now.
  iw::alerting::AlertEmission emission({.warm_up = iw::alerting::Millis(0), .notify = true});
  emission.start_replay({}, /*whole_input=*/true);
  clock.assign(0);
  std::vector<iw::alerting::Transition> transitions;
  std::string line;
  std::size_t written = 0;
  std::size_t firing = 0;
  // Records written "now": the wall clock is far past every run.
  const iw::base::TimePoint wall{std::chrono::sys_days{std::chrono::year{2030} / 1 / 1}};
  iw::base::MonotonicTime mono{};
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto run = reader.read(records[i]);
    if (!run) std::abort();
    if (iw::events::future_timestamp_problem(run->end, wall, 5min)) std::abort();
    clock.observe(0, run->source, run->end, mono);
    emission.observed(run->end);
    benchmark::DoNotOptimize(evaluator.add(*run));
    if (i % kPollBatch != kPollBatch - 1 && i + 1 != records.size()) continue;
    mono += 1ms;
    const auto t = clock.at(wall, mono);
    if (!t || *t <= evaluator.now()) continue;
    transitions.clear();
    evaluator.advance_to(*t, transitions);
    for (const iw::alerting::Transition& transition : transitions) {
      const auto emitted = emission.event_for(transition, evaluator);
      if (!emitted) continue;
      line.clear();
      iw::alerting::append_alert_event(line, emitted->event);
      benchmark::DoNotOptimize(line.data());
      emission.written(emitted->event);
      ++written;
    }
    emission.advanced(evaluator);
    if (auto notification = emission.notification(evaluator, mono)) {
      firing += notification->firing.size();
      benchmark::DoNotOptimize(notification);
    }
  }
  g_firing_notified = firing;
  return written;
}

void evaluator_per_record(benchmark::State& state, const std::vector<std::string>& records) {
  const auto rules = default_rules();
  std::size_t events = 0;
  for (auto _ : state) events = evaluate_all(records, rules);
  iw::testing::start_counting_allocations();
  evaluate_all(records, rules);
  const std::size_t allocations = iw::testing::stop_counting_allocations();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records.size()));
  state.counters["ns_per_record"] = benchmark::Counter(
      static_cast<double>(state.iterations() * records.size()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
  state.counters["allocs_per_record"] =
      static_cast<double>(allocations) / static_cast<double>(records.size());
  state.counters["alert_events"] = static_cast<double>(events);
  state.counters["notified_firing"] = static_cast<double>(g_firing_notified);
}
void BM_EvaluatorPerRecord(benchmark::State& state) {
  evaluator_per_record(state, enriched_records());
}
BENCHMARK(BM_EvaluatorPerRecord)->Unit(benchmark::kMillisecond);

void BM_EvaluatorPerRecordMinuteCycles(benchmark::State& state) {
  evaluator_per_record(state, minute_cycle_records());
}
BENCHMARK(BM_EvaluatorPerRecordMinuteCycles)->Unit(benchmark::kMillisecond);

// The baseline: every key unescaped and every value read by type, the records copied into a
// padded buffer first (a Kafka payload has no readable padding).
void BM_BaselineOnDemandWalk(benchmark::State& state) {
  const auto& records = enriched_records();
  simdjson::ondemand::parser parser;
  std::string padded;
  double sum = 0;
  for (auto _ : state) {
    for (const std::string& record : records) {
      padded.resize(record.size() + simdjson::SIMDJSON_PADDING);
      std::memcpy(padded.data(), record.data(), record.size());
      std::memset(padded.data() + record.size(), 0, simdjson::SIMDJSON_PADDING);
      if (!iw::bench::walk_every_field(parser, padded.data(), record.size(), padded.size(), sum)) {
        std::abort();
      }
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records.size()));
  state.counters["ns_per_record"] = benchmark::Counter(
      static_cast<double>(state.iterations() * records.size()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_BaselineOnDemandWalk)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
