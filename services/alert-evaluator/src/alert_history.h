#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "iw/alerting/alert_event.h"

namespace iw::alert_evaluator {

/// What the alerts topic already holds: every firing and resolve written so far, by
/// fingerprint. A restart replays the input and emits the same transitions at the same
/// instants (the evaluation is deterministic); this tells it which of them were written before
/// the restart, so none is written twice, and the `startsAt` of alerts still firing.
class AlertHistory {
 public:
  void record(const alerting::AlertEvent& event);

  /// Whether this exact transition (fingerprint, status and instant) was written already.
  [[nodiscard]] bool contains(const alerting::AlertEvent& event) const;

  /// The `startsAt` of the episode firing at `at` according to the topic, if one was.
  [[nodiscard]] std::optional<alerting::Instant> firing_since(std::uint64_t fingerprint,
                                                              alerting::Instant at) const;

  /// The latest instant of any transition written (firing: startsAt; resolved: endsAt).
  [[nodiscard]] std::optional<alerting::Instant> latest() const { return latest_; }

  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  struct Entry {
    alerting::EventStatus status;
    alerting::Instant at;  // startsAt for firing, endsAt for resolved
    alerting::Instant starts_at;
  };
  std::unordered_map<std::uint64_t, std::vector<Entry>> by_fingerprint_;
  std::optional<alerting::Instant> latest_;
  std::size_t size_ = 0;
};

}  // namespace iw::alert_evaluator
