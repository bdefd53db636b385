#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace iw::metrics {

/// The process metrics every Prometheus client exports, under the standard names, read from
/// procfs at each scrape:
///   process_cpu_seconds_total        counter  user + system CPU time
///   process_resident_memory_bytes    gauge
///   process_virtual_memory_bytes     gauge
///   process_start_time_seconds       gauge    Unix time the process started
///   process_open_fds                 gauge
///   process_max_fds                  gauge    soft limit on open files
///   process_threads                  gauge
/// A value that cannot be read (no procfs, unexpected format) is left out of the scrape rather
/// than reported as 0. Collect() does not throw on missing or malformed files and is safe to call
/// from several threads.
class ProcessCollector final : public prometheus::Collectable {
 public:
  /// Reads the calling process.
  ProcessCollector();
  /// Reads `proc_pid` (a /proc/<pid> directory: stat, limits, fd/) and the boot time from
  /// `proc_stat` (a /proc/stat file). For tests.
  ProcessCollector(std::filesystem::path proc_pid, const std::filesystem::path& proc_stat);

  [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::filesystem::path proc_pid_;
  // Fixed for the life of the process, so computed once.
  std::optional<double> start_time_seconds_;
};

}  // namespace iw::metrics
