#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/clock.h"
#include "iw/loggen/record.h"

namespace iw::loggen {

/// The five connectors the generator imitates, in a fixed order.
inline constexpr std::string_view kSources[] = {"Zoho", "PowerBI", "Efficy", "SharePoint",
                                                "EasyProjects"};

/// What to generate. Two generators built from equal options produce the same bytes.
struct GeneratorOptions {
  /// Seeds every random choice; nothing else is random.
  std::uint64_t seed = 1;
  /// Start of the first cycle (2025-09-15T00:00:00Z by default).
  base::TimePoint start = base::TimePoint{std::chrono::seconds{1'757'894'400}};
  /// Every (source, objet) runs once per step, at its own minute within the step. Must be > 0.
  std::chrono::minutes step{60};
  /// Number of records to produce; 0 means no end.
  std::size_t runs = 0;
  /// Probability that a run is FAILED, in [0, 1].
  double failure_rate = 0.03;
  /// 0: records have their natural size (about 300-400 bytes). Otherwise Description is padded
  /// with ASCII text so that every record is exactly this many bytes, unless it is already
  /// longer (benchmarks use 500).
  std::size_t target_record_bytes = 0;
  /// ID of the first record; IDs then increase by one per record, in output order.
  std::int64_t first_id = 1;
};

/// A pure, deterministic source of realistic run records: no I/O, no clock, no global state.
/// Records come out in end-time (`Fin`) order. Not thread-safe; use one per thread.
class Generator {
 public:
  /// Aborts if `step` is not positive or `failure_rate` is outside [0, 1].
  explicit Generator(GeneratorOptions options);

  /// The next record as fields, or nothing once `runs` records were produced. The views point
  /// into the generator and stay valid for its lifetime. Does not apply target_record_bytes.
  [[nodiscard]] std::optional<RunRecord> next_record();

  /// Appends the next record as single-line JSON (no newline) to `out` and returns true, or
  /// returns false and leaves `out` alone once `runs` records were produced. Allocates nothing
  /// once warmed up, apart from growing `out`.
  bool next(std::string& out);

  /// Records produced so far.
  [[nodiscard]] std::size_t produced() const { return produced_; }

  /// The (source, objet) pairs that run every cycle, in catalogue order.
  struct Job {
    std::string_view source;
    std::string_view objet;
    std::string transformation;
    std::string_view zone;
    std::string_view entreprise;
    double median_seconds;             // typical duration
    double cpu_share;                  // CPU seconds per wall second, before noise
    double base_memory_mb;             // resident memory of an idle run
    double memory_mb_per_second;       // growth with the amount of data handled
    std::chrono::milliseconds offset;  // schedule within the step
  };
  [[nodiscard]] std::span<const Job> jobs() const { return jobs_; }

 private:
  struct Run {
    base::TimePoint debut;
    std::chrono::microseconds duration;
    double cpu_time;
    std::int64_t memory_used;
    std::uint32_t job;
    std::int32_t failure;  // index into the failure catalogue, -1 when SUCCESS
  };

  void schedule_cycle();
  [[nodiscard]] Run make_run(std::uint32_t job, base::TimePoint cycle_start);
  [[nodiscard]] std::uint64_t next_u64();
  [[nodiscard]] double next_unit();  // uniform in [0, 1)

  GeneratorOptions options_;
  std::vector<Job> jobs_;
  std::vector<Run> pending_;  // a min-heap on (end, job)
  std::uint64_t state_[4];
  std::int64_t cycle_ = 0;
  std::size_t produced_ = 0;
};

}  // namespace iw::loggen
