#include "iw/loki/batcher.h"

#include <algorithm>

#include "iw/base/check.h"
#include "iw/base/time_format.h"

namespace iw::loki {
namespace {

std::string format_nanos(std::int64_t ns) {
  return base::format_rfc3339_millis(base::TimePoint{std::chrono::nanoseconds{ns}});
}

}  // namespace

Batcher::Batcher(BatcherOptions options, const base::Clock& clock)
    : options_(options), clock_(clock) {
  IW_CHECK(options_.max_batch_bytes > 0 && options_.max_batch_entries > 0,
           "a batch must be allowed at least one entry and one byte");
}

std::optional<Rejection> Batcher::reject(Reason reason, std::string message) {
  ++rejected_[static_cast<std::size_t>(reason)];
  return Rejection{reason, std::move(message)};
}

std::optional<Rejection> Batcher::add(Entry entry) {
  if (entry.line.size() > options_.max_line_bytes) {
    return reject(Reason::kLineTooLong, "line is " + std::to_string(entry.line.size()) +
                                            " bytes, more than the limit of " +
                                            std::to_string(options_.max_line_bytes));
  }
  if (options_.max_entry_age.count() > 0 || options_.max_future.count() > 0) {
    const std::int64_t now = to_unix_nanos(clock_.now());
    if (options_.max_entry_age.count() > 0 &&
        entry.timestamp_ns < now - options_.max_entry_age.count()) {
      return reject(Reason::kTooOld, "timestamp " + format_nanos(entry.timestamp_ns) +
                                         " is older than the oldest accepted, " +
                                         format_nanos(now - options_.max_entry_age.count()));
    }
    if (options_.max_future.count() > 0 && entry.timestamp_ns > now + options_.max_future.count()) {
      return reject(Reason::kTooNew, "timestamp " + format_nanos(entry.timestamp_ns) +
                                         " is later than the newest accepted, " +
                                         format_nanos(now + options_.max_future.count()));
    }
  }
  if (options_.max_behind.count() > 0) {
    const auto newest = newest_cut_.find(entry.stream);
    if (newest != newest_cut_.end() &&
        entry.timestamp_ns < newest->second - options_.max_behind.count()) {
      return reject(Reason::kTooFarBehind,
                    "timestamp " + format_nanos(entry.timestamp_ns) +
                        " is too far behind the stream's newest entry already sent, " +
                        format_nanos(newest->second));
    }
  }

  auto size_in_open = [&] {
    const bool new_stream = !open_index_.contains(entry.stream);
    return entry.line.size() + kEntryOverheadBytes + (new_stream ? entry.stream.size() : 0);
  };
  std::size_t size = size_in_open();
  if (open_.entry_count > 0 && (open_.byte_size + size > options_.max_batch_bytes ||
                                open_.entry_count + 1 > options_.max_batch_entries)) {
    cut();
    size = size_in_open();
  }
  if (open_.entry_count == 0) open_since_ = clock_.monotonic_now();

  auto [slot, inserted] = open_index_.try_emplace(entry.stream, open_.streams.size());
  if (inserted)
    open_.streams.push_back(BatchStream{.labels = std::move(entry.stream), .entries = {}});
  open_.streams[slot->second].entries.push_back(BatchEntry{.timestamp_ns = entry.timestamp_ns,
                                                           .line = std::move(entry.line),
                                                           .ref = entry.ref,
                                                           .event_key = entry.event_key});
  open_.byte_size += size;
  ++open_.entry_count;

  if (open_.byte_size >= options_.max_batch_bytes ||
      open_.entry_count >= options_.max_batch_entries) {
    cut();
  }
  return std::nullopt;
}

void Batcher::cut() {
  if (open_.entry_count == 0) return;
  for (BatchStream& stream : open_.streams) {
    // Stable: entries with one timestamp keep the order they came in (Kafka order), so a batch
    // built again from the same records has the same bytes.
    std::ranges::stable_sort(stream.entries, {}, &BatchEntry::timestamp_ns);
    std::int64_t& newest =
        newest_cut_.try_emplace(stream.labels, stream.entries.back().timestamp_ns).first->second;
    newest = std::max(newest, stream.entries.back().timestamp_ns);
  }
  std::ranges::sort(open_.streams, {}, &BatchStream::labels);
  cut_entries_ += open_.entry_count;
  cut_bytes_ += open_.byte_size;
  cut_.push_back(std::move(open_));
  open_ = Batch{};
  open_index_.clear();
}

std::optional<Batch> Batcher::next() {
  if (cut_.empty() && open_.entry_count > 0 &&
      clock_.monotonic_now() - open_since_ >= options_.max_batch_wait) {
    cut();
  }
  if (cut_.empty()) return std::nullopt;
  Batch batch = std::move(cut_.front());
  cut_.pop_front();
  cut_entries_ -= batch.entry_count;
  cut_bytes_ -= batch.byte_size;
  return batch;
}

void Batcher::flush() { cut(); }

std::optional<base::MonotonicTime> Batcher::due_at() const {
  if (!cut_.empty()) return clock_.monotonic_now();
  if (open_.entry_count > 0) return open_since_ + options_.max_batch_wait;
  return std::nullopt;
}

std::size_t Batcher::pending_entries() const { return cut_entries_ + open_.entry_count; }

std::size_t Batcher::pending_bytes() const { return cut_bytes_ + open_.byte_size; }

}  // namespace iw::loki
