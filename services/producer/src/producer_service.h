#pragma once

#include "iw/kafka/client_factory.h"
#include "iw/runtime/service.h"

namespace iw::producer {

/// ingest-producer: publishes every record of a logs file to `ingestion-logs`, keyed by Source.
class ProducerService final : public runtime::Service {
 public:
  /// Its Kafka clients come from `clients` (a test's fakes, say), which must outlive run().
  explicit ProducerService(kafka::ClientFactory& clients = kafka::librdkafka_clients())
      : clients_(clients) {}

  void declare(config::Schema& schema) const override;
  [[nodiscard]] std::vector<std::string> readiness_checks() const override { return {"kafka"}; }
  base::Status run(runtime::Context& ctx) override;

 private:
  kafka::ClientFactory& clients_;
};

/// How the producer presents itself on the command line.
[[nodiscard]] runtime::ServiceInfo producer_info();

}  // namespace iw::producer
