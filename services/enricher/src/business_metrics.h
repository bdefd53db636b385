#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "iw/base/clock.h"
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
/// commits what it staged at every batch). Idleness is timed once per commit, not per run. Labelled
/// children are cached by label values: Prometheus's own lookup takes a lock and hashes a label
/// map, too much for every record.
class BusinessMetrics {
 public:
  /// `clock` (monotonic time: idleness) and `logger` must outlive this.
  BusinessMetrics(prometheus::Registry& registry, BusinessMetricsOptions options,
                  const base::Clock& clock, const log::Logger& logger);

  void stage(const events::RunFacts& run);
  /// Applies everything staged since the last commit() or discard(), then removes the series of
  /// sources and objets gone idle.
  void commit();
  void discard() { staged_.clear(); }

 private:
  struct SourceSeries {
    prometheus::Histogram* duration;
    prometheus::Histogram* cpu;
    prometheus::Histogram* memory;
    prometheus::Gauge* last_run;
  };
  struct Staged {
    prometheus::Counter* runs;
    SourceSeries* series;
    double duration_seconds;
    std::optional<double> cpu_seconds;
    std::optional<double> memory_bytes;
    double end_seconds;
    bool source_folded;
    bool objet_folded;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  prometheus::Counter* runs_for(std::string_view source, std::string_view objet,
                                std::string_view etat);
  SourceSeries* series_for(std::string_view source);
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
  std::unordered_map<std::string, prometheus::Counter*, Hash, std::equal_to<>> runs_cache_;
  std::unordered_map<std::string, SourceSeries, Hash, std::equal_to<>> series_cache_;
  std::vector<Staged> staged_;
};

}  // namespace iw::enricher
