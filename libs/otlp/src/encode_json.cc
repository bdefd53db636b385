#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "iw/base/json_escape.h"
#include "iw/otlp/encode.h"

namespace iw::otlp {
namespace {

// Appends a 64-bit integer as a JSON string: protobuf's JSON mapping writes int64 and fixed64
// (times, intValue) as decimal strings, since JSON numbers lose precision beyond 2^53.
template <typename Integer>
void append_quoted_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out += '"';
  out.append(buffer, end);
  out += '"';
}

void append_double(std::string& out, double value) {
  // JSON has no NaN or infinity; protobuf's JSON mapping spells them as strings.
  if (std::isnan(value)) {
    out += "\"NaN\"";
  } else if (std::isinf(value)) {
    out += value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buffer[32];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, end);
  }
}

void append_unix_nanos(std::string& out, base::TimePoint time) {
  append_quoted_integer(
      out, std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

void append_value(std::string& out, const AttributeValue& value) {
  out += '{';
  if (const auto* text = std::get_if<std::string>(&value)) {
    out += "\"stringValue\":";
    base::append_json_string(out, *text);
  } else if (const auto* integer = std::get_if<std::int64_t>(&value)) {
    out += "\"intValue\":";
    append_quoted_integer(out, *integer);
  } else if (const auto* real = std::get_if<double>(&value)) {
    out += "\"doubleValue\":";
    append_double(out, *real);
  } else {
    out += "\"boolValue\":";
    out += std::get<bool>(value) ? "true" : "false";
  }
  out += '}';
}

void append_attribute(std::string& out, std::string_view key, const AttributeValue& value) {
  out += "{\"key\":";
  base::append_json_string(out, key);
  out += ",\"value\":";
  append_value(out, value);
  out += '}';
}

void append_attributes(std::string& out, const std::vector<Attribute>& attributes) {
  out += '[';
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    if (i > 0) out += ',';
    append_attribute(out, attributes[i].key, attributes[i].value);
  }
  out += ']';
}

void append_resource(std::string& out, const Resource& resource) {
  out += "{\"attributes\":[";
  append_attribute(out, "service.name", resource.service_name);
  out += ',';
  append_attribute(out, "service.version", resource.service_version);
  out += ',';
  append_attribute(out, "host.name", resource.host_name);
  for (const Attribute& extra : resource.extra) {
    // The three above are the service's own (OTEL_SERVICE_NAME wins over
    // OTEL_RESOURCE_ATTRIBUTES' service.name in OTel too); a key twice would be ambiguous.
    if (extra.key == "service.name" || extra.key == "service.version" || extra.key == "host.name") {
      continue;
    }
    out += ',';
    append_attribute(out, extra.key, extra.value);
  }
  out += "]}";
}

void append_span(std::string& out, const Span& span) {
  // Ids are hex text already (as in a traceparent): OTLP/JSON wants them so, not base64.
  out += "{\"traceId\":";
  base::append_json_string(out, span.trace_id);
  out += ",\"spanId\":";
  base::append_json_string(out, span.span_id);
  if (!span.parent_span_id.empty()) {
    out += ",\"parentSpanId\":";
    base::append_json_string(out, span.parent_span_id);
  }
  out += ",\"name\":";
  base::append_json_string(out, span.name);
  out += ",\"kind\":";
  out += std::to_string(static_cast<int>(span.kind));
  out += ",\"startTimeUnixNano\":";
  append_unix_nanos(out, span.start);
  out += ",\"endTimeUnixNano\":";
  append_unix_nanos(out, span.end);
  out += ",\"attributes\":";
  append_attributes(out, span.attributes);
  out += ",\"events\":[";
  for (std::size_t i = 0; i < span.events.size(); ++i) {
    const SpanEvent& event = span.events[i];
    if (i > 0) out += ',';
    out += "{\"timeUnixNano\":";
    append_unix_nanos(out, event.time);
    out += ",\"name\":";
    base::append_json_string(out, event.name);
    out += ",\"attributes\":";
    append_attributes(out, event.attributes);
    out += '}';
  }
  out += "],\"status\":{\"code\":";
  out += std::to_string(static_cast<int>(span.status));
  if (!span.status_message.empty()) {
    out += ",\"message\":";
    base::append_json_string(out, span.status_message);
  }
  out += "}}";
}

}  // namespace

std::string encode_json(const Resource& resource, const std::vector<Span>& spans) {
  std::string out;
  out.reserve(256 + spans.size() * 512);
  out += "{\"resourceSpans\":[{\"resource\":";
  append_resource(out, resource);
  out += ",\"scopeSpans\":[{\"scope\":{\"name\":";
  base::append_json_string(out, kScopeName);
  out += ",\"version\":";
  base::append_json_string(out, resource.service_version);
  out += "},\"spans\":[";
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out += ',';
    append_span(out, spans[i]);
  }
  out += "]}]}]}";
  return out;
}

}  // namespace iw::otlp
