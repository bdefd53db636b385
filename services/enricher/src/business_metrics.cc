#include "business_metrics.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>

namespace iw::enricher {
namespace {

// Buckets around the rule thresholds (60 s p95 latency, 60 s CPU, 150 MB) so Prometheus's
// histogram_quantile() lands on the right side of them.
const prometheus::Histogram::BucketBoundaries kDurationBuckets = {
    0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600};
const prometheus::Histogram::BucketBoundaries kCpuBuckets = {0.1, 0.5, 1,  2,   5,   10,
                                                             20,  30,  60, 120, 300, 600};
constexpr double kMiB = 1024.0 * 1024.0;
const prometheus::Histogram::BucketBoundaries kMemoryBuckets = {
    16 * kMiB,  32 * kMiB,  64 * kMiB,  100 * kMiB,  128 * kMiB, 150 * kMiB,
    200 * kMiB, 256 * kMiB, 512 * kMiB, 1024 * kMiB, 2048 * kMiB};

// Keys of BusinessMetrics::resolved_ beyond which it is emptied between batches.
constexpr std::size_t kMaxResolved = 65536;

constexpr char kSeparator = '\x1f';  // cannot appear in a label value written by a person

constexpr std::array<std::string_view, 2> kKinds = {"source", "objet"};
constexpr std::size_t kSource = 0;
constexpr std::size_t kObjet = 1;

}  // namespace

BusinessMetrics::BusinessMetrics(prometheus::Registry& registry, BusinessMetricsOptions options,
                                 const base::Clock& clock, const log::Logger& logger)
    : runs_(prometheus::BuildCounter()
                .Name("ingestion_runs_total")
                .Help("Connector runs enriched, by source, objet and canonical etat.")
                .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("ingestion_run_duration_seconds")
                    .Help("Run durations (Duree secondes).")
                    .Register(registry)),
      cpu_(prometheus::BuildHistogram()
               .Name("ingestion_run_cpu_seconds")
               .Help("CPU time used by runs (cpu_time).")
               .Register(registry)),
      memory_(prometheus::BuildHistogram()
                  .Name("ingestion_run_memory_bytes")
                  .Help("Memory used by runs (memory_used).")
                  .Register(registry)),
      last_run_(prometheus::BuildGauge()
                    .Name("ingestion_last_run_timestamp_seconds")
                    .Help("Event time (end) of the latest run seen, per source.")
                    .Register(registry)),
      cardinality_(registry, kKinds),
      sources_({.max_tracked = options.max_sources, .idle_after = options.idle_timeout}, clock),
      objets_({.max_tracked = options.max_objets, .idle_after = options.idle_timeout}, clock),
      clock_(clock),
      logger_(logger) {}

void BusinessMetrics::log_fold(std::string_view kind, std::size_t limit, std::string_view value) {
  logger_.warn("cardinality budget full: further values are counted under _other",
               {{"kind", std::string(kind)},
                {"budget", static_cast<std::int64_t>(limit)},
                {"first_folded", std::string(value)}});
}

prometheus::Counter* BusinessMetrics::runs_for(std::string_view source, std::string_view objet,
                                               std::string_view etat) {
  key_.assign(source).push_back(kSeparator);
  key_.append(objet).push_back(kSeparator);
  key_.append(etat);
  if (auto it = runs_cache_.find(std::string_view(key_)); it != runs_cache_.end()) {
    return it->second;
  }
  auto* counter = &runs_.Add({{"source", std::string(source)},
                              {"objet", std::string(objet)},
                              {"etat", std::string(etat)}});
  runs_cache_.emplace(key_, counter);
  return counter;
}

void BusinessMetrics::StagedHistogram::observe(double value) {
  // prometheus::Histogram::Observe's bucket: the first bound at or above the value (+Inf for
  // none, NaN included).
  std::size_t bucket = 0;
  while (bucket < bounds->size() && !((*bounds)[bucket] >= value)) ++bucket;
  buckets[bucket] += 1;
  sum += value;
  any = true;
}

void BusinessMetrics::StagedHistogram::apply(prometheus::Histogram& histogram) const {
  if (any) histogram.ObserveMultiple(buckets, sum);
}

void BusinessMetrics::StagedHistogram::reset() {
  std::ranges::fill(buckets, 0.0);
  sum = 0;
  any = false;
}

BusinessMetrics::SourceSeries::SourceSeries(prometheus::Histogram* duration_series,
                                            prometheus::Histogram* cpu_series,
                                            prometheus::Histogram* memory_series,
                                            prometheus::Gauge* last_run_series)
    : duration(duration_series),
      cpu(cpu_series),
      memory(memory_series),
      last_run(last_run_series),
      staged_duration(kDurationBuckets),
      staged_cpu(kCpuBuckets),
      staged_memory(kMemoryBuckets),
      staged_end(-std::numeric_limits<double>::infinity()) {}

BusinessMetrics::SourceSeries* BusinessMetrics::series_for(std::string_view source) {
  if (auto it = series_cache_.find(source); it != series_cache_.end()) return &it->second;
  const prometheus::Labels labels = {{"source", std::string(source)}};
  return &series_cache_
              .try_emplace(std::string(source), &duration_.Add(labels, kDurationBuckets),
                           &cpu_.Add(labels, kCpuBuckets), &memory_.Add(labels, kMemoryBuckets),
                           &last_run_.Add(labels))
              .first->second;
}

void BusinessMetrics::open_batch() {
  // Idle values go before new ones are admitted, so a new source takes a freed place. Only at
  // a batch's first run: nothing staged points at a series then.
  evict_idle();
  if (resolved_.size() > kMaxResolved) resolved_.clear();
  now_ = clock_.monotonic_now();
}

BusinessMetrics::Resolved& BusinessMetrics::resolve(const events::RunFacts& run) {
  run_key_.assign(run.source).push_back(kSeparator);
  run_key_.append(run.objet).push_back(kSeparator);
  run_key_.append(run.etat);
  auto it = resolved_.find(std::string_view(run_key_));
  if (it == resolved_.end()) it = resolved_.try_emplace(run_key_).first;
  Resolved& resolved = it->second;
  if (resolved.staged != 0) return resolved;  // admitted at its first run of this batch
  // Its first run of the batch: admitted to the budgets now (the batch's later runs of it would
  // be admitted at the same time, with the same answer).
  const cardinality::Budget::Admission source = sources_.admit(run.source, now_);
  if (source.first_fold) log_fold("source", sources_.options().max_tracked, run.source);
  bool objet_folded = false;
  std::string_view objet = cardinality::kOther;
  if (!source.folded) {
    pair_.assign(run.source).push_back(kSeparator);
    pair_.append(run.objet);
    const cardinality::Budget::Admission admitted = objets_.admit(pair_, now_);
    if (admitted.first_fold) log_fold("objet", objets_.options().max_tracked, run.objet);
    objet_folded = admitted.folded;
    if (!objet_folded) objet = run.objet;
  }
  resolved.runs = runs_for(source.label, objet, run.etat);
  resolved.series = series_for(source.label);
  resolved.source_folded = source.folded;
  resolved.objet_folded = objet_folded;
  return resolved;
}

void BusinessMetrics::stage(const events::RunFacts& run) {
  if (staged_runs_.empty()) open_batch();  // the batch's first run
  Resolved& resolved = resolve(run);
  if (resolved.staged++ == 0) staged_runs_.push_back(&resolved);
  SourceSeries& series = *resolved.series;
  if (!series.staged) {
    series.staged = true;
    staged_series_.push_back(&series);
  }
  series.staged_duration.observe(run.duration_seconds);
  if (run.cpu_seconds) series.staged_cpu.observe(*run.cpu_seconds);
  if (run.memory_bytes) series.staged_memory.observe(static_cast<double>(*run.memory_bytes));
  // Event time: a late record must not move the gauge back.
  series.staged_end = std::max(series.staged_end,
                               std::chrono::duration<double>(run.end.time_since_epoch()).count());
}

void BusinessMetrics::commit() {
  for (Resolved* resolved : staged_runs_) {
    const auto runs = static_cast<double>(resolved->staged);
    resolved->runs->Increment(runs);
    if (resolved->source_folded) cardinality_.kind(kSource).folded->Increment(runs);
    if (resolved->objet_folded) cardinality_.kind(kObjet).folded->Increment(runs);
  }
  for (const SourceSeries* series : staged_series_) {
    series->staged_duration.apply(*series->duration);
    series->staged_cpu.apply(*series->cpu);
    series->staged_memory.apply(*series->memory);
    series->last_run->Set(std::max(series->last_run->Value(), series->staged_end));
  }
  clear_staged();
  evict_idle();  // also when no record follows; nothing staged points at a series now
  cardinality_.kind(kSource).tracked->Set(static_cast<double>(sources_.tracked()));
  cardinality_.kind(kObjet).tracked->Set(static_cast<double>(objets_.tracked()));
}

void BusinessMetrics::discard() { clear_staged(); }

void BusinessMetrics::clear_staged() {
  for (Resolved* resolved : staged_runs_) resolved->staged = 0;
  for (SourceSeries* series : staged_series_) {
    series->staged_duration.reset();
    series->staged_cpu.reset();
    series->staged_memory.reset();
    series->staged_end = -std::numeric_limits<double>::infinity();
    series->staged = false;
  }
  staged_runs_.clear();
  staged_series_.clear();
}

void BusinessMetrics::evict_idle() {
  const std::vector<std::string> sources = sources_.evict_idle();
  const std::vector<std::string> objets = objets_.evict_idle();
  if (sources.empty() && objets.empty()) return;
  resolved_.clear();  // it points at series about to go
  for (const std::string& source : sources) {
    const auto it = series_cache_.find(source);
    if (it == series_cache_.end()) continue;
    duration_.Remove(it->second.duration);
    cpu_.Remove(it->second.cpu);
    memory_.Remove(it->second.memory);
    last_run_.Remove(it->second.last_run);
    series_cache_.erase(it);
  }
  // runs_total keys are "source<sep>objet<sep>etat": a source's prefix is "source<sep>", an
  // objet's "source<sep>objet<sep>". An objet is never seen without its source, so an evicted
  // source's objets go in the same scan; both are matched anyway.
  std::vector<std::string> prefixes;
  prefixes.reserve(sources.size() + objets.size());
  for (const std::string& source : sources) prefixes.push_back(source + kSeparator);
  for (const std::string& pair : objets) prefixes.push_back(pair + kSeparator);
  for (auto it = runs_cache_.begin(); it != runs_cache_.end();) {
    const bool gone = std::ranges::any_of(
        prefixes, [&](const std::string& prefix) { return it->first.starts_with(prefix); });
    if (gone) {
      runs_.Remove(it->second);
      it = runs_cache_.erase(it);
    } else {
      ++it;
    }
  }
  cardinality_.kind(kSource).evicted->Increment(static_cast<double>(sources.size()));
  cardinality_.kind(kObjet).evicted->Increment(static_cast<double>(objets.size()));
  logger_.info("series of idle sources and objets removed",
               {{"sources", sources.size()}, {"objets", objets.size()}});
}

}  // namespace iw::enricher
