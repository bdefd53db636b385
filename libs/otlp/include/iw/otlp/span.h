#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "iw/base/clock.h"

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

}  // namespace iw::otlp
