#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "iw/base/clock.h"

namespace iw::dlq {

/// The log start and end offsets of one partition when a read began: it then held the records
/// [begin, end).
struct PartitionRange {
  std::int32_t partition = 0;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  friend bool operator==(const PartitionRange&, const PartitionRange&) = default;
};

/// Decides when a read of a whole topic "from the beginning up to its current end" is over.
///
/// With the partitions' end offsets known (snapshotted before reading), the read is over once
/// every partition delivered its record at end - 1, and records appended since are not part of
/// it. Some end offsets are never delivered as records, though: a transaction's commit marker
/// occupies an offset, and a read_committed consumer skips aborted records. So the read also
/// ends once partitions are assigned and no record arrived for `idle_timeout` — the only rule
/// when the end offsets could not be queried.
class TopicEnd {
 public:
  enum class State {
    kReading,
    kReachedEnd,  ///< every partition delivered its last record
    kIdle,        ///< nothing arrived for idle_timeout after assignment
  };

  /// `ranges` empty: the end offsets are unknown and only the idle rule applies.
  TopicEnd(std::vector<PartitionRange> ranges, std::chrono::milliseconds idle_timeout);

  /// The consumer has its partitions; the idle clock starts here, since before assignment
  /// silence says nothing about the topic.
  void on_assigned(base::MonotonicTime now);
  [[nodiscard]] bool assigned() const { return assigned_at_.has_value(); }

  /// A record arrived. False when it is not part of this read: it lies at or past its
  /// partition's end offset (appended after the read began), or in a partition that did not
  /// exist then.
  bool on_record(std::int32_t partition, std::int64_t offset, base::MonotonicTime now);

  [[nodiscard]] State state(base::MonotonicTime now) const;

  /// Partitions not yet at their end, as [next offset expected, end): for the log line that
  /// says the read ended on the idle rule.
  [[nodiscard]] std::vector<PartitionRange> unfinished() const;

 private:
  std::vector<PartitionRange> ranges_;  // begin advances as records arrive
  std::chrono::milliseconds idle_timeout_;
  std::optional<base::MonotonicTime> assigned_at_;
  base::MonotonicTime last_activity_{};
};

}  // namespace iw::dlq
