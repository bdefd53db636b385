#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iw/otlp/tracer.h"
#include "iw/runtime/service.h"

namespace iw::testing {

/// A span sink that keeps what it is given (docs/TRACING.md): a stage's spans without an
/// exporter.
class SpanRecorder final : public otlp::SpanSink {
 public:
  void submit(otlp::Span&& span) noexcept override {
    const std::lock_guard lock(mutex_);
    spans_.push_back(std::move(span));
  }
  [[nodiscard]] std::vector<otlp::Span> spans() const {
    const std::lock_guard lock(mutex_);
    return spans_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<otlp::Span> spans_;
};

/// The string attribute `key` of `span`; "" when it has none.
[[nodiscard]] inline std::string text_attribute(const otlp::Span& span, std::string_view key) {
  for (const otlp::Attribute& a : span.attributes) {
    if (a.key == key && std::holds_alternative<std::string>(a.value)) {
      return std::get<std::string>(a.value);
    }
  }
  return "";
}

/// `ctx` with `tracing` (and `clock`, when given) instead of its own.
[[nodiscard]] inline runtime::Context with_tracing(const runtime::Context& ctx,
                                                   const runtime::Tracing& tracing,
                                                   const base::Clock* clock = nullptr) {
  return {.info = ctx.info,
          .config = ctx.config,
          .logger = ctx.logger,
          .metrics = ctx.metrics,
          .readiness = ctx.readiness,
          .shutdown = ctx.shutdown,
          .clock = clock != nullptr ? *clock : ctx.clock,
          .args = ctx.args,
          .tracing = tracing};
}

}  // namespace iw::testing
