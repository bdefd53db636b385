#pragma once

#include <cstdint>

#include "iw/alerting/alert_event.h"

// The alert events an AlertHistory is told about, reduced to what it keeps.
namespace iw::alerting::history_events {

inline AlertEvent firing(std::uint64_t fingerprint, Instant at) {
  return {.status = EventStatus::kFiring, .starts_at = at, .fingerprint = fingerprint};
}

inline AlertEvent resolved(std::uint64_t fingerprint, Instant started, Instant at) {
  return {.status = EventStatus::kResolved,
          .starts_at = started,
          .ends_at = at,
          .fingerprint = fingerprint};
}

}  // namespace iw::alerting::history_events
