#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "iw/log/logger.h"
#include "iw/loki/batcher.h"
#include "iw/loki/encode.h"
#include "iw/loki/push_policy.h"
#include "iw/loki/push_queue.h"
#include "iw/loki/push_response.h"
#include "iw/metrics/readiness.h"
#include "loki_client.h"
#include "pusher_metrics.h"

namespace iw::loki_pusher {

struct SenderOptions {
  loki::Encoding encoding = loki::Encoding::kProtobuf;
  loki::BackoffOptions backoff;
  /// While there is nothing to push, Loki's /ready is asked this often, so the "loki" readiness
  /// check says whether Loki can be reached even when no records flow.
  std::chrono::milliseconds probe_interval{10'000};
  /// Answers of Loki's active-stream limit a one-stream batch gets before its entries are
  /// refused as stream_limit (loki::on_stream_limit()).
  int stream_limit_attempts = 3;
  /// Pushes in flight at once, each on a connection and a thread of its own; at most one per
  /// lane (loki::Batch::lane), so each stream's batches are pushed one at a time, in order.
  std::size_t max_in_flight = 1;
};

/// What became of a submitted batch (or of a part of it, after a 413 or a stream-limit 429 split
/// it).
struct PushOutcome {
  loki::Batch batch;
  /// Not pushed: the sender stopped first. Nothing about its entries is known.
  bool abandoned = false;
  /// The entries refused (by a 400, or a lone entry too large for a 413); every other entry of
  /// `batch` was stored. Empty for a 2xx.
  loki::Rejections rejections;
  /// The part of the bytes counted at submit() that this outcome gives back.
  std::size_t released_bytes = 0;
  /// An earlier attempt got no answer or a 5xx: Loki may have stored (part of) the batch then,
  /// and refuse those entries now as behind or out of order.
  bool earlier_attempt_may_have_landed = false;
};

/// Pushes batches to Loki from threads of its own, so the polling thread never waits on HTTP:
/// up to `max_in_flight` requests at a time, each on a kept-alive connection of its own, at most
/// one per lane and the batches of a lane in submission order (loki::PushQueue): batches of
/// different lanes share no stream, so every stream's entries reach Loki in the order they were
/// batched, whatever order the answers come back in. Each batch is encoded once, by the thread
/// that pushes it; a batch that Loki did not take (429, 5xx, no answer, 401/403/404) is sent
/// again with the same bytes after an exponential backoff with jitter, honouring Retry-After,
/// for as long as it takes; the batches of its lane wait behind it, and while Loki fails no
/// other batch is started (those in flight are retried each on its own backoff). A 400 is never
/// answered by sending again: the outcome lists the refused entries. A 413 splits the batch in
/// two. A 429 of Loki's active-stream limit splits the batch by stream; a one-stream batch so
/// answered is set aside and sent again after a backoff while the others go on, and after
/// `stream_limit_attempts` such answers its entries are refused (stream_limit).
///
/// Keeps the "loki" readiness check: ready after a push Loki answered (2xx, 400, 413, a
/// stream-limit 429), not ready
/// while pushes fail. While there is nothing to push, GET /ready is probed: no answer or a 5xx
/// makes the check fail, any other answer pass (a gateway may not route /ready; a wrong
/// credential shows with the next push).
class Sender {
 public:
  /// Starts the threads (options.max_in_flight). `metrics`, `readiness` and `logger` must
  /// outlive the sender.
  Sender(LokiClientOptions client, SenderOptions options, PusherMetrics& metrics,
         metrics::Readiness& readiness, const log::Logger& logger);
  /// stop().
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  /// Queues a batch; never waits. Its byte_size is what its outcome(s) release.
  void submit(loki::Batch batch);
  /// The outcomes since the last call, in the order they happened.
  [[nodiscard]] std::vector<PushOutcome> take_outcomes();
  /// Nothing queued, nothing being pushed.
  [[nodiscard]] bool idle() const;
  /// Between a failed attempt (429, 5xx, no answer, 401/403/404) and the next answer that is
  /// not one: Loki is not taking anything.
  [[nodiscard]] bool failing() const { return failing_.load(std::memory_order_relaxed); }
  /// Waits up to `timeout` for an outcome to be ready or the sender to be idle.
  void wait(std::chrono::milliseconds timeout);
  /// Ends the requests in flight and the threads; every batch not pushed yet (in flight, queued
  /// or set aside) comes back from take_outcomes() as abandoned. Idempotent.
  void stop();

 private:
  // One thread per push in flight, each with its client (its connection); worker 0 also probes
  // /ready while there is nothing to push.
  void work(std::size_t index);
  void probe(LokiClient& client);
  // Pushes `job` until Loki answers it for good, it is split or set aside, or the sender stops.
  void send(LokiClient& client, loki::PushJob job);
  void finish(loki::PushJob job, loki::Rejections rejections, bool abandoned = false,
              bool earlier_attempt_may_have_landed = false);
  bool sleep_for(std::chrono::milliseconds delay);
  // The answer was Loki's active-stream limit: split, set aside or refuse.
  void stream_limited(loki::PushJob job, const HttpResult& result);
  double jitter();

  const SenderOptions options_;
  std::vector<std::unique_ptr<LokiClient>> clients_;  // one per push in flight
  PusherMetrics& metrics_;
  metrics::Readiness& readiness_;
  const log::Logger& logger_;
  log::RateLimitedLog problems_;
  log::RateLimitedLog config_errors_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the threads: a job, a lane free, or stop
  std::condition_variable changed_;  // wait(): an outcome, or idle
  loki::PushQueue queue_;
  std::vector<PushOutcome> outcomes_;
  std::mt19937_64 random_;  // mutex_
  std::chrono::steady_clock::time_point next_probe_;
  bool stopping_ = false;
  std::atomic<bool> failing_{false};

  std::vector<std::thread> threads_;
};

}  // namespace iw::loki_pusher
