#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <span>
#include <string_view>
#include <vector>

namespace iw::metrics {

/// The cardinality-budget metrics (docs/METRICS.md), declared in one place for every service
/// that folds label values (cardinality::Budget), by `kind` (the label budgeted: "source",
/// "objet"):
///   ingestwatch_cardinality_folded_records_total{kind}  records counted under `_other`
///   ingestwatch_cardinality_tracked{kind}               values with series of their own
///   ingestwatch_cardinality_evicted_total{kind}         values whose series were removed
class CardinalityMetrics {
 public:
  struct Kind {
    prometheus::Counter* folded;
    prometheus::Gauge* tracked;
    prometheus::Counter* evicted;
  };

  /// Children for every kind up front.
  CardinalityMetrics(prometheus::Registry& registry, std::span<const std::string_view> kinds);

  /// By the kind's position in the `kinds` given to the constructor.
  [[nodiscard]] const Kind& kind(std::size_t index) const { return kinds_.at(index); }

 private:
  std::vector<Kind> kinds_;
};

}  // namespace iw::metrics
