#include "iw/otlp/environment.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <type_traits>

namespace iw::otlp {
namespace {

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

std::string lower(std::string_view text) {
  std::string out(trim(text));
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// W3C Baggage's value encoding, which OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES
// use; a '%' not followed by two hex digits is kept as it is.
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
        hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// An HTTP header name (RFC 9110's token).
bool is_token(std::string_view name) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::ranges::all_of(name, [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

// "k=v,k=v" with percent-decoded values; empty entries are skipped. An error names the entry by
// its position only: its text may be a secret.
std::optional<std::string> parse_pairs(std::string_view text, bool header_names, Pairs& out) {
  std::size_t position = 0;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    ++position;
    if (entry.empty()) continue;
    const std::size_t equals = entry.find('=');
    const std::string_view key =
        equals == std::string_view::npos ? "" : trim(entry.substr(0, equals));
    if (key.empty()) {
      return "entry " + std::to_string(position) + " is not key=value";
    }
    if (header_names && !is_token(key)) {
      return "entry " + std::to_string(position) + " is not a valid header name";
    }
    std::string value = percent_decode(trim(entry.substr(equals + 1)));
    // A decoded line break would end the header and start another one.
    if (header_names && value.find_first_of("\r\n") != std::string::npos) {
      return "entry " + std::to_string(position) + " has a line break in its value";
    }
    out.emplace_back(std::string(key), std::move(value));
  }
  return std::nullopt;
}

template <typename Integer>
std::optional<Integer> parse_positive(std::string_view text) {
  text = trim(text);
  Integer value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::optional<double> parse_ratio(std::string_view text) {
  text = trim(text);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !(value >= 0.0 && value <= 1.0)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool is_http_url(std::string_view url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

std::expected<Pairs, std::string> parse_headers(std::string_view text) {
  Pairs headers;
  if (auto problem = parse_pairs(text, true, headers)) return std::unexpected(std::move(*problem));
  return headers;
}

std::string loggable_url(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const std::size_t scheme_end = url.find("://");
  const std::size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const std::size_t authority_end = url.find('/', authority_start);
  const std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, authority_start)) + std::string(authority.substr(at + 1)) +
         std::string(authority_end == std::string_view::npos ? std::string_view()
                                                             : url.substr(authority_end));
}

base::Result<EnvironmentSettings> read_environment(const EnvironmentLookup& lookup) {
  EnvironmentSettings settings;
  std::vector<std::string> errors;
  // Empty counts as unset, as OTel's configuration rules say.
  auto get = [&](std::string_view name) -> std::optional<std::string> {
    auto value = lookup(name);
    if (value && trim(*value).empty()) return std::nullopt;
    return value;
  };
  auto error = [&](std::string_view name, std::string_view what) {
    errors.push_back(std::string(name) + ": " + std::string(what));
  };

  if (const auto disabled = get("OTEL_SDK_DISABLED")) {
    const std::string value = lower(*disabled);
    if (value == "true") {
      settings.enabled = false;
    } else if (value != "false") {
      error("OTEL_SDK_DISABLED", "must be true or false");
    }
  }
  if (const auto exporter = get("OTEL_TRACES_EXPORTER")) {
    const std::string value = lower(*exporter);
    if (value == "none") {
      settings.enabled = false;
    } else if (value != "otlp") {
      error("OTEL_TRACES_EXPORTER", "only otlp (OTLP/HTTP) and none are supported");
    }
  }

  // An endpoint may carry credentials (userinfo, a query token): its text is never quoted.
  if (const auto traces = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
    if (is_http_url(trim(*traces))) {
      settings.endpoint = std::string(trim(*traces));
    } else {
      error("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "must be an http:// or https:// URL");
    }
  } else if (const auto base = get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
    std::string_view url = trim(*base);
    if (is_http_url(url)) {
      while (url.ends_with('/')) url.remove_suffix(1);
      settings.endpoint = std::string(url) + "/v1/traces";
    } else {
      error("OTEL_EXPORTER_OTLP_ENDPOINT", "must be an http:// or https:// URL");
    }
  }

  for (const std::string_view name :
       {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"}) {
    const auto value = get(name);
    if (!value) continue;
    if (auto headers = parse_headers(*value)) {
      settings.headers = std::move(*headers);
    } else {
      error(name, headers.error());
    }
    break;  // the traces-specific variable, when set, replaces the general one
  }

  const auto sampler = get("OTEL_TRACES_SAMPLER");
  const std::string sampler_name = sampler ? lower(*sampler) : "parentbased_traceidratio";
  if (sampler_name == "always_on" || sampler_name == "parentbased_always_on") {
    settings.sampling_ratio = 1.0;
  } else if (sampler_name == "always_off" || sampler_name == "parentbased_always_off") {
    settings.sampling_ratio = 0.0;
  } else if (sampler_name == "traceidratio" || sampler_name == "parentbased_traceidratio") {
    if (const auto arg = get("OTEL_TRACES_SAMPLER_ARG")) {
      if (const auto ratio = parse_ratio(*arg)) {
        settings.sampling_ratio = *ratio;
      } else {
        error("OTEL_TRACES_SAMPLER_ARG", "must be a number from 0 to 1");
      }
    } else if (sampler) {
      settings.sampling_ratio = 1.0;  // OTel's default argument of a ratio sampler
    }
  } else {
    error("OTEL_TRACES_SAMPLER",
          "must be one of parentbased_traceidratio, parentbased_always_on, "
          "parentbased_always_off, traceidratio, always_on, always_off");
  }

  if (const auto name = get("OTEL_SERVICE_NAME")) settings.service_name = std::string(trim(*name));

  if (const auto attributes = get("OTEL_RESOURCE_ATTRIBUTES")) {
    Pairs pairs;
    if (const auto problem = parse_pairs(*attributes, false, pairs)) {
      error("OTEL_RESOURCE_ATTRIBUTES", *problem);
    } else {
      for (auto& [key, value] : pairs) {
        settings.resource_attributes.push_back({std::move(key), std::move(value)});
      }
    }
  }

  // A count of spans or a number of milliseconds: a positive whole number up to `most` either
  // way.
  auto read_positive = [&](std::string_view name, auto& into, std::int64_t most,
                           std::string_view unit) {
    using Value = typename std::remove_reference_t<decltype(into)>::value_type;
    if (const auto value = get(name)) {
      if (const auto number = parse_positive<std::int64_t>(*value); number && *number <= most) {
        into = Value(*number);
      } else {
        error(name, "must be a whole number from 1 to " + std::to_string(most) + std::string(unit));
      }
    }
  };
  constexpr auto kMaxCount = static_cast<std::int64_t>(kMaxSpanCount);
  read_positive("OTEL_BSP_MAX_QUEUE_SIZE", settings.max_queue_spans, kMaxCount, "");
  read_positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", settings.max_batch_spans, kMaxCount, "");
  read_positive("OTEL_BSP_SCHEDULE_DELAY", settings.schedule_delay, kMaxDelay.count(),
                " of milliseconds");
  read_positive("OTEL_BSP_EXPORT_TIMEOUT", settings.export_timeout, kMaxDelay.count(),
                " of milliseconds");

  if (!errors.empty()) {
    std::string message;
    for (const std::string& text : errors) {
      if (!message.empty()) message += '\n';
      message += text;
    }
    return base::fail(base::ErrorCode::kInvalidInput, std::move(message));
  }
  return settings;
}

}  // namespace iw::otlp
