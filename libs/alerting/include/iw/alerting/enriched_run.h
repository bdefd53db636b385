#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "iw/alerting/run.h"
#include "iw/base/error.h"

namespace iw::alerting {

/// Reads the fields the rules need from an enriched record (schema v1, docs/ENRICHED_RECORD.md):
/// source.name, objet.name, etat, event.end, performance.duree_secondes, cpu_time_sec and
/// memory_used_bytes, through events::EnrichedRecordReader (the schema's one reader). One
/// reader per thread, reused; allocates nothing once warm. Errors are kInvalidInput and name
/// the field ("source.name: missing", "etat: appears twice").
class EnrichedRunReader {
 public:
  EnrichedRunReader();
  ~EnrichedRunReader();
  EnrichedRunReader(EnrichedRunReader&&) noexcept;
  EnrichedRunReader& operator=(EnrichedRunReader&&) noexcept;

  /// The Run's views point into this reader's buffer: valid until the next read().
  [[nodiscard]] base::Result<Run> read(std::string_view json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::alerting
