// CONTRACT between the #19 helpers (lead-written; /work/otlp-contract/tracer.h). The otlp
// library's one header for its users: every name of the contract, split by topic.
#pragma once

// The standard headers the contract's single header had, kept for code written against it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "iw/otlp/encode.h"       // encode_json
#include "iw/otlp/environment.h"  // EnvironmentSettings, read_environment
#include "iw/otlp/exporter.h"     // SpanSink, ExporterStats, ExporterOptions, BatchExporter
#include "iw/otlp/sampler.h"      // Sampler
#include "iw/otlp/span.h"  // Attribute(Value), SpanEvent, SpanKind, SpanStatus, Span, Resource
