#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "iw/base/clock.h"
#include "iw/events/defect.h"
#include "iw/events/timestamp.h"

namespace iw::events {

/// How raw run records are judged and enriched. docs/ENRICHED_RECORD.md describes every rule.
struct EnrichOptions {
  /// The zone naive timestamps ("2025-09-15 10:30:00.000") are read in.
  TimeZone time_zone = TimeZone::utc();
  /// metrics.high_memory_usage is 1 when memory_used / 2^20 is strictly above this.
  double high_memory_mb = 150;
  /// metrics.high_cpu_usage is 1 when cpu_time is strictly above this.
  double high_cpu_seconds = 60;
  /// Larger raw records are the defect "oversized_record", without being parsed.
  std::size_t max_record_bytes = 1 << 20;
  /// Written as pipeline.enricher.
  std::string enricher_version = "0.1.0";
};

/// Where the raw record came from and when it is processed (pipeline.* fields).
struct RecordOrigin {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  /// From the raw record's Kafka header; "" if none (written as null).
  std::string_view execution_id;
  base::TimePoint processed_at;
};

/// What the service needs to count a run (business metrics of BRIEF §6). The views point into
/// the Enricher (its parser's string buffer, its event-id buffer) or at static strings: valid
/// until the next enrich() on the same Enricher, whatever `raw` and `out` become meanwhile.
struct RunFacts {
  std::string_view source, objet;
  /// Canonical: "SUCCESS", "FAILED" or "RUNNING".
  std::string_view etat;
  /// "" when absent, null or empty in the raw record.
  std::string_view zone, entreprise;
  /// end = Fin, or Debut + Duree secondes when there is no Fin.
  base::TimePoint start, end;
  /// Duree secondes as given, or Fin - Debut when absent (performance.duree_secondes).
  double duration_seconds = 0;
  std::optional<double> cpu_seconds;
  std::optional<std::int64_t> memory_bytes;
  /// event.id: 32 lowercase hex digits of XXH3-128 over the raw bytes.
  std::string_view event_id;
};

/// Decodes raw run records (BRIEF §2) and writes enriched ones (schema v1, BRIEF §3). Pure: no
/// I/O, no clock (processed_at comes from the caller). One per thread: it reuses its parser and
/// buffers, so enriching allocates nothing once warm (beyond growing `out` to its high mark).
class Enricher {
 public:
  explicit Enricher(EnrichOptions options);
  ~Enricher();
  Enricher(Enricher&&) noexcept;
  Enricher& operator=(Enricher&&) noexcept;

  /// Decodes, validates and normalises `raw` and writes the enriched record (schema v1, BRIEF
  /// §3) into `out` as one line of JSON without a newline, replacing its content.
  /// `readable_padding`: bytes readable after `raw`, whatever their content (pass >= 64,
  /// simdjson::SIMDJSON_PADDING, to avoid a copy; the result is the same either way). On a
  /// defect `out` is unspecified; the Defect's reason is one of enrich_defect_reasons() and its
  /// message names the field. docs/ENRICHED_RECORD.md has the rules.
  [[nodiscard]] DecodeResult<RunFacts> enrich(std::string_view raw, std::size_t readable_padding,
                                              const RecordOrigin& origin, std::string& out);

  [[nodiscard]] const EnrichOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Every defect reason enrich() can return, for metric labels created up front.
[[nodiscard]] std::span<const std::string_view> enrich_defect_reasons();

}  // namespace iw::events
