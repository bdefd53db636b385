#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "iw/events/enricher.h"

namespace iw::enricher {

/// The business metrics of BRIEF §6, which Prometheus's six ingestion rules read:
///   ingestion_runs_total{source,objet,etat}
///   ingestion_run_duration_seconds{source}, ingestion_run_cpu_seconds{source},
///   ingestion_run_memory_bytes{source} (histograms)
///   ingestion_last_run_timestamp_seconds{source}
/// A run is staged when it is enriched and counted only when its transaction commits, so a
/// batch that is aborted and processed again never counts twice. Labelled children are cached
/// by label values: Prometheus's own lookup takes a lock and hashes a label map, too much for
/// every record.
class BusinessMetrics {
 public:
  /// `max_series`: distinct (source, objet, etat) beyond this are counted under
  /// objet="__other__", so a bad feed cannot blow up Prometheus.
  explicit BusinessMetrics(prometheus::Registry& registry, std::size_t max_series = 5000);

  void stage(const events::RunFacts& run);
  /// Applies everything staged since the last commit() or discard().
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
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  prometheus::Counter* runs_for(std::string_view source, std::string_view objet,
                                std::string_view etat);
  SourceSeries* series_for(std::string_view source);

  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& cpu_;
  prometheus::Family<prometheus::Histogram>& memory_;
  prometheus::Family<prometheus::Gauge>& last_run_;
  std::size_t max_series_;
  std::string key_;  // reused to build cache keys without allocating
  std::unordered_map<std::string, prometheus::Counter*, Hash, std::equal_to<>> runs_cache_;
  std::unordered_map<std::string, SourceSeries, Hash, std::equal_to<>> series_cache_;
  std::vector<Staged> staged_;
};

}  // namespace iw::enricher
