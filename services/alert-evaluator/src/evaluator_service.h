#pragma once

#include <string>
#include <vector>

#include "iw/stage/kafka_service.h"

namespace iw::alert_evaluator {

/// ingest-alert-evaluator: the rules of rules/ingestion-rules.yml (or a rules file) on
/// ingestion-logs-enriched, an alert event on ingestion-alerts for every firing and resolve.
/// docs/ALERTING.md describes it.
runtime::ServiceInfo evaluator_info();

class EvaluatorService final : public stage::KafkaService {
 public:
  using KafkaService::KafkaService;

  void declare(config::Schema& schema) const override;
  base::Status run(runtime::Context& ctx) override;
};

}  // namespace iw::alert_evaluator
