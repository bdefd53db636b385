#pragma once

#include "iw/stage/kafka_service.h"

namespace iw::enricher {

/// ingest-enricher: ingestion-logs → ingestion-logs-enriched (+ ingestion-logs-dlq), exactly
/// once by default.
class EnricherService final : public stage::KafkaService {
 public:
  using KafkaService::KafkaService;

  void declare(config::Schema& schema) const override;
  base::Status run(runtime::Context& ctx) override;
};

[[nodiscard]] runtime::ServiceInfo enricher_info();

}  // namespace iw::enricher
