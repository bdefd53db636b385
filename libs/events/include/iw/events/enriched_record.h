#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/clock.h"

namespace iw::events {

/// A field of the enriched record (schema v1, docs/ENRICHED_RECORD.md) a consumer reads.
enum class EnrichedField : std::uint8_t {
  kTimestamp,        ///< `@timestamp` (required)
  kSourceName,       ///< `source.name` (required)
  kObjetName,        ///< `objet.name` (required)
  kEtat,             ///< `etat` (required)
  kEventEnd,         ///< `event.end` (required)
  kDuration,         ///< `performance.duree_secondes` (required)
  kCpuTime,          ///< `performance.cpu_time_sec` (number or null; absent is null)
  kMemoryUsed,       ///< `performance.memory_used_bytes` (integer or null; absent is null)
  kLabelSource,      ///< `labels.source` (required)
  kLabelEtat,        ///< `labels.etat` (required)
  kLabelZone,        ///< `labels.zone` (optional)
  kLabelEntreprise,  ///< `labels.entreprise` (optional)
  kEventId,          ///< `event.id` (optional here; the enricher always writes it)
};

/// What an enriched record says, as far as the reader was asked to read it: fields not asked
/// for keep their defaults. Views point into the reader: valid until its next read().
struct EnrichedRecord {
  /// `@timestamp` (= event.start): any ISO 8601 time with an offset, read as
  /// parse_timestamp reads it (nanoseconds kept).
  base::TimePoint timestamp{};
  /// `source.name`: not empty.
  std::string_view source;
  /// `event.id`: the enricher's stable hash of the raw record (BRIEF §3; a resent record has the
  /// same one); "" when absent or null.
  std::string_view event_id;
  /// `objet.name`: may be empty.
  std::string_view objet;
  /// `etat`: "SUCCESS", "FAILED" or "RUNNING", exactly.
  std::string_view etat;
  /// `event.end`: RFC 3339 in UTC with at most 3 fraction digits, as the enricher writes it.
  std::chrono::sys_time<std::chrono::milliseconds> end{};
  /// `performance.duree_secondes`.
  double duration_seconds = 0;
  /// `performance.cpu_time_sec`; nullopt when null or absent.
  std::optional<double> cpu_seconds;
  /// `performance.memory_used_bytes`, a non-negative integer; nullopt when null or absent.
  std::optional<std::uint64_t> memory_bytes;
  /// `labels.*`: source and etat not empty; zone and entreprise "" when absent, null or "".
  struct Labels {
    std::string_view source, etat, zone, entreprise;
  } labels;
};

/// Why a record is not read. `message` is "<field>: <what>", e.g. "labels.zone: expected a
/// string", "record: not JSON (text after the object)"; `field` is its first part.
struct EnrichedRecordError {
  enum class Kind : std::uint8_t {
    kInvalid,    ///< not JSON, not an object, a value of the wrong type or form
    kMissing,    ///< a required field is absent ("<field>: required field is missing")
    kDuplicate,  ///< a field read, or its object, appears twice ("<field>: appears twice")
  };
  Kind kind = Kind::kInvalid;
  std::string_view field;
  std::string message;
};

using EnrichedRecordResult = std::expected<EnrichedRecord, EnrichedRecordError>;

/// The one reader of the enriched record (its writer is Enricher; both spell the field names
/// from one list). Reads only the fields it is constructed with, in one pass in any order
/// (simdjson On-Demand), and skips the rest unread, so each consumer pays for what it uses.
/// A record must be one JSON object and nothing after it; a field read must have its type,
/// appear once (and so must the object holding it), and be there when required. Field
/// defects are reported in document order, then text after the object, then missing fields in
/// the order of EnrichedField. One reader per thread: once warm (largest record seen), read()
/// allocates nothing on success.
class EnrichedRecordReader {
 public:
  explicit EnrichedRecordReader(std::initializer_list<EnrichedField> fields);
  ~EnrichedRecordReader();
  EnrichedRecordReader(EnrichedRecordReader&&) noexcept;
  EnrichedRecordReader& operator=(EnrichedRecordReader&&) noexcept;

  /// `readable_padding`: bytes readable after `record`, whatever their content. With at least
  /// 64 (simdjson::SIMDJSON_PADDING) the record is parsed where it is; with fewer it is copied
  /// into the reader first. The result is the same either way.
  [[nodiscard]] EnrichedRecordResult read(std::string_view record, std::size_t readable_padding);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::events
