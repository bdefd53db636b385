#include "iw/runtime/tracing.h"

#include <algorithm>

#include "iw/config/binder.h"
#include "iw/otlp/environment.h"

namespace iw::runtime {

void declare_tracing_keys(config::Schema& schema) {
  using S = TracingSettings;
  config::Binder<S> keys(schema);
  keys.key("tracing.endpoint", &S::endpoint)
      .describe(
          "Full OTLP/HTTP traces URL spans are sent to (http://host:4318/v1/traces); empty: "
          "no span is exported. OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT win over it.")
      .default_value("")
      .validate([](const config::Value& value) -> std::optional<std::string> {
        const auto& url = std::get<std::string>(value);
        if (url.empty() || otlp::is_http_url(url)) return std::nullopt;
        return "must be an http:// or https:// URL, or empty";
      });
  keys.key("tracing.sampling_ratio", &S::sampling_ratio)
      .describe(
          "Share of new traces sampled (0 to 1); a record that carries a traceparent follows "
          "its sampled flag. OTEL_TRACES_SAMPLER(_ARG) win over it.")
      .default_value(0.01)
      .min(0.0)
      .max(1.0);
  keys.key("tracing.max_queue_spans", &S::max_queue_spans)
      .describe("Finished spans waiting for export at most; more are dropped and counted.")
      .default_value(std::int64_t{2048})
      .min(std::int64_t{1})
      .max(static_cast<std::int64_t>(otlp::kMaxSpanCount));
  keys.key("tracing.max_batch_spans", &S::max_batch_spans)
      .describe("Spans in one export request at most.")
      .default_value(std::int64_t{512})
      .min(std::int64_t{1})
      .max(static_cast<std::int64_t>(otlp::kMaxSpanCount));
  keys.key("tracing.schedule_delay", &S::schedule_delay)
      .describe("Longest wait between two exports.")
      .default_value("1s")
      .min("1ms")
      .max("24h");
  keys.key("tracing.export_timeout", &S::export_timeout)
      .describe("Longest time one export request may take.")
      .default_value("10s")
      .min("1ms")
      .max("24h");
  keys.key("tracing.headers", &S::headers)
      .describe(
          "HTTP headers of every export request, name=value,name=value (values "
          "percent-encoded), e.g. an authorization; secret.")
      .validate([](const config::Value& value) -> std::optional<std::string> {
        auto parsed = otlp::parse_headers(std::get<std::string>(value));
        if (parsed) return std::nullopt;
        return parsed.error();
      });
  keys.check({"tracing.max_batch_spans", "tracing.max_queue_spans"}, [](const S& s) {
    if (s.max_batch_spans <= s.max_queue_spans) return std::optional<std::string>();
    return std::optional<std::string>(
        "tracing.max_batch_spans must not exceed tracing.max_queue_spans");
  });
}

TracingPlan plan_tracing(const TracingSettings& settings, const otlp::EnvironmentSettings& env,
                         otlp::Resource resource) {
  TracingPlan plan;
  otlp::ExporterOptions& exporter = plan.exporter;
  exporter.endpoint = env.endpoint.value_or(settings.endpoint);
  if (env.headers) {
    exporter.headers = *env.headers;
  } else if (auto headers = otlp::parse_headers(settings.headers.reveal())) {
    exporter.headers = std::move(*headers);  // validated when the configuration was loaded
  }
  exporter.max_queue_spans = env.max_queue_spans.value_or(settings.max_queue_spans);
  exporter.max_batch_spans =
      std::min(env.max_batch_spans.value_or(settings.max_batch_spans), exporter.max_queue_spans);
  exporter.schedule_delay = env.schedule_delay.value_or(settings.schedule_delay);
  exporter.export_timeout = env.export_timeout.value_or(settings.export_timeout);
  if (env.service_name) resource.service_name = *env.service_name;
  for (const otlp::Attribute& attribute : env.resource_attributes) {
    if (attribute.key == "service.name") {
      if (!env.service_name) {
        if (const auto* name = std::get_if<std::string>(&attribute.value)) {
          resource.service_name = *name;
        }
      }
      continue;
    }
    resource.extra.push_back(attribute);
  }
  exporter.resource = std::move(resource);
  plan.sampling_ratio = env.sampling_ratio.value_or(settings.sampling_ratio);
  plan.exporting = env.enabled.value_or(true) && !exporter.endpoint.empty();
  return plan;
}

const Tracing& Tracing::off() {
  static const Tracing off;
  return off;
}

TraceMetrics::TraceMetrics(prometheus::Registry& registry)
    : TraceMetrics(prometheus::BuildCounter()
                       .Name("ingestwatch_trace_spans_exported_total")
                       .Help("Spans the OTLP collector accepted.")
                       .Register(registry),
                   prometheus::BuildCounter()
                       .Name("ingestwatch_trace_spans_dropped_total")
                       .Help("Spans not exported, by reason: queue_full (the collector is slow "
                             "or down), export_failed, shutdown.")
                       .Register(registry)) {}

TraceMetrics::TraceMetrics(prometheus::Family<prometheus::Counter>& exported,
                           prometheus::Family<prometheus::Counter>& dropped)
    : exported_(exported.Add({})),
      queue_full_(dropped.Add({{"reason", "queue_full"}})),
      export_failed_(dropped.Add({{"reason", "export_failed"}})),
      shutdown_(dropped.Add({{"reason", "shutdown"}})) {}

void TraceMetrics::update(const otlp::ExporterStats& stats) {
  const auto grow = [](prometheus::Counter& counter, std::uint64_t now, std::uint64_t& last) {
    if (now > last) counter.Increment(static_cast<double>(now - last));
    last = std::max(last, now);
  };
  grow(exported_, stats.exported, last_.exported);
  grow(queue_full_, stats.dropped_queue_full, last_.dropped_queue_full);
  grow(export_failed_, stats.dropped_export_failed, last_.dropped_export_failed);
  grow(shutdown_, stats.dropped_shutdown, last_.dropped_shutdown);
}

}  // namespace iw::runtime
