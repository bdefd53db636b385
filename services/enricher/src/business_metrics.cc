#include "business_metrics.h"

#include <algorithm>
#include <chrono>

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

constexpr char kSeparator = '\x1f';  // cannot appear in a label value written by a person

}  // namespace

BusinessMetrics::BusinessMetrics(prometheus::Registry& registry, std::size_t max_series)
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
      max_series_(max_series) {}

prometheus::Counter* BusinessMetrics::runs_for(std::string_view source, std::string_view objet,
                                               std::string_view etat) {
  key_.assign(source).push_back(kSeparator);
  key_.append(objet).push_back(kSeparator);
  key_.append(etat);
  if (auto it = runs_cache_.find(std::string_view(key_)); it != runs_cache_.end()) {
    return it->second;
  }
  if (runs_cache_.size() >= max_series_) {
    return &runs_.Add(
        {{"source", std::string(source)}, {"objet", "__other__"}, {"etat", std::string(etat)}});
  }
  auto* counter = &runs_.Add({{"source", std::string(source)},
                              {"objet", std::string(objet)},
                              {"etat", std::string(etat)}});
  runs_cache_.emplace(key_, counter);
  return counter;
}

BusinessMetrics::SourceSeries* BusinessMetrics::series_for(std::string_view source) {
  if (auto it = series_cache_.find(source); it != series_cache_.end()) return &it->second;
  const prometheus::Labels labels = {{"source", std::string(source)}};
  SourceSeries series{&duration_.Add(labels, kDurationBuckets), &cpu_.Add(labels, kCpuBuckets),
                      &memory_.Add(labels, kMemoryBuckets), &last_run_.Add(labels)};
  return &series_cache_.emplace(std::string(source), series).first->second;
}

void BusinessMetrics::stage(const events::RunFacts& run) {
  const auto end = std::chrono::duration<double>(run.end.time_since_epoch()).count();
  staged_.push_back({runs_for(run.source, run.objet, run.etat), series_for(run.source),
                     run.duration_seconds, run.cpu_seconds,
                     run.memory_bytes
                         ? std::optional<double>(static_cast<double>(*run.memory_bytes))
                         : std::nullopt,
                     end});
}

void BusinessMetrics::commit() {
  for (const Staged& s : staged_) {
    s.runs->Increment();
    s.series->duration->Observe(s.duration_seconds);
    if (s.cpu_seconds) s.series->cpu->Observe(*s.cpu_seconds);
    if (s.memory_bytes) s.series->memory->Observe(*s.memory_bytes);
    // Event time: a late record must not move the gauge back.
    s.series->last_run->Set(std::max(s.series->last_run->Value(), s.end_seconds));
  }
  staged_.clear();
}

}  // namespace iw::enricher
