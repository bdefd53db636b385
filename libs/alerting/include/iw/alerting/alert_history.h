#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "iw/alerting/alert_event.h"

namespace iw::alerting {

/// What the alerts topic already holds: every firing and resolve written so far, by
/// fingerprint. A restart replays the input and emits the same transitions at the same
/// instants (the evaluation is deterministic); this tells it which of them were written before
/// the restart, so none is written twice, and the `startsAt` of alerts still firing.
class AlertHistory {
 public:
  void record(const AlertEvent& event);

  /// Whether this exact transition (fingerprint, status and instant) was written already.
  [[nodiscard]] bool contains(const AlertEvent& event) const;

  /// The `startsAt` of the episode firing at `at` according to the topic, if one was.
  [[nodiscard]] std::optional<Instant> firing_since(std::uint64_t fingerprint, Instant at) const;

  /// The latest instant of any transition written (firing: startsAt; resolved: endsAt).
  [[nodiscard]] std::optional<Instant> latest() const { return latest_; }

  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  struct Entry {
    EventStatus status;
    Instant at;  // startsAt for firing, endsAt for resolved
    Instant starts_at;
  };
  // Orders entries, and an instant among them, by instant.
  struct ByInstant {
    bool operator()(const Entry& a, Instant b) const { return a.at < b; }
    bool operator()(Instant a, const Entry& b) const { return a < b.at; }
    bool operator()(const Entry& a, const Entry& b) const { return a.at < b.at; }
  };
  std::unordered_map<std::uint64_t, std::vector<Entry>> by_fingerprint_;
  std::optional<Instant> latest_;
  std::size_t size_ = 0;
};

}  // namespace iw::alerting
