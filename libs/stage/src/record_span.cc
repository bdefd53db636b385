#include "iw/stage/record_span.h"

#include <algorithm>
#include <string>

#include "iw/kafka/record.h"

namespace iw::stage {

void set_attribute(otlp::Span& span, std::string_view key, otlp::AttributeValue value) {
  const auto it =
      std::ranges::find_if(span.attributes, [&](const otlp::Attribute& a) { return a.key == key; });
  if (it != span.attributes.end()) {
    it->value = std::move(value);
  } else {
    span.attributes.push_back({std::string(key), std::move(value)});
  }
}

void end_span(otlp::Span&& span, otlp::SpanSink& sink, base::TimePoint end) {
  span.end = end;
  sink.submit(std::move(span));
}

std::optional<trace::TraceParent> context_of(const otlp::Span& span) {
  return trace::TraceParent::parse("00-" + span.trace_id + "-" + span.span_id + "-01");
}

std::string_view RecordSpan::traceparent() {
  resolve();
  return context_ ? context_->text() : std::string_view();
}

std::optional<trace::TraceParent> RecordSpan::context() {
  resolve();
  return context_;
}

void RecordSpan::set(std::string_view key, std::string_view value) {
  if (recording_) set_attribute(span_, key, std::string(value));
}

void RecordSpan::set(std::string_view key, std::int64_t value) {
  if (recording_) set_attribute(span_, key, value);
}

void RecordSpan::add_event(
    std::string_view name, base::TimePoint time,
    std::initializer_list<std::pair<std::string_view, std::string_view>> attributes) {
  if (!recording_) return;
  otlp::SpanEvent event{.name = std::string(name), .time = time, .attributes = {}};
  event.attributes.reserve(attributes.size());
  for (const auto& [key, value] : attributes) {
    event.attributes.push_back({std::string(key), std::string(value)});
  }
  span_.events.push_back(std::move(event));
}

void RecordSpan::dead_lettered(std::string_view reason, std::string_view error) {
  if (!recording_) return;
  set_attribute(span_, "ingestwatch.dead_letter.reason", std::string(reason));
  span_.status = otlp::SpanStatus::kError;
  span_.status_message = error;
}

void RecordSpan::failed(std::string_view message) {
  if (!recording_) return;
  span_.status = otlp::SpanStatus::kError;
  span_.status_message = message;
}

void RecordSpan::open(const runtime::Tracing& tracing, trace::IdGenerator& ids,
                      const kafka::Record* record, std::string_view name, otlp::SpanKind kind,
                      const base::Clock& clock) {
  reset(tracing, ids, record);
  // Tracing off: nothing to decide now; the context is made if the processor asks for it.
  if (!tracing.exporting()) return;
  resolved_ = true;
  const std::string_view parent_span_id = derive_context();
  if (context_->sampled()) start_recording(name, kind, clock, parent_span_id);
}

void RecordSpan::open_root(const runtime::Tracing& tracing, trace::IdGenerator& ids,
                           std::string_view name, otlp::SpanKind kind, const base::Clock& clock) {
  reset(tracing, ids, nullptr);
  resolve();
  if (tracing.exporting() && context_->sampled()) start_recording(name, kind, clock, {});
}

void RecordSpan::reset(const runtime::Tracing& tracing, trace::IdGenerator& ids,
                       const kafka::Record* record) {
  tracing_ = &tracing;
  ids_ = &ids;
  record_ = record;
  context_.reset();
  open_ = true;
  resolved_ = false;
  recording_ = false;
}

void RecordSpan::resolve() {
  if (resolved_ || !open_) return;
  resolved_ = true;
  (void)derive_context();
}

std::string_view RecordSpan::derive_context() {
  const auto header = record_ != nullptr ? record_->header("traceparent") : std::nullopt;
  if (const auto parent = header ? trace::TraceParent::parse(*header) : std::nullopt) {
    context_ = parent->child(*ids_);  // the parent's flags, so its sampling decision
    return header->substr(36, 16);    // its span id, in the record's header
  }
  // A new trace, sampled by the Sampler.
  const trace::TraceParent fresh = trace::TraceParent::start(*ids_, false);
  context_ = fresh.with_sampled(tracing_->sampler().sample_new_trace(fresh.trace_id()));
  return {};
}

void RecordSpan::start_recording(std::string_view name, otlp::SpanKind kind,
                                 const base::Clock& clock, std::string_view parent_span_id) {
  recording_ = true;
  span_ = otlp::Span{};
  span_.trace_id = context_->trace_id();
  span_.span_id = context_->span_id();
  span_.parent_span_id = parent_span_id;
  span_.name = name;
  span_.kind = kind;
  span_.start = clock.now();
}

void RecordSpan::end(const base::Clock& clock) {
  if (recording_ && tracing_->sink() != nullptr)
    end_span(std::move(span_), *tracing_->sink(), clock.now());
  close();
}

std::optional<otlp::Span> RecordSpan::take() {
  std::optional<otlp::Span> span;
  if (recording_) span = std::move(span_);
  close();
  return span;
}

void RecordSpan::close() {
  open_ = false;
  recording_ = false;
  record_ = nullptr;
  context_.reset();
}

}  // namespace iw::stage
