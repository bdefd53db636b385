// STUB of the #19 contract so the wiring links before libs/otlp exists: replaced by the otlp
// branch at merge. Samples as the contract says; exports nothing (every span counted dropped).
#include <algorithm>
#include <cmath>
#include <limits>

#include "iw/otlp/tracer.h"

namespace iw::otlp {

Sampler::Sampler(double ratio)
    : ratio_(std::isnan(ratio) ? 0.0 : std::clamp(ratio, 0.0, 1.0)),
      threshold_(ratio_ >= 1.0 ? std::numeric_limits<std::uint64_t>::max()
                               : static_cast<std::uint64_t>(
                                     ratio_ * static_cast<double>(std::uint64_t{1} << 63) * 2.0)) {}

bool Sampler::sample_new_trace(std::string_view trace_id_hex) const {
  if (ratio_ <= 0.0) return false;
  if (ratio_ >= 1.0) return true;
  std::uint64_t low = 0;
  for (const char c :
       trace_id_hex.substr(trace_id_hex.size() >= 16 ? trace_id_hex.size() - 16 : 0)) {
    low = (low << 4) | static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return low < threshold_;
}

double Sampler::ratio() const { return ratio_; }

class BatchExporter::Impl {
 public:
  std::atomic<std::uint64_t> dropped{0};
};

BatchExporter::BatchExporter(ExporterOptions) : impl_(std::make_unique<Impl>()) {}
BatchExporter::~BatchExporter() = default;
void BatchExporter::submit(Span&&) noexcept { ++impl_->dropped; }
void BatchExporter::shutdown(std::chrono::milliseconds) {}
ExporterStats BatchExporter::stats() const { return {.dropped_export_failed = impl_->dropped}; }

std::string encode_json(const Resource&, const std::vector<Span>&) { return "{}"; }

base::Result<EnvironmentSettings> read_environment(
    const std::function<std::optional<std::string>(std::string_view)>&) {
  return EnvironmentSettings{};
}

}  // namespace iw::otlp
