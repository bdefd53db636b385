#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/string_hash.h"
#include "iw/cardinality/budget.h"
#include "iw/events/enricher.h"
#include "iw/log/logger.h"
#include "iw/metrics/cardinality.h"

namespace iw::enricher {

/// The cardinality budgets of the business metrics (docs/ENRICHER.md, "Cardinality").
struct BusinessMetricsOptions {
  /// Sources with series of their own; the others are counted under source="_other".
  std::size_t max_sources = 1000;
  /// (source, objet) pairs with a runs_total series of their own; the others of a tracked
  /// source are counted under objet="_other".
  std::size_t max_objets = 5000;
  /// A source (or objet) unseen this long loses its series; 0: never.
  std::chrono::milliseconds idle_timeout = std::chrono::hours{24};
};

/// The business metrics of BRIEF §6, which Prometheus's six ingestion rules read:
///   ingestion_runs_total{source,objet,etat}
///   ingestion_run_duration_seconds{source}, ingestion_run_cpu_seconds{source},
///   ingestion_run_memory_bytes{source} (histograms)
///   ingestion_last_run_timestamp_seconds{source}
/// and the budgets that keep them bounded (ingestwatch_cardinality_*{kind="source"|"objet"}):
/// a source beyond `max_sources` is counted under source="_other" (and objet="_other"), an objet
/// beyond `max_objets` under objet="_other"; a source or objet unseen for `idle_timeout` loses
/// its series. The first fold of each kind is logged.
/// A run is staged when it is enriched and counted only when its transaction commits, so a
/// batch that is aborted and processed again never counts twice (at least once, the enricher
/// commits what it staged at every batch). Idleness is timed once per commit, not per run.
/// Staging costs a record one hash lookup: the series of a (source, objet, etat) are resolved,
/// and its values admitted to the budgets, at its first run of a batch (Prometheus's own lookup
/// takes a lock and hashes a label map, too much for every record); the batch's runs are summed
/// per series and applied at commit (one Increment, one ObserveMultiple per histogram), the
/// same values as observing each run.
class BusinessMetrics {
 public:
  /// `clock` (monotonic time: idleness) and `logger` must outlive this.
  BusinessMetrics(prometheus::Registry& registry, BusinessMetricsOptions options,
                  const base::Clock& clock, const log::Logger& logger);

  void stage(const events::RunFacts& run);
  /// Applies everything staged since the last commit() or discard(), then removes the series of
  /// sources and objets gone idle.
  void commit();
  /// Forgets everything staged since the last commit() or discard().
  void discard();

 private:
  /// A histogram's observations staged since the last commit: counts by bucket (the last one
  /// +Inf) and their sum, as prometheus::Histogram::ObserveMultiple takes them.
  struct StagedHistogram {
    explicit StagedHistogram(const std::vector<double>& boundaries)
        : bounds(&boundaries), buckets(boundaries.size() + 1, 0.0) {}
    void observe(double value);
    void apply(prometheus::Histogram& histogram) const;
    void reset();
    const std::vector<double>* bounds;
    std::vector<double> buckets;
    double sum = 0;
    bool any = false;
  };
  struct SourceSeries {
    SourceSeries(prometheus::Histogram* duration_series, prometheus::Histogram* cpu_series,
                 prometheus::Histogram* memory_series, prometheus::Gauge* last_run_series);
    prometheus::Histogram* duration;
    prometheus::Histogram* cpu;
    prometheus::Histogram* memory;
    prometheus::Gauge* last_run;
    // Staged since the last commit.
    StagedHistogram staged_duration;
    StagedHistogram staged_cpu;
    StagedHistogram staged_memory;
    double staged_end;  // the latest event time staged (-inf: none)
    bool staged = false;
  };
  /// What a (source, objet, etat) resolves to, kept across batches (the series it counts
  /// under, whether the budgets folded it) and re-admitted at its first run of each batch.
  struct Resolved {
    prometheus::Counter* runs = nullptr;
    SourceSeries* series = nullptr;
    bool source_folded = false;
    bool objet_folded = false;
    std::uint64_t staged = 0;  // runs staged since the last commit
  };

  prometheus::Counter* runs_for(std::string_view source, std::string_view objet,
                                std::string_view etat);
  SourceSeries* series_for(std::string_view source);
  Resolved& resolve(const events::RunFacts& run);
  void open_batch();
  void clear_staged();
  void log_fold(std::string_view kind, std::size_t limit, std::string_view value);
  void evict_idle();

  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& cpu_;
  prometheus::Family<prometheus::Histogram>& memory_;
  prometheus::Family<prometheus::Gauge>& last_run_;
  metrics::CardinalityMetrics cardinality_;
  cardinality::Budget sources_;
  cardinality::Budget objets_;  // keyed by source + separator + objet
  const base::Clock& clock_;
  const log::Logger& logger_;
  base::MonotonicTime now_{};  // read when the first run since a commit is staged
  std::string key_;            // reused to build cache keys without allocating
  std::string pair_;           // the same, for the objet budget
  std::string run_key_;        // the same, for resolved_
  base::StringMap<prometheus::Counter*> runs_cache_;
  base::StringMap<SourceSeries> series_cache_;
  // By the record's own source, objet and etat (before folding). Node-based: the pointers in
  // staged_runs_ stay valid as it grows. Emptied when a series goes (it points at them) and,
  // between batches, when it holds more than kMaxResolved keys (a flood of distinct values).
  base::StringMap<Resolved> resolved_;
  std::vector<Resolved*> staged_runs_;
  std::vector<SourceSeries*> staged_series_;
};

}  // namespace iw::enricher
