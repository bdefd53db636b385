#include "iw/metrics/metrics.h"

#include <iterator>
#include <utility>

#include "prometheus/gauge.h"

namespace iw::metrics {
namespace {

// An empty label value is the same as an absent label to Prometheus, which would make the
// series look different from every other service's.
std::string or_unknown(const std::string& value) { return value.empty() ? "unknown" : value; }

}  // namespace

Metrics::Metrics(const BuildInfo& build) {
  prometheus::BuildGauge()
      .Name(kBuildInfoMetric)
      .Help("Build of the running ingestwatch service; always 1, the build is in the labels.")
      .Register(registry_)
      .Add({{"service", or_unknown(build.service)},
            {"version", or_unknown(build.version)},
            {"commit", or_unknown(build.commit)}})
      .Set(1);
}

std::vector<prometheus::MetricFamily> Metrics::Collect() const {
  std::vector<prometheus::MetricFamily> families = registry_.Collect();
  std::vector<prometheus::MetricFamily> process = process_.Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return families;
}

}  // namespace iw::metrics
