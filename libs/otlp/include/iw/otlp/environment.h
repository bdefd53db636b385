#pragma once

#include <chrono>
#include <cstddef>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iw/base/error.h"
#include "iw/otlp/span.h"

namespace iw::otlp {

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

using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view)>;

/// The most spans a queue or a batch may hold: a typo such as 1e12 is refused as a setting
/// instead of failing the service's start when the queue is allocated.
inline constexpr std::size_t kMaxSpanCount = 1'048'576;
/// The longest schedule delay or export timeout, for the same reason.
inline constexpr std::chrono::milliseconds kMaxDelay = std::chrono::hours(24);

/// OTEL_EXPORTER_OTLP_HEADERS' form, "name=value,name=value" (values percent-decoded, empty
/// entries skipped), as header pairs. A name must be an HTTP token and a decoded value must not
/// hold a line break (it would start another header). A problem names the entry by its position
/// only: its text may be a secret. The tracing.headers key and the variables share it.
[[nodiscard]] std::expected<std::vector<std::pair<std::string, std::string>>, std::string>
parse_headers(std::string_view text);

/// `url` as it may be logged or printed: without userinfo ("user:token@") and without query or
/// fragment, either of which may carry a credential.
[[nodiscard]] std::string loggable_url(std::string_view url);

/// Whether `url` is an http:// or https:// URL: the only kind an OTLP/HTTP endpoint may be.
[[nodiscard]] bool is_http_url(std::string_view url);

/// Reads the variables above through `lookup`. An empty value counts as unset (OTel's rule).
/// Decisions where OTel leaves room:
///  - enabled is set only to false (OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none); "false"
///    or "otlp" leave it unset. Another value of either variable is an error.
///  - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, used as is, wins over OTEL_EXPORTER_OTLP_ENDPOINT, which
///    gets "/v1/traces" appended (one slash between). Either must be an http:// or https:// URL.
///  - OTEL_EXPORTER_OTLP_TRACES_HEADERS, when set, replaces OTEL_EXPORTER_OTLP_HEADERS entirely.
///  - Sampling is always parent-based here: traceidratio and always_on/off set the ratio for
///    new traces as their parentbased_ forms do. OTEL_TRACES_SAMPLER_ARG (a number in [0, 1])
///    is read for the ratio samplers and also when OTEL_TRACES_SAMPLER is unset, since this
///    project's default sampler is parentbased_traceidratio; a ratio sampler without it means
///    1.0.
///  - OTEL_BSP_SCHEDULE_DELAY / _EXPORT_TIMEOUT in milliseconds, _MAX_QUEUE_SIZE /
///    _MAX_EXPORT_BATCH_SIZE spans: positive integers.
/// Every invalid variable is reported, in one kInvalidInput error with a line per variable
/// (no other line breaks), each starting with the variable's name; a header's or a resource
/// attribute's text never appears.
[[nodiscard]] base::Result<EnvironmentSettings> read_environment(const EnvironmentLookup& lookup);

}  // namespace iw::otlp
