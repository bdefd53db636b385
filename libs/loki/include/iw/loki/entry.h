#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "iw/base/clock.h"
#include "iw/loki/labels.h"

namespace iw::loki {

/// The `job` label of enriched runs and of alert events (BRIEF §7).
inline constexpr std::string_view kRunsJob = "ingestion-logs";
inline constexpr std::string_view kAlertsJob = "ingestion-alerts";

/// Why an entry is not in Loki: decided here before sending, or read from Loki's answer
/// (push_response.h). Names are Loki's own `reason` values (loki_discarded_samples_total) where
/// Loki has one, so a dashboard can put both side by side.
enum class Reason {
  kInvalidRecord,  ///< "invalid_record": not an enriched run / alert event this library reads
  kInvalidLabels,  ///< "invalid_labels": the stream breaks Loki's label rules (any of them)
  kLineTooLong,    ///< "line_too_long": longer than max_line_size
  kTooOld,         ///< "greater_than_max_sample_age": older than reject_old_samples_max_age
  kTooNew,         ///< "too_far_in_future": later than now + creation_grace_period
  kTooFarBehind,   ///< "too_far_behind": older than the stream's newest - max_chunk_age / 2
  kOutOfOrder,     ///< "out_of_order": older than the stream's newest, unordered writes off
  kRateLimited,    ///< "per_stream_rate_limit": reported with the 4xx of a per-stream limit
  kStreamLimit,    ///< "stream_limit": Loki's active-stream limit refused the stream (a 429)
  kUnknown,        ///< "unknown": Loki's answer does not say (see push_response.h)
};

inline constexpr std::size_t kReasonCount = 10;

/// Stable snake_case name, for metric labels and dlq.reason.
[[nodiscard]] std::string_view reason_name(Reason reason);

/// Every Reason, so a service can create its counters up front.
[[nodiscard]] std::span<const Reason> all_reasons();

/// An entry that will not be sent, and why (message: for dlq.error and logs).
struct Rejection {
  Reason reason = Reason::kUnknown;
  std::string message;
};

template <typename T>
using EntryResult = std::expected<T, Rejection>;

/// Where the caller got an entry. This library never interprets it; it hands it back with every
/// outcome (batched, rejected, accepted or rejected by Loki), so the caller can commit or
/// dead-letter exactly that record.
struct EntryRef {
  std::int32_t topic = 0;  ///< the caller's own index of the topic
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  friend bool operator==(const EntryRef&, const EntryRef&) = default;
};

/// The name of the structured metadata that carries an entry's trace id (docs/TRACING.md).
inline constexpr std::string_view kTraceIdKey = "trace_id";

/// A W3C trace id as 32 lowercase hex digits, sent with an entry as Loki structured metadata
/// `trace_id` so that Grafana links the line to its trace; the line itself is not touched. Held
/// in place (no allocation per entry); empty when the record has no valid traceparent or when
/// its trace is not sampled: only a sampled trace is in Jaeger, so an unsampled id would link to
/// nothing, and its 46 bytes (about 0.25 us of snappy per entry) would be paid for no link.
class TraceId {
 public:
  static constexpr std::size_t kSize = 32;

  TraceId() = default;
  /// The trace id of a sampled `traceparent` header value (iw::trace::TraceParent's rules:
  /// version 00, lowercase hex, ids not all zero; the sampled flag set); empty otherwise, so a
  /// bad header costs the entry its link, never the entry.
  [[nodiscard]] static TraceId from_traceparent(std::string_view traceparent);

  [[nodiscard]] bool empty() const { return hex_[0] == '\0'; }
  /// The 32 hex digits, or "" when empty.
  [[nodiscard]] std::string_view hex() const {
    return empty() ? std::string_view() : std::string_view(hex_.data(), kSize);
  }
  friend bool operator==(const TraceId&, const TraceId&) = default;

 private:
  std::array<char, kSize> hex_{};
};

/// One log entry on its way to Loki.
struct Entry {
  std::string stream;         ///< format_labels() of its sorted, validated labels
  std::int64_t timestamp_ns;  ///< nanoseconds since the Unix epoch
  std::string line;           ///< the record's bytes, unchanged
  EntryRef ref;
  /// A 64-bit hash of an enriched run's `event.id` (the raw record's identity), for
  /// RecentEvents; 0 for alert events and runs without one.
  std::uint64_t event_key = 0;
  /// Sent as structured metadata `trace_id` when not empty. The builders below leave it empty:
  /// the trace id is in the record's `traceparent` header, which the caller holds.
  TraceId trace_id;
};

/// Which instant Loki files an entry under.
enum class TimestampSource {
  /// The record's own time: a run's `@timestamp` (its start, as Grafana shows runs), an alert
  /// event's `startsAt` (firing) or `endsAt` (resolved). A re-sent record gets the same
  /// timestamp and line, which Loki stores once.
  kEventTime,
  /// The `ingest_time` the caller passes. Pass the Kafka record's timestamp rather than the
  /// clock, so that a record read twice still gets one timestamp.
  kIngestTime,
};

struct EntryOptions {
  TimestampSource timestamp = TimestampSource::kEventTime;
  LabelLimits label_limits;
};

/// Turns records into entries: stream labels from BRIEF §7's allow-list, a timestamp, and the
/// record unchanged as the line. Reads only the fields it needs (simdjson On-Demand); does not
/// check the rest of the record. `ingest_time` is used with TimestampSource::kIngestTime only.
/// Rejections are kInvalidRecord or kInvalidLabels. One instance per thread (it reuses its
/// parser).
class EntryBuilder {
 public:
  explicit EntryBuilder(EntryOptions options = {});
  EntryBuilder(const EntryBuilder&) = delete;
  EntryBuilder& operator=(const EntryBuilder&) = delete;
  ~EntryBuilder();

  /// An enriched run record (docs/ENRICHED_RECORD.md) on stream
  /// `{entreprise, etat, job="ingestion-logs", source, zone}`, values from its `labels` object;
  /// `zone` and `entreprise` only when present and not empty, other keys of `labels` ignored
  /// (they stay in the line). Read by events::EnrichedRecordReader, the schema's one reader.
  /// kInvalidRecord when it is not one JSON object (text after it included), `@timestamp` is
  /// missing or not a timestamp, `labels.source` / `labels.etat` are missing or empty, or one of
  /// those (or `labels`) appears twice; kInvalidLabels when a value breaks Loki's label rules
  /// (e.g. longer than max_value_length).
  [[nodiscard]] EntryResult<Entry> enriched_run(std::string_view record, EntryRef ref,
                                                base::TimePoint ingest_time);

  /// An alert event (BRIEF §5) on stream
  /// `{alertname, job="ingestion-alerts", severity, source, status}`, from its `labels`
  /// (severity and source only when present) and `status` ("firing" or "resolved"). Other
  /// alert labels (objet, resource) stay in the line: they are unbounded or rarely queried.
  [[nodiscard]] EntryResult<Entry> alert_event(std::string_view record, EntryRef ref,
                                               base::TimePoint ingest_time);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Nanoseconds since the Unix epoch.
[[nodiscard]] std::int64_t to_unix_nanos(base::TimePoint t);

}  // namespace iw::loki
