#include "business_metrics.h"

#include <algorithm>
#include <array>
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

BusinessMetrics::SourceSeries* BusinessMetrics::series_for(std::string_view source) {
  if (auto it = series_cache_.find(source); it != series_cache_.end()) return &it->second;
  const prometheus::Labels labels = {{"source", std::string(source)}};
  SourceSeries series{&duration_.Add(labels, kDurationBuckets), &cpu_.Add(labels, kCpuBuckets),
                      &memory_.Add(labels, kMemoryBuckets), &last_run_.Add(labels)};
  return &series_cache_.emplace(std::string(source), series).first->second;
}

void BusinessMetrics::stage(const events::RunFacts& run) {
  // Idle values go before new ones are admitted, so a new source takes a freed place. Only at
  // a transaction's first record: nothing staged points at a series then.
  if (staged_.empty()) {
    evict_idle();
    now_ = clock_.monotonic_now();
  }
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
  const auto end = std::chrono::duration<double>(run.end.time_since_epoch()).count();
  staged_.push_back({runs_for(source.label, objet, run.etat), series_for(source.label),
                     run.duration_seconds, run.cpu_seconds,
                     run.memory_bytes
                         ? std::optional<double>(static_cast<double>(*run.memory_bytes))
                         : std::nullopt,
                     end, source.folded, objet_folded});
}

void BusinessMetrics::commit() {
  for (const Staged& s : staged_) {
    s.runs->Increment();
    s.series->duration->Observe(s.duration_seconds);
    if (s.cpu_seconds) s.series->cpu->Observe(*s.cpu_seconds);
    if (s.memory_bytes) s.series->memory->Observe(*s.memory_bytes);
    // Event time: a late record must not move the gauge back.
    s.series->last_run->Set(std::max(s.series->last_run->Value(), s.end_seconds));
    if (s.source_folded) cardinality_.kind(kSource).folded->Increment();
    if (s.objet_folded) cardinality_.kind(kObjet).folded->Increment();
  }
  staged_.clear();
  evict_idle();  // also when no record follows; nothing staged points at a series now
  cardinality_.kind(kSource).tracked->Set(static_cast<double>(sources_.tracked()));
  cardinality_.kind(kObjet).tracked->Set(static_cast<double>(objets_.tracked()));
}

void BusinessMetrics::evict_idle() {
  const std::vector<std::string> sources = sources_.evict_idle();
  const std::vector<std::string> objets = objets_.evict_idle();
  if (sources.empty() && objets.empty()) return;
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
