#include "iw/loki/batcher.h"

#include <algorithm>
#include <functional>

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
  IW_CHECK(options_.lanes > 0, "a batcher needs at least one lane");
  open_.resize(options_.lanes);
}

std::size_t Batcher::lane_of(std::string_view stream) const {
  if (options_.lanes == 1) return 0;
  return std::hash<std::string_view>{}(stream) % options_.lanes;
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
  auto [known, inserted] = streams_.try_emplace(entry.stream);
  StreamState& state = known->second;
  if (inserted) state.lane = lane_of(entry.stream);
  if (options_.max_behind.count() > 0 && state.cut_before &&
      entry.timestamp_ns < state.newest_cut - options_.max_behind.count()) {
    return reject(Reason::kTooFarBehind,
                  "timestamp " + format_nanos(entry.timestamp_ns) +
                      " is too far behind the stream's newest entry already sent, " +
                      format_nanos(state.newest_cut));
  }

  const std::size_t lane = state.lane;
  Open& open = open_[lane];
  auto size_in_open = [&] {
    return entry_bytes(entry.line.size(), entry.trace_id) +
           (state.open_slot == kNotOpen ? entry.stream.size() : 0);
  };
  std::size_t size = size_in_open();
  if (open.batch.entry_count > 0 && (open.batch.byte_size + size > options_.max_batch_bytes ||
                                     open.batch.entry_count + 1 > options_.max_batch_entries)) {
    cut(lane);
    cut_full_ = true;
    size = size_in_open();
  }
  if (open.batch.entry_count == 0) open.since = clock_.monotonic_now();

  if (state.open_slot == kNotOpen) {
    state.open_slot = open.batch.streams.size();
    open.batch.streams.push_back(BatchStream{.labels = std::move(entry.stream), .entries = {}});
  }
  open.batch.streams[state.open_slot].entries.push_back(
      BatchEntry{.timestamp_ns = entry.timestamp_ns,
                 .line = std::move(entry.line),
                 .ref = entry.ref,
                 .event_key = entry.event_key,
                 .trace_id = entry.trace_id});
  open.batch.byte_size += size;
  ++open.batch.entry_count;
  open_bytes_ += size;
  ++open_entries_;

  if (open.batch.byte_size >= options_.max_batch_bytes ||
      open.batch.entry_count >= options_.max_batch_entries) {
    cut(lane);
    cut_full_ = true;
  }
  return std::nullopt;
}

void Batcher::cut(std::size_t lane) {
  Batch& batch = open_[lane].batch;
  if (batch.entry_count == 0) return;
  for (BatchStream& stream : batch.streams) {
    // Stable: entries with one timestamp keep the order they came in (Kafka order), so a batch
    // built again from the same records has the same bytes.
    std::ranges::stable_sort(stream.entries, {}, &BatchEntry::timestamp_ns);
    StreamState& state = streams_.find(stream.labels)->second;
    state.open_slot = kNotOpen;
    const std::int64_t newest = stream.entries.back().timestamp_ns;
    state.newest_cut = state.cut_before ? std::max(state.newest_cut, newest) : newest;
    state.cut_before = true;
  }
  std::ranges::sort(batch.streams, {}, &BatchStream::labels);
  batch.lane = lane;
  open_entries_ -= batch.entry_count;
  open_bytes_ -= batch.byte_size;
  cut_entries_ += batch.entry_count;
  cut_bytes_ += batch.byte_size;
  cut_.push_back(std::move(batch));
  batch = Batch{};
}

std::optional<std::size_t> Batcher::oldest_open() const {
  std::optional<std::size_t> oldest;
  for (std::size_t lane = 0; lane < open_.size(); ++lane) {
    if (open_[lane].batch.entry_count == 0) continue;
    if (!oldest || open_[lane].since < open_[*oldest].since) oldest = lane;
  }
  return oldest;
}

std::optional<Batch> Batcher::next() {
  if (open_entries_ > 0) {
    const base::MonotonicTime now = clock_.monotonic_now();
    while (const auto lane = oldest_open()) {
      if (now - open_[*lane].since < options_.max_batch_wait) break;
      cut(*lane);
    }
  }
  if (cut_.empty()) return std::nullopt;
  Batch batch = std::move(cut_.front());
  cut_.pop_front();
  cut_entries_ -= batch.entry_count;
  cut_bytes_ -= batch.byte_size;
  return batch;
}

void Batcher::flush() {
  while (const auto lane = oldest_open()) cut(*lane);
  cut_full_ = false;
}

bool Batcher::end_burst() {
  if (!in_burst()) return false;
  flush();
  return true;
}

std::optional<base::MonotonicTime> Batcher::due_at() const {
  if (!cut_.empty()) return clock_.monotonic_now();
  if (const auto lane = oldest_open()) return open_[*lane].since + options_.max_batch_wait;
  return std::nullopt;
}

std::size_t Batcher::pending_entries() const { return cut_entries_ + open_entries_; }

std::size_t Batcher::pending_bytes() const { return cut_bytes_ + open_bytes_; }

}  // namespace iw::loki
