#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "iw/base/clock.h"
#include "iw/loki/entry.h"

namespace iw::loki {

/// One entry of a batch.
struct BatchEntry {
  std::int64_t timestamp_ns = 0;
  std::string line;
  EntryRef ref;
  std::uint64_t event_key = 0;  ///< Entry::event_key
  TraceId trace_id;             ///< Entry::trace_id: structured metadata `trace_id` when set
};

/// One stream of a batch; `entries` in timestamp order.
struct BatchStream {
  std::string labels;  ///< format_labels()
  std::vector<BatchEntry> entries;
};

/// What one push request carries. Streams in label order, entries of a stream in timestamp order
/// (entries with equal timestamps in the order they were added), so the same entries always
/// give the same bytes.
struct Batch {
  std::vector<BatchStream> streams;
  std::size_t entry_count = 0;
  std::size_t byte_size = 0;  ///< as counted against BatcherOptions::max_batch_bytes
  /// The lane its streams belong to (BatcherOptions::lanes): batches of different lanes have no
  /// stream in common. Parts of a split batch keep it.
  std::size_t lane = 0;

  /// Calls f(stream_index, entry_index, const BatchEntry&) for every entry.
  template <typename F>
  void for_each(F&& f) const {
    for (std::size_t s = 0; s < streams.size(); ++s) {
      for (std::size_t e = 0; e < streams[s].entries.size(); ++e) f(s, e, streams[s].entries[e]);
    }
  }
};

/// When batches are cut, and which entries are refused before they are sent. The three checks
/// that mirror Loki's time limits are off (0) unless set; set them to Loki's own values
/// (docs/LOKI.md) to dead-letter such entries here instead of learning it from a 400.
struct BatcherOptions {
  /// A batch is cut before it would exceed this many bytes: each entry's line plus
  /// kEntryOverheadBytes (and kTraceIdMetadataBytes when it has a trace id), plus each stream's
  /// labels once (about the protobuf size, before snappy). One entry larger than this is sent
  /// alone.
  std::size_t max_batch_bytes = 1 << 20;
  std::size_t max_batch_entries = 10'000;  ///< Both limits at least 1 (IW_CHECKed).
  /// A batch is due this long after its first entry was added, full or not.
  std::chrono::milliseconds max_batch_wait{1000};
  /// Longer lines are rejected (kLineTooLong). Loki's default max_line_size, "256KB", is
  /// 256 KiB (Loki reads sizes in powers of 1024).
  std::size_t max_line_bytes = 256 * 1024;
  /// Entries older than now - max_entry_age are rejected (kTooOld); Loki's
  /// reject_old_samples_max_age.
  std::chrono::nanoseconds max_entry_age{0};
  /// Entries later than now + max_future are rejected (kTooNew); Loki's creation_grace_period.
  std::chrono::nanoseconds max_future{0};
  /// Entries older than the newest entry already cut into a batch for the same stream minus
  /// max_behind are rejected (kTooFarBehind); Loki's max_chunk_age / 2 (1h by default). Loki's
  /// ingester reports these only for the last stream of a request, so this check is the
  /// reliable place to catch them.
  std::chrono::nanoseconds max_behind{0};
  /// Streams are shared out among this many lanes by a hash of their labels, and each batch
  /// holds the streams of one lane, filled and cut on its own (the limits above are per batch,
  /// so per lane). A stream always falls in the same lane, so batches of different lanes can be
  /// pushed at the same time without any stream's entries overtaking each other
  /// (docs/LOKI_PUSHER.md, "Pushes in flight"). At least 1 (IW_CHECKed).
  std::size_t lanes = 1;
};

/// Bytes counted per entry besides its line: protobuf framing and the timestamp.
inline constexpr std::size_t kEntryOverheadBytes = 20;

/// Bytes of an entry's `trace_id` structured metadata in the protobuf body, exactly: the
/// EntryAdapter field (tag, length) around a LabelPairAdapter of name "trace_id" (8 bytes) and
/// 32 hex digits, each with its tag and length: 2 + (2 + 8) + (2 + 32).
inline constexpr std::size_t kTraceIdMetadataBytes =
    2 + (2 + kTraceIdKey.size()) + (2 + TraceId::kSize);

/// What an entry counts against max_batch_bytes, its stream's labels apart.
[[nodiscard]] inline std::size_t entry_bytes(std::size_t line_bytes, const TraceId& trace_id) {
  return line_bytes + kEntryOverheadBytes + (trace_id.empty() ? 0 : kTraceIdMetadataBytes);
}

/// Groups entries into push requests: per stream, in timestamp order, cut by bytes, entry count
/// and age. Pure: time comes from the clock given; nothing is sent from here. Not thread-safe.
///
/// Memory is bounded by the caller: pending_bytes() says how much is held (the open batch and
/// the cut ones not yet taken); pause the input while it is too high.
class Batcher {
 public:
  /// `clock` must outlive the batcher.
  Batcher(BatcherOptions options, const base::Clock& clock);

