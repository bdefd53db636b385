#pragma once

#include <string>
#include <vector>

#include "iw/metrics/process_collector.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace iw::metrics {

/// Identifies the running binary in every scrape.
struct BuildInfo {
  std::string service;  ///< "enricher", "loki-pusher", ...
  std::string version;  ///< Release version; "unknown" when empty.
  std::string commit;   ///< Source revision; "unknown" when empty.
};

/// Name of the gauge that carries BuildInfo as labels, always 1.
inline constexpr const char* kBuildInfoMetric = "ingestwatch_build_info";

/// What one service exports: a registry for its own metrics, plus the process metrics
/// (ProcessCollector) and `ingestwatch_build_info{service,version,commit} 1`.
/// Pass it to HttpServer::start() as the Collectable to serve.
///
/// Declare metrics on registry() at start-up and keep the returned references (Registry is
/// thread-safe; look-ups per message are not what it is for). Not copyable or movable: the
/// references handed out point into it.
class Metrics final : public prometheus::Collectable {
 public:
  explicit Metrics(const BuildInfo& build);

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  [[nodiscard]] prometheus::Registry& registry() { return registry_; }

  /// The registry's families followed by the process metrics.
  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  prometheus::Registry registry_;
  ProcessCollector process_;
};

}  // namespace iw::metrics
