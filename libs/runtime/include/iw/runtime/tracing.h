#pragma once

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iw/base/error.h"
#include "iw/config/config.h"
#include "iw/config/schema.h"
#include "iw/otlp/tracer.h"

namespace iw::runtime {

/// The `tracing.*` keys every service has (docs/CONFIGURATION.md, docs/TRACING.md).
struct TracingSettings {
  /// The full OTLP/HTTP traces URL; "" (the default): no span leaves the process.
  std::string endpoint;
  /// The share of new traces sampled (a record without a traceparent); a record with one
  /// follows its flags.
  double sampling_ratio = 0.01;
  std::size_t max_queue_spans = 2048;
  std::size_t max_batch_spans = 512;
  std::chrono::milliseconds schedule_delay{1'000};
  std::chrono::milliseconds export_timeout{10'000};
  /// HTTP headers sent with every export, "name=value,name=value" (OTEL_EXPORTER_OTLP_HEADERS'
  /// form, values percent-encoded); secret.
  config::Secret headers;
};

/// Declares the tracing.* keys (the runtime does, for every service).
void declare_tracing_keys(config::Schema& schema);

/// What tracing comes to once the OTEL_* environment is applied over the YAML settings.
struct TracingPlan {
  /// Spans are exported (an endpoint is set and tracing is not disabled).
  bool exporting = false;
  double sampling_ratio = 0.01;
  otlp::ExporterOptions exporter;
};

/// `settings` with `env` over them (a value the environment sets wins); `resource` names the
/// service (its OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are applied over it).
[[nodiscard]] TracingPlan plan_tracing(const TracingSettings& settings,
                                       const otlp::EnvironmentSettings& env,
                                       otlp::Resource resource);

/// A running service's tracing, as the stage and the publisher read it: where finished spans
/// go (nullptr: tracing off, nothing recorded) and the sampler of new traces. A new trace's
/// sampling decision is stamped in its traceparent's flags even when this service exports
/// nothing, so that the services after it follow it.
class Tracing {
 public:
  explicit Tracing(double sampling_ratio = 0.01, otlp::SpanSink* sink = nullptr)
      : sampler_(sampling_ratio), sink_(sink) {}
  /// Tracing off with the default ratio.
  [[nodiscard]] static const Tracing& off();

  [[nodiscard]] otlp::SpanSink* sink() const { return sink_; }
  [[nodiscard]] bool exporting() const { return sink_ != nullptr; }
  [[nodiscard]] const otlp::Sampler& sampler() const { return sampler_; }

 private:
  otlp::Sampler sampler_;
  otlp::SpanSink* sink_;
};

/// ingestwatch_trace_spans_exported_total and ingestwatch_trace_spans_dropped_total{reason}
/// (docs/METRICS.md), fed from the exporter's counts: update() adds what they grew by since the
/// last call, so the export path takes no lock of the metrics'.
class TraceMetrics {
 public:
  explicit TraceMetrics(prometheus::Registry& registry);
  void update(const otlp::ExporterStats& stats);

 private:
  TraceMetrics(prometheus::Family<prometheus::Counter>& exported,
               prometheus::Family<prometheus::Counter>& dropped);

  prometheus::Counter& exported_;
  prometheus::Counter& queue_full_;
  prometheus::Counter& export_failed_;
  prometheus::Counter& shutdown_;
  otlp::ExporterStats last_;
};

}  // namespace iw::runtime