  /// Adds `entry` to the open batch, cutting that batch first when `entry` would not fit.
  /// Returns the rejection instead when the entry breaks a limit above; it is then counted
  /// (rejected()) and dropped, and the caller dead-letters the record it came from.
  [[nodiscard]] std::optional<Rejection> add(Entry entry);

  /// The oldest batch that is due: a cut one, else an open one once it is max_batch_wait old.
  /// nullopt when nothing is due.
  [[nodiscard]] std::optional<Batch> next();

  /// Cuts the open batches now (draining on shutdown); next() then returns them.
  void flush();

  /// The input paused: cuts the open batches if a batch was cut full (max_batch_bytes or
  /// max_batch_entries) since the last flush, so the end of a burst goes now instead of
  /// max_batch_wait later. A trickle, which fills no batch, still waits max_batch_wait, and a
  /// steady flow gets at most one batch cut early per batch cut full. Returns whether it cut.
  bool end_burst();
  /// Whether end_burst() would cut something now.
  [[nodiscard]] bool in_burst() const { return cut_full_ && open_entries_ > 0; }

  /// When next() will have a batch without more input: now when one is due, the oldest open
  /// batch's deadline, or nullopt when empty. For the caller's poll timeout.
  [[nodiscard]] std::optional<base::MonotonicTime> due_at() const;

  /// The lane `stream` (its labels) falls in.
  [[nodiscard]] std::size_t lane_of(std::string_view stream) const;

  [[nodiscard]] bool empty() const { return cut_.empty() && open_entries_ == 0; }
  [[nodiscard]] std::size_t pending_entries() const;
  [[nodiscard]] std::size_t pending_bytes() const;

  /// Entries refused by add(), by reason (indexed by Reason).
  [[nodiscard]] std::uint64_t rejected(Reason reason) const {
    return rejected_[static_cast<std::size_t>(reason)];
  }

 private:
  // What the batcher knows of a stream: one lookup per entry.
  struct StreamState {
    std::size_t lane = 0;
    std::size_t open_slot = kNotOpen;  // index into its lane's open batch's streams
    // Newest timestamp cut into a batch, for max_behind.
    std::int64_t newest_cut = 0;
    bool cut_before = false;
  };
  static constexpr std::size_t kNotOpen = static_cast<std::size_t>(-1);
  struct Open {
    Batch batch;
    base::MonotonicTime since{};
  };

  void cut(std::size_t lane);
  // The lane whose open batch is oldest; nullopt when every one is empty.
  [[nodiscard]] std::optional<std::size_t> oldest_open() const;
  std::optional<Rejection> reject(Reason reason, std::string message);

  BatcherOptions options_;
  const base::Clock& clock_;
  std::vector<Open> open_;  // one per lane
  std::size_t open_entries_ = 0;
  std::size_t open_bytes_ = 0;
  // One entry per stream ever seen: streams come from a small allow-list of labels.
  std::unordered_map<std::string, StreamState> streams_;
  std::deque<Batch> cut_;
  std::size_t cut_entries_ = 0;
  std::size_t cut_bytes_ = 0;
  bool cut_full_ = false;  // a batch was cut full since the last flush
  std::array<std::uint64_t, kReasonCount> rejected_{};
};

}  // namespace iw::loki
