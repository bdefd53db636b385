#pragma once

#include "iw/kafka/client_factory.h"
#include "iw/runtime/service.h"

namespace iw::enricher {

/// ingest-enricher: ingestion-logs → ingestion-logs-enriched (+ ingestion-logs-dlq), exactly
/// once by default.
class EnricherService final : public runtime::Service {
 public:
  /// Its Kafka clients come from `clients` (a test's fakes, say), which must outlive run().
  explicit EnricherService(kafka::ClientFactory& clients = kafka::librdkafka_clients())
      : clients_(clients) {}

  void declare(config::Schema& schema) const override;
  [[nodiscard]] std::vector<std::string> readiness_checks() const override { return {"kafka"}; }
  base::Status run(runtime::Context& ctx) override;

 private:
  kafka::ClientFactory& clients_;
};

[[nodiscard]] runtime::ServiceInfo enricher_info();

}  // namespace iw::enricher
