#pragma once

#include <cstdint>
#include <string_view>

namespace iw::otlp {

/// Parent-based sampling with a trace-id ratio for new traces (OTel's
/// parentbased_traceidratio): a record whose traceparent is sampled is traced, one whose
/// traceparent is not is not; a new trace is sampled when its trace id falls under `ratio`
/// (the trace id's last 16 hex digits, as OTel's TraceIdRatioBased). Pure.
///
/// The decision depends on the trace id only, so every process that sees the same trace id
/// with the same ratio decides the same way, and a lower ratio samples a subset of the traces a
/// higher one samples.
class Sampler {
 public:
  explicit Sampler(double ratio);  ///< clamped to [0, 1]; NaN is 0
  /// True when the trace id's last 16 hex digits, read as an unsigned 64-bit number, are below
  /// ratio * 2^64; ratio 1 samples every trace id, ratio 0 none. An id whose last 16 characters
  /// are not hex (or shorter than 16) is sampled only at ratio 1.
  [[nodiscard]] bool sample_new_trace(std::string_view trace_id_hex) const;
  [[nodiscard]] double ratio() const;

 private:
  double ratio_;
  std::uint64_t threshold_;  ///< sampled below it; unused at ratio 1 (2^64 does not fit)
};

}  // namespace iw::otlp
