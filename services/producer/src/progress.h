#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/clock.h"
#include "iw/log/logger.h"

namespace iw::producer {

/// Where a run stands, for progress lines and the final summary.
struct RunTotals {
  std::uint64_t read = 0;        ///< records taken from the input
  std::uint64_t bytes_read = 0;  ///< bytes of the input scanned
  std::optional<std::uint64_t> input_size;
  std::uint64_t sent = 0;                ///< delivered to the main topic
  std::uint64_t failed = 0;              ///< not delivered (main or dead-letter topic)
  std::uint64_t possibly_persisted = 0;  ///< of failed: may be in the log anyway
  std::uint64_t invalid = 0;             ///< rejected records, whatever was done with them
  std::uint64_t dead_lettered = 0;       ///< invalid records delivered to the dead-letter topic
  std::uint64_t in_flight = 0;
  std::uint64_t passes = 1;  ///< with --loop, how many times the input was started
  std::chrono::nanoseconds elapsed{0};
};

/// Shows progress: a bar redrawn in place on a terminal, a plain log line at an interval
/// otherwise (CI logs and containers should not fill with carriage returns).
class ProgressReporter {
 public:
  ProgressReporter(const log::Logger& logger, std::chrono::milliseconds log_interval,
                   bool terminal);

  void update(const RunTotals& totals, base::MonotonicTime now);
  /// Clears the bar, if one is drawn.
  void finish();

 private:
  const log::Logger& logger_;
  std::chrono::milliseconds log_interval_;
  bool terminal_;
  std::optional<base::MonotonicTime> last_;
  bool drawn_ = false;
};

/// The closing summary, for people, as a block of lines.
[[nodiscard]] std::string format_summary(const RunTotals& totals, const std::string& input,
                                         const std::string& topic, const std::string& dlq_topic,
                                         bool dry_run, bool interrupted);

/// The closing summary, for machines: the JSON "summary" log line.
void log_summary(const log::Logger& logger, const RunTotals& totals, std::string_view execution_id,
                 bool dry_run, bool interrupted);

}  // namespace iw::producer
