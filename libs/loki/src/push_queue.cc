#include "iw/loki/push_queue.h"

#include <algorithm>
#include <iterator>

#include "iw/base/check.h"

namespace iw::loki {

PushQueue::PushQueue(std::size_t max_in_flight) : max_in_flight_(max_in_flight) {
  IW_CHECK(max_in_flight_ > 0, "at least one push must be allowed in flight");
}

void PushQueue::push(PushJob job) { queued_.push_back(std::move(job)); }

void PushQueue::push_front(std::vector<PushJob> parts) {
  queued_.insert(queued_.begin(), std::make_move_iterator(parts.begin()),
                 std::make_move_iterator(parts.end()));
}

void PushQueue::park(PushJob job) { parked_.push_back(std::move(job)); }

bool PushQueue::lane_free(std::size_t lane) const { return lane >= busy_.size() || !busy_[lane]; }

void PushQueue::occupy(std::size_t lane) {
  if (lane >= busy_.size()) busy_.resize(lane + 1, false);
  busy_[lane] = true;
  ++in_flight_;
}

std::optional<std::pair<bool, std::size_t>> PushQueue::pick(base::MonotonicTime now,
                                                            bool new_jobs) const {
  if (in_flight_ >= max_in_flight_) return std::nullopt;
  std::optional<std::size_t> due;
  for (std::size_t i = 0; i < parked_.size(); ++i) {
    const PushJob& job = parked_[i];
    if (job.not_before > now || !lane_free(job.batch.lane)) continue;
    if (!due || job.not_before < parked_[*due].not_before) due = i;
  }
  if (due) return std::pair{true, *due};
  if (!new_jobs) return std::nullopt;
  // The first job of each lane is the only one of its lane that may start: a later one waits
  // for it, whether it is in flight or not.
  for (std::size_t i = 0; i < queued_.size(); ++i) {
    if (lane_free(queued_[i].batch.lane)) return std::pair{false, i};
  }
  return std::nullopt;
}

std::optional<PushJob> PushQueue::start(base::MonotonicTime now, bool new_jobs) {
  const auto picked = pick(now, new_jobs);
  if (!picked) return std::nullopt;
  PushJob job;
  if (picked->first) {
    job = std::move(parked_[picked->second]);
    parked_.erase(parked_.begin() + static_cast<std::ptrdiff_t>(picked->second));
  } else {
    job = std::move(queued_[picked->second]);
    queued_.erase(queued_.begin() + static_cast<std::ptrdiff_t>(picked->second));
  }
  occupy(job.batch.lane);
  return job;
}

bool PushQueue::startable(base::MonotonicTime now, bool new_jobs) const {
  return pick(now, new_jobs).has_value();
}

void PushQueue::done(std::size_t lane) {
  IW_CHECK(lane < busy_.size() && busy_[lane], "done() for a lane with no push in flight");
  busy_[lane] = false;
  --in_flight_;
}

std::optional<base::MonotonicTime> PushQueue::next_due() const {
  std::optional<base::MonotonicTime> due;
  for (const PushJob& job : parked_) {
    if (!due || job.not_before < *due) due = job.not_before;
  }
  return due;
}

std::vector<PushJob> PushQueue::take_waiting() {
  std::vector<PushJob> out;
  out.reserve(queued_.size() + parked_.size());
  for (PushJob& job : queued_) out.push_back(std::move(job));
  for (PushJob& job : parked_) out.push_back(std::move(job));
  queued_.clear();
  parked_.clear();
  return out;
}

}  // namespace iw::loki
