#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/clock.h"
#include "iw/base/error.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/record.h"

namespace iw::dlq {

/// One record of the dead-letter topic: where it sits there, and its dlq.* headers as
/// kafka::parse_dead_letter reads them (BRIEF §1, docs/DLQ.md). Views into the consumed record:
/// valid as long as that record lives.
struct DeadLetter {
  std::int32_t partition = 0;  ///< where it sits in the dead-letter topic
  std::int64_t offset = 0;
  base::TimePoint timestamp{};  ///< the Kafka timestamp of the dead-letter record
  std::optional<std::string_view> key;
  std::string_view value;
  kafka::ParsedDeadLetter letter;  ///< why, from where, and when it was dead-lettered

  [[nodiscard]] static DeadLetter from(const kafka::Record& record);

  /// Where the record came from: "FILE:LINE" for a record the producer rejected while reading a
  /// file, "TOPIC/PARTITION/OFFSET" for one a Kafka stage rejected, the topic alone when it has
  /// no position, "-" when nothing is known.
  [[nodiscard]] std::string origin() const;
  /// When it was dead-lettered: dlq.ts when it reads, else the Kafka timestamp (the two differ
  /// only by the dead-lettering stage's produce latency).
  [[nodiscard]] base::TimePoint dead_lettered_at() const;
};

/// Which records a command works on. Empty lists match everything.
struct Filter {
  std::vector<std::string> reasons;      ///< any of these dlq.reason values
  std::vector<std::string> stages;       ///< any of these dlq.stage values
  std::optional<base::TimePoint> since;  ///< dead-lettered at or after this instant

  [[nodiscard]] bool matches(const DeadLetter& record) const;
};

/// A Filter plus a limit on how many records are taken (0: no limit), in reading order.
class Selector {
 public:
  Selector(Filter filter, std::uint64_t limit) : filter_(std::move(filter)), limit_(limit) {}

  /// True when the record is taken; counts it against the limit.
  bool take(const DeadLetter& record);
  /// True once the limit is reached: reading further cannot select anything.
  [[nodiscard]] bool full() const { return limit_ != 0 && taken_ >= limit_; }
  [[nodiscard]] std::uint64_t taken() const { return taken_; }

 private:
  Filter filter_;
  std::uint64_t limit_;
  std::uint64_t taken_ = 0;
};

/// Reads --since: an RFC 3339 instant ("2025-09-15T10:30:00Z"; without an offset, UTC) or a
/// duration back from `now` ("2h", "1h30m", "7d"). kInvalidInput names both accepted forms.
[[nodiscard]] base::Result<base::TimePoint> parse_since(std::string_view text, base::TimePoint now);

}  // namespace iw::dlq
