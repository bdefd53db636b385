#include "sender.h"

#include <algorithm>
#include <string>

namespace iw::loki_pusher {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

Sender::Sender(LokiClientOptions client, SenderOptions options, PusherMetrics& metrics,
               metrics::Readiness& readiness, const log::Logger& logger)
    : options_(options),
      metrics_(metrics),
      readiness_(readiness),
      logger_(logger),
      problems_(logger, 10, std::chrono::minutes(1)),
      config_errors_(logger, 6, std::chrono::minutes(1)),
      queue_(std::max<std::size_t>(options.max_in_flight, 1)),
      random_(std::random_device{}()) {
  const std::size_t threads = std::max<std::size_t>(options_.max_in_flight, 1);
  for (std::size_t i = 0; i < threads; ++i)
    clients_.push_back(std::make_unique<LokiClient>(client));
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { work(i); });
}

Sender::~Sender() { stop(); }

void Sender::submit(loki::Batch batch) {
  const std::size_t bytes = batch.byte_size;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      outcomes_.push_back({.batch = std::move(batch), .abandoned = true, .released_bytes = bytes});
      return;
    }
    queue_.push({.batch = std::move(batch), .released_bytes = bytes});
  }
  wake_.notify_all();
}

std::vector<PushOutcome> Sender::take_outcomes() {
  std::lock_guard lock(mutex_);
  std::vector<PushOutcome> out;
  out.swap(outcomes_);
  return out;
}

bool Sender::idle() const {
  std::lock_guard lock(mutex_);
  return queue_.idle();
}

void Sender::wait(milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !outcomes_.empty() || queue_.idle(); });
}

void Sender::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& client : clients_) client->interrupt();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  std::lock_guard lock(mutex_);
  for (loki::PushJob& job : queue_.take_waiting()) {
    outcomes_.push_back(
        {.batch = std::move(job.batch), .abandoned = true, .released_bytes = job.released_bytes});
  }
  metrics_.backoff_seconds.Set(0);
}

void Sender::work(std::size_t index) {
  LokiClient& client = *clients_[index];
  const bool prober = index == 0;
  if (prober) probe(client);
  std::unique_lock lock(mutex_);
  next_probe_ = std::chrono::steady_clock::now() + options_.probe_interval;
  while (!stopping_) {
    // While Loki fails, only the pushes already in flight go on (each retried on its backoff):
    // starting more would only add failing requests.
    const bool new_jobs = !failing_.load(std::memory_order_relaxed);
    std::optional<loki::PushJob> job = queue_.start(std::chrono::steady_clock::now(), new_jobs);
    if (!job) {
      auto until = std::chrono::steady_clock::time_point::max();
      if (prober) until = next_probe_;
      if (const auto due = queue_.next_due()) until = std::min(until, *due);
      wake_.wait_until(lock, until, [&] {
        return stopping_ || queue_.startable(std::chrono::steady_clock::now(),
                                             !failing_.load(std::memory_order_relaxed));
      });
      if (stopping_) break;
      if (prober && queue_.quiet() && std::chrono::steady_clock::now() >= next_probe_) {
        lock.unlock();
        probe(client);
        lock.lock();
        next_probe_ = std::chrono::steady_clock::now() + options_.probe_interval;
      }
      continue;
    }
    const std::size_t lane = job->batch.lane;
    lock.unlock();
    send(client, std::move(*job));
    lock.lock();
    // After send() queued whatever the job became (parts, a set-aside job), so the lane's next
    // batch cannot start before them.
    queue_.done(lane);
    next_probe_ = std::chrono::steady_clock::now() + options_.probe_interval;
    changed_.notify_all();
    wake_.notify_all();
  }
}

