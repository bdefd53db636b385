#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/error.h"
#include "iw/config/binder.h"
#include "iw/config/config.h"
#include "iw/config/schema.h"
#include "iw/kafka/client.h"
#include "iw/log/logger.h"
#include "iw/metrics/metrics.h"
#include "iw/metrics/readiness.h"
#include "iw/runtime/shutdown.h"
#include "iw/runtime/tracing.h"

namespace iw::runtime {

/// What a service is called and how it presents itself on the command line.
struct ServiceInfo {
  std::string name;     ///< "enricher": the `service` field of logs and metrics
  std::string binary;   ///< "ingest-enricher"
  std::string summary;  ///< one line for --help
  std::uint16_t default_http_port = 9464;
  bool uses_kafka = true;  ///< declares the common kafka.* keys
  /// Extra --help text: positional arguments, subcommands, examples. A service's flags are
  /// not listed here: each is declared with the key it sets (config::KeyBuilder::flag()).
  std::string usage_notes;
};

/// Everything the runtime has set up by the time Service::run is called.
struct Context {
  const ServiceInfo& info;
  const config::Config& config;
  const log::Logger& logger;
  metrics::Metrics& metrics;
  metrics::Readiness& readiness;
  ShutdownSignal& shutdown;
  const base::Clock& clock;
  /// Positional command-line arguments (subcommands, file names), in order, less the one a
  /// key declares as its argument (config::KeyBuilder::argument()).
  const std::vector<std::string>& args;
  /// Where the spans of the records go, and the sampler of new traces (tracing.* keys and the
  /// OTEL_* environment); off unless an endpoint is set.
  const Tracing& tracing = Tracing::off();
};

/// A service's own part. The runtime owns the command line, configuration, logging, the HTTP
/// endpoint and signals; the service declares its keys and runs until asked to stop.
class Service {
 public:
  virtual ~Service() = default;
  /// Declares the service's own configuration keys (the common ones are already declared):
  /// each once, with its flag, type, default, description and checks, bound to the field of
  /// the service's settings it fills (config::Binder), and the checks that span several keys.
  virtual void declare(config::Schema& schema) const = 0;
  /// The readiness checks /readyz waits for; each starts "pending".
  [[nodiscard]] virtual std::vector<std::string> readiness_checks() const { return {}; }
  /// Does the work until `ctx.shutdown.requested()`, then drains what is in flight and
  /// returns. An error ends the process with a non-zero status after it is logged.
  virtual base::Status run(Context& ctx) = 0;
};

/// Every key of a service: the common ones (log.level, http.listen, tracing.* and, when
/// ServiceInfo::uses_kafka, kafka.bootstrap_servers with its flag --bootstrap-servers,
/// kafka.client_id and kafka.properties), then the service's own.
[[nodiscard]] config::Schema declare_keys(const ServiceInfo& info, const Service& service);

/// The kafka.* keys every Kafka-using service shares, with the context's logger.
[[nodiscard]] kafka::ClientOptions kafka_client_options(const Context& ctx);

/// `<binary>-<hostname>`: a default for ids that must be stable across restarts of one instance
/// and differ between instances on different hosts (Kafka transactional ids).
[[nodiscard]] std::string host_scoped_id(std::string_view binary);

/// Runs a service as a process: parses the command line
///   BINARY [--config FILE] [--check-config] [--version] [--help] [FLAGS...] [ARGS...]
/// loads and validates the configuration, cross-key checks included (every problem printed,
/// exit 2, with --check-config as at start-up), serves /metrics,
/// /healthz and /readyz, runs the service, and turns SIGTERM/SIGINT into an orderly drain
/// (exit 0). Call it from main() and return its result.
int run_service(const ServiceInfo& info, Service& service, int argc, char** argv);

}  // namespace iw::runtime
