#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "iw/config/config.h"
#include "iw/log/logger.h"
#include "iw/metrics/metrics.h"
#include "iw/metrics/readiness.h"
#include "iw/runtime/service.h"
#include "iw/runtime/shutdown.h"

namespace iw::testing {

/// What run_service() sets up for Service::run(), for a test that calls run() itself: the
/// service's keys (the common ones included) loaded from `yaml`, its log lines kept in memory,
/// metrics and readiness without an HTTP server, a shutdown the test requests from code, the
/// system clock. A configuration the service refuses fails the test.
class ServiceContext {
 public:
  ServiceContext(runtime::ServiceInfo info, const runtime::Service& service, std::string_view yaml);
  ServiceContext(const ServiceContext&) = delete;
  ServiceContext& operator=(const ServiceContext&) = delete;

  [[nodiscard]] runtime::Context& ctx() { return *ctx_; }
  [[nodiscard]] runtime::ShutdownSignal& shutdown() { return shutdown_; }
  [[nodiscard]] metrics::Metrics& metrics() { return metrics_; }
  /// The log lines written so far, one JSON object each.
  [[nodiscard]] std::vector<std::string> log_lines() const { return sink_.lines(); }
  /// Those whose "msg" is `msg`.
  [[nodiscard]] std::vector<std::string> logged(std::string_view msg) const;

 private:
  runtime::ServiceInfo info_;
  runtime::ShutdownSignal shutdown_;
  config::Config config_;
  log::MemorySink sink_;
  log::Logger logger_;
  metrics::Metrics metrics_;
  metrics::Readiness readiness_;
  std::vector<std::string> args_;
  std::unique_ptr<runtime::Context> ctx_;
};

}  // namespace iw::testing
