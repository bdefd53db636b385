#pragma once

#include "iw/stage/kafka_service.h"

namespace iw::producer {

/// ingest-producer: publishes every record of a logs file to `ingestion-logs`, keyed by Source.
class ProducerService final : public stage::KafkaService {
 public:
  using KafkaService::KafkaService;

  void declare(config::Schema& schema) const override;
  base::Status run(runtime::Context& ctx) override;
};

/// How the producer presents itself on the command line.
[[nodiscard]] runtime::ServiceInfo producer_info();

}  // namespace iw::producer
