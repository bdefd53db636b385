#pragma once

#include <string>
#include <vector>

#include "iw/kafka/client_factory.h"
#include "iw/runtime/service.h"

namespace iw::alert_evaluator {

/// ingest-alert-evaluator: the rules of rules/ingestion-rules.yml (or a rules file) on
/// ingestion-logs-enriched, an alert event on ingestion-alerts for every firing and resolve.
/// docs/ALERTING.md describes it.
runtime::ServiceInfo evaluator_info();

class EvaluatorService final : public runtime::Service {
 public:
  /// Its Kafka clients come from `clients` (a test's fakes, say), which must outlive run().
  explicit EvaluatorService(kafka::ClientFactory& clients = kafka::librdkafka_clients())
      : clients_(clients) {}

  void declare(config::Schema& schema) const override;
  [[nodiscard]] std::vector<std::string> readiness_checks() const override { return {"kafka"}; }
  base::Status run(runtime::Context& ctx) override;

 private:
  kafka::ClientFactory& clients_;
};

}  // namespace iw::alert_evaluator
