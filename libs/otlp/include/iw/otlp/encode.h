#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "iw/otlp/span.h"

namespace iw::otlp {

/// The instrumentation scope every span is exported under; its version is the resource's
/// service.version.
inline constexpr std::string_view kScopeName = "ingestwatch";

/// The OTLP/JSON body of one export request (pure; the exporter's and the tests').
///
/// An ExportTraceServiceRequest in OTLP's JSON mapping: one resourceSpans (service.name,
/// service.version, host.name, then the resource's extra attributes, leaving out any extra whose
/// key is one of those three) with one scopeSpans. Ids are lowercase hex strings (OTLP/JSON's
/// exception to protobuf's base64), kind and status.code integers, times and intValue decimal
/// strings (64-bit integers in protobuf's JSON mapping), doubleValue a number (NaN and the
/// infinities as protobuf's "NaN", "Infinity", "-Infinity"). An empty parentSpanId or status
/// message is left out.
[[nodiscard]] std::string encode_json(const Resource& resource, const std::vector<Span>& spans);

}  // namespace iw::otlp
