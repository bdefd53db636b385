#pragma once

#include "iw/runtime/service.h"

namespace iw::producer {

/// ingest-producer: publishes every record of a logs file to `ingestion-logs`, keyed by Source.
class ProducerService final : public runtime::Service {
 public:
  void declare(config::Schema& schema) const override;
  [[nodiscard]] std::vector<std::string> readiness_checks() const override { return {"kafka"}; }
  base::Status run(runtime::Context& ctx) override;
};

/// How the producer presents itself on the command line.
[[nodiscard]] runtime::ServiceInfo producer_info();

}  // namespace iw::producer
