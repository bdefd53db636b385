#pragma once

#include "iw/runtime/service.h"

namespace iw::enricher {

/// ingest-enricher: ingestion-logs → ingestion-logs-enriched (+ ingestion-logs-dlq), exactly
/// once by default.
class EnricherService final : public runtime::Service {
 public:
  void declare(config::Schema& schema) const override;
  [[nodiscard]] std::vector<std::string> readiness_checks() const override { return {"kafka"}; }
  base::Status run(runtime::Context& ctx) override;
};

[[nodiscard]] runtime::ServiceInfo enricher_info();

}  // namespace iw::enricher
