#include "iw/metrics/cardinality.h"

#include <string>

namespace iw::metrics {

CardinalityMetrics::CardinalityMetrics(prometheus::Registry& registry,
                                       std::span<const std::string_view> kinds) {
  auto& folded = prometheus::BuildCounter()
                     .Name("ingestwatch_cardinality_folded_records_total")
                     .Help(
                         "Records counted under the label value _other because their source "
                         "(or objet) is over the cardinality budget.")
                     .Register(registry);
  auto& tracked = prometheus::BuildGauge()
                      .Name("ingestwatch_cardinality_tracked")
                      .Help("Label values (sources, objets) with series of their own.")
                      .Register(registry);
  auto& evicted = prometheus::BuildCounter()
                      .Name("ingestwatch_cardinality_evicted_total")
                      .Help(
                          "Label values whose series were removed after they went unseen for "
                          "the configured idle time.")
                      .Register(registry);
  for (const std::string_view kind : kinds) {
    const prometheus::Labels labels = {{"kind", std::string(kind)}};
    kinds_.push_back({&folded.Add(labels), &tracked.Add(labels), &evicted.Add(labels)});
  }
}

}  // namespace iw::metrics
