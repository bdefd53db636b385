#pragma once

#include <string>
#include <vector>

#include "iw/stage/kafka_service.h"

namespace iw::loki_pusher {

/// ingest-loki-pusher: every enriched run (ingestion-logs-enriched) and alert event
/// (ingestion-alerts) into Grafana Loki, at least once; what Loki refuses for good goes to
/// ingestion-logs-dlq. docs/LOKI_PUSHER.md describes it.
runtime::ServiceInfo pusher_info();

class LokiPusherService final : public stage::KafkaService {
 public:
  using KafkaService::KafkaService;

  void declare(config::Schema& schema) const override;
  [[nodiscard]] std::vector<std::string> readiness_checks() const override {
    return {"kafka", "loki"};
  }
  base::Status run(runtime::Context& ctx) override;
};

}  // namespace iw::loki_pusher
