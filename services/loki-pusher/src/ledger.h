#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "iw/base/clock.h"
#include "iw/stage/input_ref.h"

namespace iw::loki_pusher {

/// What a dead letter of a record needs besides its value (the entry's line): its key and the
/// headers that follow it across services.
struct RecordMeta {
  std::optional<std::string> key;
  std::string execution_id;
  std::string traceparent;    ///< the record's own, "" when none
  base::TimePoint arrived{};  ///< its Kafka timestamp, for ingestwatch_record_latency_seconds
};

/// What hold() copies, read in place from the record.
struct RecordMetaView {
  std::optional<std::string_view> key;
  std::string_view execution_id;
  std::string_view traceparent;
  base::TimePoint arrived{};
};

/// What the pusher keeps of each record whose entry is on its way to Loki (pure; the polling
/// thread's): a batch carries only the line, and a dead letter of the record needs its key and
/// headers. The stage tracks the record's offset; the ledger only the record's meta, by the
/// stage's reference, until the entry's outcome is known.
class Ledger {
 public:
  /// An entry of the record went into a batch. The same record read again (its partition
  /// rewound, or revoked and assigned back) while its first entry is still on its way is held
  /// once more: one release() per hold().
  /// The key and headers are kept in one allocation (with the map's node, two per record).
  void hold(const stage::InputRef& ref, const RecordMetaView& meta);
  /// Hands back what hold() kept, and forgets it with the last copy; nullopt when nothing is
  /// held. For a dead letter.
  std::optional<RecordMeta> release(const stage::InputRef& ref);
  /// The same, for an entry Loki took: only the record's arrival is needed, no string is
  /// copied.
  std::optional<base::TimePoint> release_arrival(const stage::InputRef& ref);

  /// Entries held (hold() calls not released yet).
  [[nodiscard]] std::size_t held() const { return held_entries_; }
  /// About the memory held for dead letters, for the pending-bytes limit.
  [[nodiscard]] std::size_t held_bytes() const { return held_bytes_; }

 private:
  // The key, the execution id and the traceparent one after the other in `text`.
  struct Held {
    std::string text;
    std::uint32_t key_size = 0;
    std::uint32_t execution_id_size = 0;
    bool has_key = false;
    std::uint32_t copies = 0;
    base::TimePoint arrived{};
    [[nodiscard]] RecordMeta meta() const;
  };
  // stage::pack() where the reference fits it (every real one), the fields mixed otherwise.
  struct Hash {
    std::size_t operator()(const stage::InputRef& ref) const;
  };
  static std::size_t meta_bytes(const Held& held);

  std::unordered_map<stage::InputRef, Held, Hash> held_;
  std::size_t held_entries_ = 0;
  std::size_t held_bytes_ = 0;
};

}  // namespace iw::loki_pusher
