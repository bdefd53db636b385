#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "iw/loki/entry.h"

namespace iw::loki {

/// Entry::event_key of an `event.id`: a 64-bit hash, never 0. Two different ids share a key with
/// a probability of about n² / 2⁶⁵ among n remembered ids (1e-9 for 200 000).
[[nodiscard]] std::uint64_t event_key(std::string_view event_id);

/// A bounded memory of the runs recently taken for Loki, by event.id, so that a record sent
/// twice (a producer resend: the same raw record at another offset, enriched again with another
/// processed_at and raw offset, so another line) is stored once (docs/LOKI_PUSHER.md,
/// "Duplicates"). A record read again at the same position (a rebalance, a restart, a rewind)
/// is not a duplicate: its entry is the same line, which Loki keeps once. Remembers the last
/// `capacity` ids; older ones are forgotten first. Pure; not thread-safe.
class RecentEvents {
 public:
  /// `capacity` 0: remembers nothing (nothing is a duplicate).
  explicit RecentEvents(std::size_t capacity) : capacity_(capacity) {}

  /// True when `key` was remembered for another record than `at`. A key of 0 never is.
  [[nodiscard]] bool duplicate(std::uint64_t key, const EntryRef& at) const;
  /// Remembers `key` as the record at `at` (the one taken for Loki).
  void remember(std::uint64_t key, const EntryRef& at);
  /// The entry of the record at `at` was refused for good (dead-lettered): a copy of it at
  /// another position (a replay of the dead letter) is not a duplicate, and is taken again.
  void refused(std::uint64_t key, const EntryRef& at);

  [[nodiscard]] std::size_t size() const { return where_.size(); }

 private:
  std::size_t capacity_;
  struct Taken {
    EntryRef at;
    bool refused = false;
  };
  std::unordered_map<std::uint64_t, Taken> where_;
  std::deque<std::uint64_t> order_;  // oldest first
};

}  // namespace iw::loki
