#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

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
///
/// One flat open-addressing table (linear probing, 1.5 slots per id, 24 bytes a slot) and a
/// ring of the ids in the order they came: no allocation after construction, about 44 bytes
/// per id, one cache line or two per lookup (a node-based map cost a node, a bucket and a queue
/// slot per id, ~70 bytes, and ~14 % of the pusher's CPU in lookups and allocations).
class RecentEvents {
 public:
  /// `capacity` 0: remembers nothing (nothing is a duplicate).
  explicit RecentEvents(std::size_t capacity);

  /// True when `key` was remembered for another record than `at`. A key of 0 never is.
  [[nodiscard]] bool duplicate(std::uint64_t key, const EntryRef& at) const;
  /// Remembers `key` as the record at `at` (the one taken for Loki).
  void remember(std::uint64_t key, const EntryRef& at);
  /// The entry of the record at `at` was refused for good (dead-lettered): a copy of it at
  /// another position (a replay of the dead letter) is not a duplicate, and is taken again.
  void refused(std::uint64_t key, const EntryRef& at);

  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint64_t key = 0;  // 0: empty
    std::int64_t offset = 0;
    std::int32_t partition = 0;
    std::int32_t topic = 0;  // EntryRef::topic; -1 - topic once refused
  };
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  [[nodiscard]] std::size_t home(std::uint64_t key) const;
  [[nodiscard]] std::size_t after(std::size_t slot) const;
  [[nodiscard]] std::size_t find(std::uint64_t key) const;
  void erase(std::size_t slot);
  static bool at(const Slot& slot, const EntryRef& ref);
  static Slot taken(std::uint64_t key, const EntryRef& ref);

  std::size_t capacity_;
  std::vector<Slot> slots_;  // capacity_ * 3 / 2 of them (at least capacity_ + 1)
  std::size_t size_ = 0;
  std::vector<std::uint64_t> order_;  // a ring of capacity_ keys; order_[next_] is the oldest
  std::size_t next_ = 0;
};

}  // namespace iw::loki
