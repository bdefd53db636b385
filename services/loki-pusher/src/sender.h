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

/// Pushes batches to Loki from a thread of its own, one request at a time and in submission
/// order, so the polling thread never waits on HTTP. Each batch is encoded once; a batch that
/// Loki did not take (429, 5xx, no answer, 401/403/404) is sent again with the same bytes after
/// an exponential backoff with jitter, honouring Retry-After, for as long as it takes; batches
/// submitted meanwhile wait behind it. A 400 is never answered by sending again: the outcome
/// lists the refused entries. A 413 splits the batch in two. A 429 of Loki's active-stream limit
/// splits the batch by stream; a one-stream batch so answered is set aside and sent again after a
/// backoff while the others go on, and after `stream_limit_attempts` such answers its entries are
/// refused (stream_limit).
///
/// Keeps the "loki" readiness check: ready after a push Loki answered (2xx, 400, 413, a
/// stream-limit 429), not ready
/// while pushes fail. While there is nothing to push, GET /ready is probed: no answer or a 5xx
/// makes the check fail, any other answer pass (a gateway may not route /ready; a wrong
/// credential shows with the next push).
class Sender {
 public:
  /// Starts the thread. `metrics`, `readiness` and `logger` must outlive the sender.
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
  /// Ends the request in flight and the thread; every batch not pushed yet comes back from
  /// take_outcomes() as abandoned. Idempotent.
  void stop();

 private:
  struct Job {
    loki::Batch batch;
    std::size_t released_bytes = 0;
    int stream_limit_answers = 0;
    // An earlier answer says Loki may have stored (part of) it: see PushOutcome.
    bool may_have_landed = false;
    std::chrono::steady_clock::time_point not_before{};  // for a job set aside
  };

  void run();
  void probe();
  void send(Job job);
  void finish(Job job, loki::Rejections rejections, bool abandoned = false,
              bool earlier_attempt_may_have_landed = false);
  bool sleep_for(std::chrono::milliseconds delay);
  // The answer was Loki's active-stream limit: split, set aside or refuse.
  void stream_limited(Job job, const HttpResult& result);
  // Moves a set-aside job whose time has come into `job` (mutex_ held); false when none is due.
  bool take_due_parked(Job& job, std::chrono::steady_clock::time_point now);

  const SenderOptions options_;
  LokiClient client_;
  PusherMetrics& metrics_;
  metrics::Readiness& readiness_;
  const log::Logger& logger_;
  log::RateLimitedLog problems_;
  log::RateLimitedLog config_errors_;
  std::mt19937_64 random_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the thread: a job, or stop
  std::condition_variable changed_;  // wait(): an outcome, or idle
  std::deque<Job> jobs_;
  std::vector<Job> parked_;  // one-stream batches refused by the stream limit, waiting a retry
  std::vector<PushOutcome> outcomes_;
  bool in_flight_ = false;
  bool stopping_ = false;
  std::atomic<bool> failing_{false};

  std::thread thread_;
};

}  // namespace iw::loki_pusher
