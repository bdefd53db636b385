#pragma once

#include <string>
#include <vector>

#include "iw/kafka/client_factory.h"
#include "iw/runtime/service.h"

namespace iw::loki_pusher {

/// ingest-loki-pusher: every enriched run (ingestion-logs-enriched) and alert event
/// (ingestion-alerts) into Grafana Loki, at least once; what Loki refuses for good goes to
/// ingestion-logs-dlq. docs/LOKI_PUSHER.md describes it.
runtime::ServiceInfo pusher_info();

class LokiPusherService final : public runtime::Service {
 public:
  /// Its Kafka clients come from `clients` (a test's fakes, say), which must outlive run().
  explicit LokiPusherService(kafka::ClientFactory& clients = kafka::librdkafka_clients())
      : clients_(clients) {}

  void declare(config::Schema& schema) const override;
  [[nodiscard]] std::vector<std::string> readiness_checks() const override {
    return {"kafka", "loki"};
  }
  base::Status run(runtime::Context& ctx) override;

 private:
  kafka::ClientFactory& clients_;
};

}  // namespace iw::loki_pusher
