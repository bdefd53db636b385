#include "iw/alerting/enriched_run.h"

#include "iw/events/enriched_record.h"

namespace iw::alerting {

// The schema is read by events::EnrichedRecordReader (libs/events, next to its writer); this
// only turns its view into the rules' Run.
struct EnrichedRunReader::Impl {
  events::EnrichedRecordReader reader{
      events::EnrichedField::kSourceName, events::EnrichedField::kObjetName,
      events::EnrichedField::kEtat,       events::EnrichedField::kEventEnd,
      events::EnrichedField::kDuration,   events::EnrichedField::kCpuTime,
      events::EnrichedField::kMemoryUsed, events::EnrichedField::kEventId};
};

EnrichedRunReader::EnrichedRunReader() : impl_(std::make_unique<Impl>()) {}
EnrichedRunReader::~EnrichedRunReader() = default;
EnrichedRunReader::EnrichedRunReader(EnrichedRunReader&&) noexcept = default;
EnrichedRunReader& EnrichedRunReader::operator=(EnrichedRunReader&&) noexcept = default;

base::Result<Run> EnrichedRunReader::read(std::string_view json) {
  // No padding is known to follow `json`: the reader copies it into its own buffer.
  auto record = impl_->reader.read(json, 0);
  if (!record) {
    const events::EnrichedRecordError& error = record.error();
    // This reader's word for a missing field, as its callers and tests know it.
    if (error.kind == events::EnrichedRecordError::Kind::kMissing) {
      return base::fail(base::ErrorCode::kInvalidInput, std::string(error.field) + ": missing");
    }
    return base::fail(base::ErrorCode::kInvalidInput, std::move(record.error().message));
  }
  const std::optional<Etat> etat = etat_from_name(record->etat);
  if (!etat) return base::fail(base::ErrorCode::kInvalidInput, "etat: not a canonical value");
  return Run{.source = record->source,
             .objet = record->objet,
             .etat = *etat,
             .end = record->end,
             .duration_seconds = record->duration_seconds,
             .cpu_seconds = record->cpu_seconds,
             .memory_bytes = record->memory_bytes
                                 ? std::optional<double>(static_cast<double>(*record->memory_bytes))
                                 : std::nullopt,
             .id = record->event_id};
}

}  // namespace iw::alerting
