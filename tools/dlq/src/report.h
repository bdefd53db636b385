#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "dead_letter.h"
#include "iw/kafka/record.h"

namespace iw::dlq {

/// How many characters of dlq.error a table row shows.
inline constexpr std::size_t kErrorColumnChars = 80;

/// `text` made safe for one line of a terminal: control characters become spaces, bytes that
/// are not UTF-8 become '?', and text longer than `max_chars` characters is cut to
/// `max_chars` ending in "...". max_chars 0 means no limit.
[[nodiscard]] std::string printable(std::string_view text, std::size_t max_chars = 0);

/// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
[[nodiscard]] bool is_utf8(std::string_view text);

/// Standard base64 with padding (RFC 4648 §4).
[[nodiscard]] std::string base64(std::string_view bytes);

/// The heading of `list`'s table, newline included.
[[nodiscard]] std::string table_header();
/// One row of `list`'s table, newline included: DLQ partition/offset, dlq.ts, stage, reason,
/// origin, key and the start of dlq.error. Long values push later columns right rather than
/// being cut, except the error.
[[nodiscard]] std::string table_row(const DeadLetter& record);

/// One record as a JSON object on one line, newline included: its position and Kafka timestamp
/// in the dead-letter topic, key (null when absent), every header in order, and the value. A
/// value that is not UTF-8 cannot be a JSON string: it then also comes exactly as
/// "value_base64" ("value" holds a lossy copy with U+FFFD).
[[nodiscard]] std::string json_line(const kafka::Record& record);

/// Counts of records by stage and reason. A missing header counts as "-".
class Tally {
 public:
  void add(std::string_view stage, std::string_view reason);
  [[nodiscard]] std::uint64_t total() const { return total_; }

  /// `list`'s closing lines: the count, then the counts by reason and by stage, largest first:
  ///   3 records
  ///   by reason: invalid_json 2, missing_source 1
  ///   by stage: producer 3
  [[nodiscard]] std::string totals_text() const;
  /// `summary` as a table: one row per stage and reason, sorted by both, then the total.
  [[nodiscard]] std::string summary_table() const;
  /// `summary --format json`: one line,
  /// {"total":3,"counts":[{"stage":"producer","reason":"invalid_json","records":2},...]}.
  [[nodiscard]] std::string summary_json() const;

 private:
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;
  std::uint64_t total_ = 0;
};

}  // namespace iw::dlq
