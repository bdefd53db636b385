#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/clock.h"
#include "iw/kafka/record.h"

namespace iw::kafka {

// The dead-letter contract: the dlq.* headers of BRIEF §1 (docs/DLQ.md), written by every stage
// through DeadLetterHeaders and read back, by ingest-dlq, through parse_dead_letter().

/// Where a record that never was in Kafka starts in the file it was read from.
struct FilePosition {
  std::string_view file;          ///< dlq.file
  std::uint64_t line = 0;         ///< dlq.line, 1-based
  std::uint64_t byte_offset = 0;  ///< dlq.byte_offset, 0-based
};

/// A record too large for Kafka (or above a stage's maximum) is dead-lettered as
/// `oversized_record` with only its first bytes as the value; these headers name the whole.
struct Oversized {
  std::uint64_t original_size = 0;  ///< dlq.original_size: the whole value's length in bytes
  std::string_view sha256;          ///< dlq.sha256: 64 lowercase hex digits, of the whole value
};

/// The reason of a record too large to pass or to dead-letter whole.
inline constexpr std::string_view kOversizedRecord = "oversized_record";
/// The default of every stage's `dead_letter_head_bytes`: how much of an oversized record its
/// dead letter keeps.
inline constexpr std::size_t kDefaultDeadLetterHeadBytes = 4096;

/// An oversized record's dead-letter value and headers, computed from the whole value.
struct OversizedValue {
  std::string_view head;  ///< the first head_bytes of the value (a view into it)
  std::uint64_t original_size = 0;
  std::string sha256;  ///< hex

  /// The headers' part; valid while this lives.
  [[nodiscard]] Oversized headers() const { return {original_size, sha256}; }
};
[[nodiscard]] OversizedValue oversized_value(std::string_view value, std::size_t head_bytes);

/// Why and from where a record goes to the dead-letter topic.
struct DeadLetter {
  std::string_view reason;  ///< dlq.reason: a code from the stage's small, fixed set
  std::string_view error;   ///< dlq.error: what was wrong, for a person
  std::string_view stage;   ///< dlq.stage: "producer", "enricher", "loki-pusher", ...
  /// dlq.topic: the topic the record was read from (a Kafka stage) or meant for (the producer).
  std::string_view topic;
  /// dlq.partition, dlq.offset: where it was read; -1 for a record that never was in Kafka.
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  base::TimePoint at;  ///< dlq.ts
  /// dlq.file, dlq.line, dlq.byte_offset: set for a record read from a file (the producer's).
  std::optional<FilePosition> file;
  /// dlq.original_size, dlq.sha256: set when the value is only the record's first bytes.
  std::optional<Oversized> oversized;
  std::string_view execution_id;  ///< carried over when not empty
  std::string_view traceparent;   ///< carried over when not empty
};

/// The headers of one dead letter, ready for Producer::produce(), in the order every stage
/// writes them: the seven dlq.* headers every dead letter has, the file position when there is
/// one, the original size and hash of an oversized record, then execution_id and traceparent. Holds
/// the numbers and the timestamp it formats; the DeadLetter's strings must outlive it. Not
/// copyable: the views point into it.
class DeadLetterHeaders {
 public:
  explicit DeadLetterHeaders(const DeadLetter& letter);
  DeadLetterHeaders(const DeadLetterHeaders&) = delete;
  DeadLetterHeaders& operator=(const DeadLetterHeaders&) = delete;

  [[nodiscard]] std::span<const HeaderView> view() const { return {headers_.data(), count_}; }

 private:
  std::string partition_;
  std::string offset_;
  std::string at_;
  std::string line_;
  std::string byte_offset_;
  std::string original_size_;
  std::array<HeaderView, 14> headers_{};
  std::size_t count_ = 0;
};

/// A dead letter as read back from a record's headers: views into the record, valid while it
/// lives. A header that is missing reads as "" (text) or nullopt (numbers, time); one that is
/// present but does not read as its type (a partition that is not a number, a dlq.ts that is
/// not RFC 3339 UTC) reads as nullopt too and is named in `malformed`. A repeated header reads
/// as its last value, as Record::header() resolves repeats.
struct ParsedDeadLetter {
  std::string_view reason;
  std::string_view error;
  std::string_view stage;
  std::string_view topic;
  std::optional<std::int32_t> partition;  ///< -1: the record never was in Kafka
  std::optional<std::int64_t> offset;
  std::optional<base::TimePoint> at;
  std::string_view file;  ///< "" unless the record was read from a file
  std::optional<std::uint64_t> line;
  std::optional<std::uint64_t> byte_offset;
  std::optional<std::uint64_t> original_size;  ///< oversized records only
  std::string_view sha256;                     ///< "" unless oversized
  std::string_view execution_id;
  std::string_view traceparent;
  std::vector<std::string_view> malformed;  ///< names of headers present but unreadable
};

/// Reads the dead-letter headers of `record` in one pass over them.
[[nodiscard]] ParsedDeadLetter parse_dead_letter(const Record& record);

}  // namespace iw::kafka
