#pragma once

#include "iw/stage/kafka_service.h"

namespace iw::producer {

/// ingest-producer: publishes every record of a logs file to `ingestion-logs`, keyed by Source.
class ProducerService final : public stage::KafkaService {
 public:
  using KafkaService::KafkaService;

  void declare(config::Schema& schema) const override;
  base::Status run(runtime::Context& ctx) override;

  /// The last run was stopped by a signal before the end of its input (its error says so).
  [[nodiscard]] bool interrupted() const { return interrupted_; }

 private:
  bool interrupted_ = false;
};

/// Exit status of a run stopped before the end of its input (1: failed, 2: configuration).
inline constexpr int kExitInterrupted = 3;

/// How the producer presents itself on the command line.
[[nodiscard]] runtime::ServiceInfo producer_info();

}  // namespace iw::producer
