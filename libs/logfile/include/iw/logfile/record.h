#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/sha256.h"

namespace iw::logfile {

/// How a logs file lays out its records.
enum class Format {
  /// Decide from the first byte after an optional UTF-8 BOM and whitespace: `[` means a JSON
  /// array, anything else (including an empty file) newline-delimited JSON.
  kAuto,
  /// One record per line.
  kNdjson,
  /// One JSON array whose elements are the records.
  kJsonArray,
};

/// "auto", "ndjson" or "json_array".
[[nodiscard]] std::string_view format_name(Format format);
/// The inverse of format_name(); nullopt for anything else.
[[nodiscard]] std::optional<Format> parse_format(std::string_view text);

/// Why the reader itself can tell a record is unusable. It only splits: a record without a
/// problem may still be invalid JSON, which the caller finds out with a real parser.
enum class Problem {
  /// Longer than max_record_bytes; the record holds only its first max_record_bytes bytes, and
  /// RawRecord::overflow its whole length and SHA-256.
  kOversized,
  /// The input ends inside this record, or (empty record) before the array's closing `]`.
  kTruncated,
  /// Text where the array expects an element, `,` or `]` (a missing comma, stray text), or
  /// non-whitespace text outside the array. Wins over kOversized when both apply.
  kUnexpectedContent,
};

/// Stable snake_case code, for metric labels and `dlq.reason`: "oversized_record",
/// "truncated_record", "unexpected_content".
[[nodiscard]] std::string_view problem_name(Problem problem);
/// One sentence for people (`dlq.error`, logs).
[[nodiscard]] std::string_view describe(Problem problem);

/// A record longer than max_record_bytes, as a whole: read and hashed as it went by, never kept.
struct Overflow {
  std::uint64_t size = 0;  ///< the record's length in bytes (trailing whitespace excluded)
  base::Sha256::Digest sha256{};
};

/// One record exactly as it stands in the input.
struct RawRecord {
  /// The record's text, without surrounding whitespace (so an NDJSON line loses its `\n` and
  /// any `\r`). Points into the reader's buffer: valid until the reader is next called.
  std::string_view bytes;
  /// 1-based line of the first byte.
  std::uint64_t line = 0;
  /// 0-based offset of the first byte from the start of the input (a BOM counts).
  std::uint64_t byte_offset = 0;
  std::optional<Problem> problem;
  /// Set when the record is longer than max_record_bytes (`bytes` is then its head).
  std::optional<Overflow> overflow;
};

/// "line 12, byte 3456: <describe(problem)>"; for records with a problem.
[[nodiscard]] std::string describe(const RawRecord& record);

}  // namespace iw::logfile
