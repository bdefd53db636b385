#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "iw/log/logger.h"
#include "iw/otlp/span.h"

namespace iw::otlp {

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
  std::size_t max_batch_spans = 512;  ///< OTEL_BSP_MAX_EXPORT_BATCH_SIZE; at most the queue's
  std::chrono::milliseconds schedule_delay{5'000};   ///< OTEL_BSP_SCHEDULE_DELAY; 1 ms to 24 h
  std::chrono::milliseconds export_timeout{30'000};  ///< OTEL_BSP_EXPORT_TIMEOUT; 1 ms to 24 h
  Resource resource;
  /// Where a failing collector is reported, at most once a minute per kind of failure (the
  /// endpoint without userinfo or query, never a header). Null: not logged, only counted. Must
  /// outlive the exporter.
  const log::Logger* logger = nullptr;
  /// The wait before the one retry of a batch that failed for a reason that may pass (no
  /// connection, a timeout, 429, 5xx).
  std::chrono::milliseconds retry_backoff{1'000};
};

/// OTLP/HTTP JSON (ExportTraceServiceRequest, POST application/json) from a bounded queue, on a
/// thread of its own through libcurl. When the collector is slow or down, the queue fills and
/// new spans are dropped and counted (queue_full); a batch the collector refuses or that fails
/// after one retry is dropped and counted (export_failed). Never holds the caller.
///
/// The sender sends a batch once max_batch_spans are queued or schedule_delay has passed since
/// its last send, whichever comes first. A 2xx answer counts the batch exported (an OTLP
/// partial success's rejected spans are not read: they count as exported). 4xx other than 429
/// drops the batch at once; no connection, a timeout, 429 or 5xx are retried once after
/// retry_backoff, then the batch is dropped.
class BatchExporter final : public SpanSink {
 public:
  explicit BatchExporter(ExporterOptions options);
  ~BatchExporter() override;  ///< shutdown(1 s) if not yet
  BatchExporter(const BatchExporter&) = delete;
  BatchExporter& operator=(const BatchExporter&) = delete;
  /// Moves the span into the queue under a mutex held for that move only (the sender holds it
  /// only to take spans out, never during a request); no allocation. After shutdown() the span
  /// is dropped and counted (shutdown).
  void submit(Span&& span) noexcept override;
  /// Sends what is queued within `deadline`, then stops the thread; what is left is counted
  /// as dropped (shutdown). Called at the end of a service's drain. A request still in flight
  /// at the deadline is interrupted and its batch counted as dropped (shutdown). Later calls do
  /// nothing.
  void shutdown(std::chrono::milliseconds deadline);
  [[nodiscard]] ExporterStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::otlp