double Sender::jitter() {
  std::lock_guard lock(mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

void Sender::probe(LokiClient& client) {
  const HttpResult result = client.ready();
  if (result.error == "interrupted") return;
  if (result.status == 0) {
    readiness_.set_not_ready("loki", "no answer from Loki");
  } else if (result.status >= 500) {
    readiness_.set_not_ready("loki", "Loki /ready answers " + std::to_string(result.status));
  } else {
    readiness_.set_ready("loki");
  }
}

void Sender::finish(loki::PushJob job, loki::Rejections rejections, bool abandoned,
                    bool earlier_attempt_may_have_landed) {
  {
    std::lock_guard lock(mutex_);
    outcomes_.push_back({.batch = std::move(job.batch),
                         .abandoned = abandoned,
                         .rejections = std::move(rejections),
                         .released_bytes = job.released_bytes,
                         .earlier_attempt_may_have_landed = earlier_attempt_may_have_landed});
  }
  changed_.notify_all();
}

void Sender::stream_limited(loki::PushJob job, const HttpResult& result) {
  const std::string response = result.body.substr(0, 512);
  ++job.stream_limit_answers;
  switch (
      loki::on_stream_limit(job.batch, job.stream_limit_answers, options_.stream_limit_attempts)) {
    case loki::StreamLimitAction::kSplitStreams: {
      std::vector<loki::Batch> parts = loki::split_streams(job.batch);
      problems_.warn("loki's active-stream limit refuses a stream; sending each stream alone",
                     {{"streams", parts.size()}, {"response", response}});
      // The bytes counted at submit(), shared out: the last part takes what is left.
      std::size_t left = job.released_bytes;
      std::vector<loki::PushJob> jobs;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::size_t bytes = i + 1 == parts.size() ? left : std::min(parts[i].byte_size, left);
        left -= bytes;
        // An ingester stores the streams it can and answers with the last error: each part may
        // be in Loki already (sent again, identical, it is kept once; but an entry more than
        // max_chunk_age / 2 older than its stream's newest is then refused as too far behind).
        jobs.push_back(
            {.batch = std::move(parts[i]), .released_bytes = bytes, .may_have_landed = true});
      }
      std::lock_guard lock(mutex_);
      queue_.push_front(std::move(jobs));
      return;
    }
    case loki::StreamLimitAction::kRetryLater: {
      const milliseconds delay = loki::backoff_delay(options_.backoff, job.stream_limit_answers,
                                                     result.retry_after, jitter());
      problems_.warn(
          "loki's active-stream limit refuses a stream; other streams go on, it is "
          "sent again later",
          {{"stream", job.batch.streams.front().labels},
           {"answers", static_cast<std::int64_t>(job.stream_limit_answers)},
           {"retry_in_ms", static_cast<std::int64_t>(delay.count())},
           {"response", response}});
      job.not_before = std::chrono::steady_clock::now() + delay;
      std::lock_guard lock(mutex_);
      queue_.park(std::move(job));
      return;
    }
    case loki::StreamLimitAction::kRefuse:
      break;
  }
  loki::Rejections rejections =
      loki::refuse_all(job.batch, loki::Reason::kStreamLimit,
                       "Loki's active-stream limit refused this stream " +
                           std::to_string(job.stream_limit_answers) + " times (429): " + response);
  metrics_.rejected(loki::Reason::kStreamLimit, RefusedBy::kLoki)
      .Increment(static_cast<double>(rejections.entries.size()));
  problems_.warn("loki's active-stream limit keeps refusing a stream; dead-lettering its entries",
                 {{"stream", job.batch.streams.front().labels},
                  {"entries", job.batch.entry_count},
                  {"answers", static_cast<std::int64_t>(job.stream_limit_answers)}});
  const bool may_have_landed = job.may_have_landed;
  finish(std::move(job), std::move(rejections), false, may_have_landed);
}

// False when woken to stop.
bool Sender::sleep_for(milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [&] { return stopping_; });
}

