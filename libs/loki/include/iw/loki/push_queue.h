#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "iw/base/clock.h"
#include "iw/loki/batcher.h"

namespace iw::loki {

/// A batch on its way to Loki, and what earlier answers said about it.
struct PushJob {
  Batch batch;
  /// The part of the pending bytes its outcome gives back.
  std::size_t released_bytes = 0;
  /// Answers of Loki's active-stream limit so far (on_stream_limit()).
  int stream_limit_answers = 0;
  /// An earlier answer says Loki may have stored (part of) it (settle()).
  bool may_have_landed = false;
  /// Set aside until then (park()).
  base::MonotonicTime not_before{};
};

/// Which batch may be pushed next while several pushes are in flight (docs/LOKI_PUSHER.md,
/// "Pushes in flight"): at most `max_in_flight` at a time, at most one per lane
/// (Batch::lane; a stream belongs to one lane, so no stream ever has two pushes in flight), and
/// the batches of a lane in the order they were queued, so Loki receives each stream's entries
/// in the order they were batched whatever order the answers come back in. Pure; not
/// thread-safe (the sender guards it).
class PushQueue {
 public:
  /// At least 1 (IW_CHECKed).
  explicit PushQueue(std::size_t max_in_flight);

  /// Queues a batch behind every other of its lane.
  void push(PushJob job);
  /// The parts of a job split while in flight (a 413, the stream limit), before everything
  /// queued in their lane, in the order given. Called while that job's lane is still busy.
  void push_front(std::vector<PushJob> parts);
  /// Sets a job aside until its not_before (a stream the stream limit refused): the batches
  /// behind it in its lane go on meanwhile. It is started again once due and its lane free.
  void park(PushJob job);

  /// The job to push now, if any: a set-aside job that is due, else the first queued job whose
  /// lane is free (queued jobs only when `new_jobs`: the sender holds them back while Loki
  /// fails). nullopt when none may start, or max_in_flight are in flight. Its lane is busy
  /// until done().
  [[nodiscard]] std::optional<PushJob> start(base::MonotonicTime now, bool new_jobs = true);
  /// Whether start() would give a job.
  [[nodiscard]] bool startable(base::MonotonicTime now, bool new_jobs = true) const;
  /// The push started on `lane` is over: its outcome is known, or it was split or set aside.
  void done(std::size_t lane);

  [[nodiscard]] std::size_t in_flight() const { return in_flight_; }
  /// Nothing queued, set aside or in flight.
  [[nodiscard]] bool idle() const { return queued_.empty() && parked_.empty() && in_flight_ == 0; }
  /// Nothing queued or in flight (set-aside jobs may wait).
  [[nodiscard]] bool quiet() const { return queued_.empty() && in_flight_ == 0; }
  /// When the first set-aside job is due; nullopt when none is set aside.
  [[nodiscard]] std::optional<base::MonotonicTime> next_due() const;
  /// Every job queued or set aside, taken out (the sender stopping); in-flight ones stay
  /// counted until done().
  [[nodiscard]] std::vector<PushJob> take_waiting();

 private:
  [[nodiscard]] bool lane_free(std::size_t lane) const;
  void occupy(std::size_t lane);
  // Indices of the job start() would take: into parked_ (first) or queued_ (second).
  [[nodiscard]] std::optional<std::pair<bool, std::size_t>> pick(base::MonotonicTime now,
                                                                 bool new_jobs) const;

  std::size_t max_in_flight_;
  std::size_t in_flight_ = 0;
  std::vector<bool> busy_;  // by lane
  std::deque<PushJob> queued_;
  std::vector<PushJob> parked_;
};

}  // namespace iw::loki
