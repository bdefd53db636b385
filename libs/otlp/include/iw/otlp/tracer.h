// CONTRACT between the #19 helpers (lead-written). libs/otlp/include/iw/otlp/tracer.h.
// The otlp helper implements it (may ADD members; must not rename or remove what is here);
// the wiring helper codes against it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/error.h"

namespace iw::otlp {

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;
struct Attribute {
  std::string key;
  AttributeValue value;
};

struct SpanEvent {
  std::string name;
  base::TimePoint time;
  std::vector<Attribute> attributes;
};

/// OTLP's enum values.
enum class SpanKind : int { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
enum class SpanStatus : int { kUnset = 0, kOk = 1, kError = 2 };

/// A finished span, as exported. Ids are lowercase hex text as in a traceparent.
struct Span {
  std::string trace_id;        ///< 32 hex
  std::string span_id;         ///< 16 hex
  std::string parent_span_id;  ///< 16 hex; "" for a root span
  std::string name;            ///< e.g. "ingest-enricher process"
  SpanKind kind = SpanKind::kInternal;
  base::TimePoint start;
  base::TimePoint end;
  std::vector<Attribute> attributes;
  std::vector<SpanEvent> events;
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;
};

/// Who the spans come from: OTLP resource attributes service.name, service.version, host.name,
/// plus OTEL_RESOURCE_ATTRIBUTES' pairs.
struct Resource {
  std::string service_name;
  std::string service_version;
  std::string host_name;
  std::vector<Attribute> extra;
};

/// Parent-based sampling with a trace-id ratio for new traces (OTel's
/// parentbased_traceidratio): a record whose traceparent is sampled is traced, one whose
/// traceparent is not is not; a new trace is sampled when its trace id falls under `ratio`
/// (the trace id's last 16 hex digits, as OTel's TraceIdRatioBased). Pure.
class Sampler {
 public:
  explicit Sampler(double ratio);  ///< clamped to [0, 1]
  [[nodiscard]] bool sample_new_trace(std::string_view trace_id_hex) const;
  [[nodiscard]] double ratio() const;

 private:
  double ratio_;
  std::uint64_t threshold_;
};

/// Where finished spans go. submit() never blocks and never fails the caller: a span that
/// cannot be queued is dropped and counted.
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void submit(Span&& span) noexcept = 0;
};

/// Counts every service exposes (the wiring registers them as
/// ingestwatch_trace_spans_exported_total and
/// ingestwatch_trace_spans_dropped_total{reason="queue_full"|"export_failed"|"shutdown"}).
struct ExporterStats {
  std::uint64_t exported = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t dropped_export_failed = 0;
  std::uint64_t dropped_shutdown = 0;
};

/// Settings of the batch exporter; defaults are OTel's BatchSpanProcessor's where it has one.
struct ExporterOptions {
  std::string endpoint;  ///< the full URL spans are POSTed to, e.g. http://127.0.0.1:4318/v1/traces
  std::vector<std::pair<std::string, std::string>> headers;  ///< secret values: never logged
  std::size_t max_queue_spans = 2048;                        ///< OTEL_BSP_MAX_QUEUE_SIZE
  std::size_t max_batch_spans = 512;                         ///< OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  std::chrono::milliseconds schedule_delay{5'000};           ///< OTEL_BSP_SCHEDULE_DELAY
  std::chrono::milliseconds export_timeout{30'000};          ///< OTEL_BSP_EXPORT_TIMEOUT
  Resource resource;
};

/// OTLP/HTTP JSON (ExportTraceServiceRequest, POST application/json) from a bounded queue, on a
/// thread of its own through libcurl. When the collector is slow or down, the queue fills and
/// new spans are dropped and counted (queue_full); a batch the collector refuses or that fails
/// after one retry is dropped and counted (export_failed). Never holds the caller.
class BatchExporter final : public SpanSink {
 public:
  explicit BatchExporter(ExporterOptions options);
  ~BatchExporter() override;  ///< shutdown(1 s) if not yet
  void submit(Span&& span) noexcept override;
  /// Sends what is queued within `deadline`, then stops the thread; what is left is counted
  /// as dropped (shutdown). Called at the end of a service's drain.
  void shutdown(std::chrono::milliseconds deadline);
  [[nodiscard]] ExporterStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// The OTLP/JSON body of one export request (pure; the exporter's and the tests').
[[nodiscard]] std::string encode_json(const Resource& resource, const std::vector<Span>& spans);

/// Tracing settings read from the OTel environment variables (pure: `lookup` returns the
/// variable's value or nullopt). Read: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER ("none" disables),
/// OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces"), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is),
/// OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS (k=v,k=v, percent-decoded), OTEL_TRACES_SAMPLER
/// (parentbased_traceidratio, parentbased_always_on, parentbased_always_off, traceidratio,
/// always_on, always_off), OTEL_TRACES_SAMPLER_ARG, OTEL_SERVICE_NAME,
/// OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*. Values set there override the YAML ones (the wiring
/// applies them over its config); an invalid value is an error naming the variable (never its
/// value when it is a header).
struct EnvironmentSettings {
  std::optional<bool> enabled;
  std::optional<std::string> endpoint;  ///< full traces URL
  std::optional<std::vector<std::pair<std::string, std::string>>> headers;
  std::optional<double> sampling_ratio;
  std::optional<std::string> service_name;
  std::vector<Attribute> resource_attributes;
  std::optional<std::size_t> max_queue_spans;
  std::optional<std::size_t> max_batch_spans;
  std::optional<std::chrono::milliseconds> schedule_delay;
  std::optional<std::chrono::milliseconds> export_timeout;
};
[[nodiscard]] base::Result<EnvironmentSettings> read_environment(
    const std::function<std::optional<std::string>(std::string_view)>& lookup);

}  // namespace iw::otlp
