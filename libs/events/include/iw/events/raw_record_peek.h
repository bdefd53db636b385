#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/clock.h"
#include "iw/events/defect.h"
#include "iw/events/timestamp.h"

namespace iw::events {

/// Where a value stands in a record: byte offset and length, quotes included.
struct TokenSpan {
  std::size_t offset = 0;
  std::size_t size = 0;
  [[nodiscard]] std::string_view in(std::string_view record) const {
    return record.substr(offset, size);
  }
  friend bool operator==(const TokenSpan&, const TokenSpan&) = default;
};

/// What the producer needs from a raw run record, found without decoding all of it.
struct RawRecordPeek {
  /// `Source`, unescaped: the Kafka key. Points into the peeker; valid until the next peek().
  std::string_view source;
  /// Where the `Debut` / `Fin` values stand in the record, for rewriting them in place.
  /// Absent when the field is.
  std::optional<TokenSpan> debut;
  std::optional<TokenSpan> fin;
};

/// Checks that a raw record is a JSON object with a non-empty string `Source`. Defects:
/// `invalid_json`, `not_an_object`, `missing_source`, `invalid_source`. Values other than
/// Source, Debut and Fin are skipped by structure, not validated: the enricher judges them.
/// One per thread; reuses its parser buffers, so peeking allocates nothing once warm.
class RawRecordPeeker {
 public:
  RawRecordPeeker();
  ~RawRecordPeeker();
  RawRecordPeeker(RawRecordPeeker&&) noexcept;
  RawRecordPeeker& operator=(RawRecordPeeker&&) noexcept;

  /// `readable_padding`: how many bytes after `record` may be read (simdjson reads ahead up to
  /// 64); with less, the record is copied into a padded buffer first.
  [[nodiscard]] DecodeResult<RawRecordPeek> peek(std::string_view record,
                                                 std::size_t readable_padding);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The instants a run record's Debut and Fin denote, each absent when the record has none.
struct RunTimes {
  std::optional<base::TimePoint> debut;
  std::optional<base::TimePoint> fin;
  /// When the job wrote the record: Fin, else Debut.
  [[nodiscard]] std::optional<base::TimePoint> written() const { return fin ? fin : debut; }
};

/// Reads Debut and Fin of `record` in `zone`. Defect `invalid_timestamp` when one is unreadable.
[[nodiscard]] DecodeResult<RunTimes> read_times(std::string_view record, const RawRecordPeek& peek,
                                                const TimeZone& zone);

/// Writes `record` to `out` (replacing its content) with Debut and Fin moved by `shift` and
/// written as RFC 3339 UTC with milliseconds; every other byte is kept. Used to replay history
/// as if it were happening now: durations are unchanged.
void shift_times(std::string& out, std::string_view record, const RawRecordPeek& peek,
                 const RunTimes& times, std::chrono::nanoseconds shift);

}  // namespace iw::events
