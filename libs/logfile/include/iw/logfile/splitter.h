#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "iw/base/sha256.h"
#include "iw/logfile/record.h"

namespace iw::logfile {

/// How to split; shared by RecordSplitter and RecordReader.
struct ReaderOptions {
  Format format = Format::kAuto;
  /// Longer records are cut to this many bytes and flagged kOversized. At least 1.
  std::size_t max_record_bytes = std::size_t{1} << 20;
  /// How many bytes each refill takes in. At least 1.
  std::size_t chunk_bytes = std::size_t{1} << 20;
  /// RecordReader only: called every 100 ms while a pipe or terminal has nothing to read, so
  /// the caller can serve its own work (delivery reports, metrics, a stop request) while it
  /// waits; returning false stops the wait, and next() returns nullopt as at the end of the
  /// input. Unset: reads simply block.
  std::function<bool()> while_waiting;
};

/// Splits a logs file into records without doing any I/O: the caller pours bytes in, in
/// chunks of any size, and takes records out. Records are found by structure, never by
/// parsing them, so an invalid record still comes out whole for the caller to dead-letter.
///
/// - A UTF-8 BOM at offset 0 is skipped (it still counts in offsets).
/// - NDJSON: every line holding non-whitespace text is a record; blank lines are not.
/// - JSON array: every element is a record. Objects and arrays end when the bracket depth
///   returns to 0 (brackets are counted, not matched; those inside strings do not count),
///   strings at their closing quote, numbers and literals at whitespace or any of `,]}[{"`.
///   Empty elements (`[,`, `,,`, `,]`) hold no bytes and are skipped.
/// - Where the array expects `,` or `]` (a missing comma, stray text), the text up to the next
///   top-level `,` or `]` is one kUnexpectedContent record. Non-whitespace text after the
///   closing `]` (or, with Format::kJsonArray forced, in place of the opening `[`) is one
///   kUnexpectedContent record running to the end of the input.
/// - An array cut short yields exactly one kTruncated record: the cut element, or, when there
///   is none or it was already reported, an empty record at the end of the input.
///
/// Memory is one buffer of max_record_bytes + chunk_bytes + kReadablePadding, allocated at
/// construction and never grown: a record longer than max_record_bytes keeps only its first
/// max_record_bytes; the rest of it is hashed (SHA-256) and counted as it is scanned, not kept,
/// and the record is reported once it ends, with its whole size and hash (RawRecord::overflow).
///
/// Protocol: call next() until it returns nullopt; then, unless at_end(), either write into
/// input_space() and commit(), or call finish() when the input is over. Records, their
/// positions and their problems do not depend on how the input was chunked.
class RecordSplitter {
 public:
  /// At least this many readable bytes (contents unspecified) follow every record view, so a
  /// view can go to simdjson (SIMDJSON_PADDING is 64) without a copy.
  static constexpr std::size_t kReadablePadding = 64;

  /// Aborts (IW_CHECK) when max_record_bytes or chunk_bytes is 0.
  explicit RecordSplitter(ReaderOptions options);

  /// The next record, or nullopt when more input is needed or the input is exhausted.
  /// The view stays valid until the next call of a non-const member.
  [[nodiscard]] std::optional<RawRecord> next();

  /// Where the next input bytes go: chunk_bytes writable bytes. Only once next() has asked for
  /// input (or before the first next()); aborts when misused.
  [[nodiscard]] std::span<char> input_space();
  /// Hands over the first `n` bytes written to input_space().
  void commit(std::size_t n);
  /// Copies as much of `bytes` as input_space() holds; returns how many bytes it took.
  std::size_t feed(std::string_view bytes);
  /// No more input: records cut short by the end come out flagged.
  void finish();

  /// Runs format detection on the input so far. True once format() is resolved; false means
  /// next() would ask for input first.
  bool detect_format();