void Sender::send(LokiClient& client, loki::PushJob job) {
  // Encoded once: every attempt sends these same bytes, so Loki sees one request however many
  // times it arrives (same streams, timestamps and lines: it stores each entry once).
  const loki::PushBody body = loki::encode_push(job.batch, options_.encoding);
  int failures = 0;
  bool may_have_landed = job.may_have_landed;
  while (true) {
    if (failures > 0) metrics_.retries.Increment();
    const HttpResult result = client.push(body);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;  // interrupted, or answered after the drain's deadline: unknown
    }
    metrics_.request_bytes.Increment(static_cast<double>(body.bytes.size()));
    metrics_.push_latency.Observe(result.elapsed.count());
    const Verdict verdict = loki::classify(result.status, result.body);
    metrics_.push(verdict, result.status).Increment();

    if (verdict == Verdict::kRetry || verdict == Verdict::kMisconfigured) {
      ++failures;
      failing_ = true;
      // A 5xx may come after some of Loki's ingesters stored their part, and a request without
      // an answer may have been stored with its answer lost. Even "connection refused" can
      // follow a request that reached Loki: libcurl sends again on a new connection, once, when
      // a kept-alive one dies before answering.
      // A 429 is the distributor's, before anything is stored.
      may_have_landed = may_have_landed || (verdict == Verdict::kRetry && result.status != 429);
      const milliseconds delay =
          loki::backoff_delay(options_.backoff, failures, result.retry_after, jitter());
      metrics_.backoff_seconds.Set(std::chrono::duration<double>(delay).count());
      const std::string body_start = result.body.substr(0, 512);
      const log::Fields fields = {{"status", static_cast<std::int64_t>(result.status)},
                                  {"error", result.error},
                                  {"response", body_start},
                                  {"failures_in_a_row", static_cast<std::int64_t>(failures)},
                                  {"backoff_ms", static_cast<std::int64_t>(delay.count())},
                                  {"entries", job.batch.entry_count},
                                  {"url", client.push_url()}};
      if (verdict == Verdict::kMisconfigured) {
        // Credentials, tenant or URL: nothing will get through until an operator acts, and
        // nothing is dropped meanwhile.
        readiness_.set_not_ready("loki", "Loki refuses pushes with " +
                                             std::to_string(result.status) +
                                             " (check url, tenant and credentials)");
        config_errors_.error("loki refuses pushes: check url, tenant and credentials", fields);
      } else {
        readiness_.set_not_ready("loki", result.status == 0
                                             ? std::string("no answer from Loki")
                                             : "Loki answers " + std::to_string(result.status));
        problems_.warn("loki push failed; retrying the same batch", fields);
      }
      if (!sleep_for(delay)) break;
      metrics_.backoff_seconds.Set(0);
      continue;
    }

    readiness_.set_ready("loki");
    metrics_.backoff_seconds.Set(0);
    failing_ = false;
    if (failures > 0) {
      logger_.info("loki accepts pushes again", {{"failed_attempts", failures}});
    }
    if (verdict == Verdict::kAccepted) {
      finish(std::move(job), {});
      return;
    }
    if (verdict == Verdict::kStreamLimited) {
      // Loki answers, and takes other streams: not a failure of Loki's, nothing pauses. An
      // earlier attempt of this job that may have landed still may have when it is sent again.
      job.may_have_landed = may_have_landed;
      stream_limited(std::move(job), result);
      return;
    }
    if (verdict == Verdict::kTooLarge && job.batch.entry_count >= 2) {
      auto [first, second] = loki::split_batch(job.batch);
      problems_.warn("loki refuses a batch as too large; sending it in two halves",
                     {{"entries", job.batch.entry_count}, {"body_bytes", body.bytes.size()}});
      const std::size_t first_bytes = std::min(first.byte_size, job.released_bytes);
      std::vector<loki::PushJob> halves;
      halves.push_back({.batch = std::move(first), .released_bytes = first_bytes});
      halves.push_back(
          {.batch = std::move(second), .released_bytes = job.released_bytes - first_bytes});
      std::lock_guard lock(mutex_);
      queue_.push_front(std::move(halves));
      return;
    }
    loki::Rejections rejections;
    if (verdict == Verdict::kTooLarge) {
      rejections.messages.push_back("Loki answered 413 to a push of this entry alone (" +
                                    std::to_string(body.bytes.size()) +
                                    " body bytes): " + result.body.substr(0, 512));
      rejections.entries.push_back({.stream = 0, .entry = 0, .reason = loki::Reason::kLineTooLong});
    } else {
      rejections = loki::interpret_rejection(job.batch, result.body);
    }
    for (const loki::RejectedEntry& entry : rejections.entries) {
      metrics_.rejected(entry.reason, RefusedBy::kLoki).Increment();
    }
    problems_.warn("loki refused entries of a batch; dead-lettering them, the rest is stored",
                   {{"status", static_cast<std::int64_t>(result.status)},
                    {"refused", rejections.entries.size()},
                    {"entries", job.batch.entry_count},
                    {"unrecognized", rejections.unrecognized},
                    {"response", result.body.substr(0, 512)}});
    finish(std::move(job), std::move(rejections), false, may_have_landed);
    return;
  }
  metrics_.backoff_seconds.Set(0);
  finish(std::move(job), {}, /*abandoned=*/true);
}

}  // namespace iw::loki_pusher
