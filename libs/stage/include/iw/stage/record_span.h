#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>

#include "iw/base/clock.h"
#include "iw/otlp/tracer.h"
#include "iw/runtime/tracing.h"
#include "iw/trace/trace_context.h"

namespace iw::kafka {
class Record;
}  // namespace iw::kafka

namespace iw::stage {

/// The span of one record in one stage (docs/TRACING.md). The stage (Stage, Publisher) opens
/// and ends it, the one place that does: a processor reads its context for the traceparent of
/// what it writes and adds what it knows (attributes, events). A record is recorded when its
/// traceparent is sampled (a record without one starts a new trace, sampled by the Sampler) and
/// the service exports spans; otherwise attributes and events cost nothing, and while tracing
/// is off the context is only worked out when asked for.
class RecordSpan {
 public:
  /// The traceparent of what the record's processing writes: the record's trace, this span's
  /// id, the record's flags. "" outside a record (a tick's writes).
  [[nodiscard]] std::string_view traceparent();
  /// The same as a TraceParent (e.g. to make a child of it); nullopt outside a record.
  [[nodiscard]] std::optional<trace::TraceParent> context();
  /// Whether the span is recorded: set() and add_event() do nothing otherwise.
  [[nodiscard]] bool recording() const { return recording_; }

  /// An attribute (a key set again is replaced).
  void set(std::string_view key, std::string_view value);
  void set(std::string_view key, std::int64_t value);
  /// A span event at `time` (its attributes are string pairs).
  void add_event(std::string_view name, base::TimePoint time,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> attributes);
  /// The record was dead-lettered: ingestwatch.dead_letter.reason, status ERROR with `error`.
  void dead_lettered(std::string_view reason, std::string_view error);
  /// Status ERROR with `message` (a failure that is not a dead letter).
  void failed(std::string_view message);

  // --- The stage's and the publisher's ---

  /// A record comes in: `parent` is its traceparent header. Records when `tracing` exports and
  /// the parent (or the new trace) is sampled; the start time is read only then.
  void open(const runtime::Tracing& tracing, trace::IdGenerator& ids, const kafka::Record* record,
            std::string_view name, otlp::SpanKind kind, const base::Clock& clock);
  /// A new trace (the producer's records): a root span.
  void open_root(const runtime::Tracing& tracing, trace::IdGenerator& ids, std::string_view name,
                 otlp::SpanKind kind, const base::Clock& clock);
  /// Whether open() or open_root() was called since the last close().
  [[nodiscard]] bool is_open() const { return open_; }
  /// Ends the span now and hands it to the sink (when recording); the span is closed.
  void end(const base::Clock& clock);
  /// Closes the span without ending it: the recorded span (nullopt when not recording) is the
  /// caller's to end later (a deferred record), with end_span().
  [[nodiscard]] std::optional<otlp::Span> take();
  /// Closes the span; a recorded one is dropped.
  void close();

 private:
  void reset(const runtime::Tracing& tracing, trace::IdGenerator& ids, const kafka::Record* record);
  void resolve();
  // Works out the context from the record's traceparent (its child) or a new trace; returns the
  // parent's span id, a view into the record's header ("" for a new trace).
  std::string_view derive_context();
  void start_recording(std::string_view name, otlp::SpanKind kind, const base::Clock& clock,
                       std::string_view parent_span_id);

  const runtime::Tracing* tracing_ = nullptr;
  trace::IdGenerator* ids_ = nullptr;
  const kafka::Record* record_ = nullptr;
  std::optional<trace::TraceParent> context_;
  bool open_ = false;
  bool resolved_ = false;
  bool recording_ = false;
  otlp::Span span_;
};

/// Ends a span taken out of a RecordSpan (a deferred record's) and hands it to `sink`.
void end_span(otlp::Span&& span, otlp::SpanSink& sink, base::TimePoint end);
/// Attribute `key` of `span` set to `value` (replaced when there).
void set_attribute(otlp::Span& span, std::string_view key, otlp::AttributeValue value);
/// A traceparent for a recorded span's ids, sampled.
[[nodiscard]] std::optional<trace::TraceParent> context_of(const otlp::Span& span);

}  // namespace iw::stage