  /// True when next() asked for input and none has come since.
  [[nodiscard]] bool needs_input() const;
  /// True once finish() was called and every record has come out.
  [[nodiscard]] bool at_end() const;
  /// The configured format, or the detected one once known (kNdjson for an empty input); kAuto
  /// until then.
  [[nodiscard]] Format format() const { return format_; }
  /// Input bytes scanned so far, for progress.
  [[nodiscard]] std::uint64_t bytes_consumed() const { return base_offset_ + pos_; }
  /// Size of the one buffer; fixed at construction.
  [[nodiscard]] std::size_t buffer_bytes() const { return capacity_ + kReadablePadding; }

  /// Forgets all input, as if newly constructed (keeps the buffer).
  void reset();

 private:
  enum class State {
    kDetect,
    kNdBetween,   // before a line's first non-whitespace byte
    kNdLine,      // inside a line
    kArrStart,    // before the array's `[`
    kArrExpect,   // after `[` or `,`
    kArrAfter,    // after an element
    kArrValue,    // inside an object, array or string element
    kArrScalar,   // inside a number or literal element
    kArrStretch,  // inside unexpected content between elements
    kArrClosed,   // after the closing `]`
    kJunk,        // non-whitespace text outside the array; runs to the end
    kDone,
  };

  [[nodiscard]] bool record_open() const;
  void open_record(State state);
  [[nodiscard]] RawRecord make_record(std::size_t end, std::optional<Problem> problem) const;
  [[nodiscard]] RawRecord empty_record(std::optional<Problem> problem) const;
  // Each returns a record when one is complete, or nullopt once the buffered input is used up
  // (or, detecting, not enough to decide).
  [[nodiscard]] std::optional<RawRecord> scan();
  [[nodiscard]] bool scan_detect();
  [[nodiscard]] std::optional<RawRecord> scan_ndjson();
  [[nodiscard]] std::optional<RawRecord> scan_array();
  [[nodiscard]] std::optional<RawRecord> scan_value();
  [[nodiscard]] std::optional<RawRecord> scan_stretch();
  // Through string content up to and including the closing quote, or to `e`.
  [[nodiscard]] const char* skip_string(const char* p, const char* e);
  [[nodiscard]] const char* finish_escape(const char* p, const char* e);
  [[nodiscard]] std::optional<RawRecord> at_eof();
  [[nodiscard]] std::optional<RawRecord> bound_open_record();
  [[nodiscard]] std::optional<RawRecord> complete(std::size_t end, std::optional<Problem> problem,
                                                  State next_state);
  void skip_whitespace();
  // Adds the open record's bytes [hashed_to_, to) to its hash (see hash_kept_).
  void hash_through(std::size_t to);

  ReaderOptions options_;
  std::size_t capacity_;
  std::unique_ptr<char[]> buf_;
  std::size_t end_ = 0;            // buffered input is [0, end_)
  std::size_t pos_ = 0;            // next byte to scan
  std::uint64_t base_offset_ = 0;  // input offset of buf_[0]
  std::uint64_t line_ = 1;         // line of buf_[pos_]
  bool finished_ = false;
  bool wants_input_ = false;
  Format format_;
  State state_ = State::kDetect;

  // The record being scanned.
  std::size_t rec_start_ = 0;
  std::uint64_t rec_line_ = 0;
  std::uint64_t rec_offset_ = 0;
  bool skipping_ = false;  // longer than max_record_bytes: its head kept, the rest hashed
  // Set once the open record's bytes went past max_record_bytes: its bytes before hashed_to_
  // (a buffer index) are in the hashes. hash_kept_ and size_kept_ cover them up to the last
  // byte that is not whitespace; hash_all_ and size_all_ all of them, the whitespace after too,
  // which becomes part of the record only if more text follows.
  bool hashing_ = false;
  std::size_t hashed_to_ = 0;
  base::Sha256 hash_kept_;
  base::Sha256 hash_all_;
  std::uint64_t size_kept_ = 0;
  std::uint64_t size_all_ = 0;
  std::uint64_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

}  // namespace iw::logfile
