#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "iw/http/curl_setup.h"
#include "iw/http/request_loop.h"
#include "iw/otlp/encode.h"
#include "iw/otlp/environment.h"
#include "iw/otlp/exporter.h"

namespace iw::otlp {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How one attempt at a batch ended.
enum class Outcome { kExported, kRetryable, kRefused, kInterrupted };

}  // namespace

class BatchExporter::Impl {
 public:
  explicit Impl(ExporterOptions o) : options_(std::move(o)) {
    // The settings refuse more than kMaxSpanCount; the clamp keeps a caller that skipped them
    // from allocating without bound.
    options_.max_queue_spans = std::clamp<std::size_t>(options_.max_queue_spans, 1, kMaxSpanCount);
    options_.max_batch_spans =
        std::clamp<std::size_t>(options_.max_batch_spans, 1, options_.max_queue_spans);
    // A zero delay would spin the sender; a huge one or a huge timeout would overflow a
    // deadline (a day is beyond any sensible setting).
    options_.schedule_delay =
        std::clamp<milliseconds>(options_.schedule_delay, milliseconds(1), kMaxDelay);
    options_.export_timeout =
        std::clamp<milliseconds>(options_.export_timeout, milliseconds(1), kMaxDelay);
    // The whole queue is allocated once: submit() then only moves a span into a slot.
    ring_.resize(options_.max_queue_spans);
    batch_.reserve(options_.max_batch_spans);
    for (const auto& [name, value] : options_.headers) {
      header_lines_.push_back(name + ": " + value);
    }
    header_lines_.emplace_back("Content-Type: application/json");
    sender_ = std::thread([this] { run(); });
  }

  ~Impl() { shutdown(milliseconds(1'000)); }

  void submit(Span&& span) noexcept {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        dropped_shutdown_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      if (count_ == ring_.size()) {
        dropped_queue_full_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      ring_[(head_ + count_) % ring_.size()] = std::move(span);
      ++count_;
      // Woken only when a batch is full: the sender's timer covers the rest.
      wake = count_ == options_.max_batch_spans;
    }
    if (wake) wake_.notify_one();
  }

  void shutdown(milliseconds deadline) {
    // A second caller (the destructor after the drain's call, another thread) waits for the
    // first and then finds it done.
    std::lock_guard once(shutdown_mu_);
    {
      std::lock_guard lock(mu_);
      if (joined_) return;
      if (!stopping_) {
        stopping_ = true;
        stop_at_ = Clock::now() + deadline;
      }
    }
    wake_.notify_all();
    {
      // The sender sends what is queued while time remains; past the deadline a request still
      // in flight is ended (and every later one at once), so the join below cannot hang.
      std::unique_lock lock(mu_);
      if (!done_.wait_until(lock, stop_at_, [this] { return sender_done_; })) {
        loop_.interrupt();
      }
    }
    sender_.join();
    std::lock_guard lock(mu_);
    joined_ = true;
  }

  [[nodiscard]] ExporterStats stats() const {
    return ExporterStats{
        .exported = exported_.load(std::memory_order_relaxed),
        .dropped_queue_full = dropped_queue_full_.load(std::memory_order_relaxed),
        .dropped_export_failed = dropped_export_failed_.load(std::memory_order_relaxed),
        .dropped_shutdown = dropped_shutdown_.load(std::memory_order_relaxed)};
  }

 private:
  void run() {
    auto next_send = Clock::now() + options_.schedule_delay;
    std::unique_lock lock(mu_);
    while (true) {
      wake_.wait_until(lock, stopping_ ? Clock::now() : next_send,
                       [this] { return stopping_ || count_ >= options_.max_batch_spans; });
      if (stopping_ && (count_ == 0 || Clock::now() >= stop_at_)) break;
      if (count_ == 0 ||
          (!stopping_ && count_ < options_.max_batch_spans && Clock::now() < next_send)) {
        if (Clock::now() >= next_send) next_send = Clock::now() + options_.schedule_delay;
        continue;
      }
      take_batch();
      lock.unlock();
      send_batch();
      lock.lock();
      next_send = Clock::now() + options_.schedule_delay;
    }
    // Left in the queue at the deadline: never sent.
    dropped_shutdown_.fetch_add(count_, std::memory_order_relaxed);
    for (; count_ > 0; --count_, head_ = (head_ + 1) % ring_.size()) ring_[head_] = Span{};
    sender_done_ = true;
    lock.unlock();
    done_.notify_all();
  }

  // Under mu_: moves up to a batch out of the queue.
  void take_batch() {
    batch_.clear();
    while (count_ > 0 && batch_.size() < options_.max_batch_spans) {
      batch_.push_back(std::move(ring_[head_]));
      ring_[head_] = Span{};
      head_ = (head_ + 1) % ring_.size();
      --count_;
    }
  }

  void send_batch() {
    const std::string body = encode_json(options_.resource, batch_);
    const auto size = static_cast<std::uint64_t>(batch_.size());
    Outcome outcome = attempt(body);
    if (outcome == Outcome::kRetryable && wait_before_retry()) outcome = attempt(body);
    switch (outcome) {
      case Outcome::kExported:
        exported_.fetch_add(size, std::memory_order_relaxed);
        break;
      case Outcome::kInterrupted:
        dropped_shutdown_.fetch_add(size, std::memory_order_relaxed);
        break;
      case Outcome::kRetryable:
      case Outcome::kRefused:
        dropped_export_failed_.fetch_add(size, std::memory_order_relaxed);
        break;
    }
    batch_.clear();
  }

  // False when shutdown's deadline comes first (the batch is then dropped as shutdown).
  bool wait_before_retry() {
    std::unique_lock lock(mu_);
    const auto until = Clock::now() + options_.retry_backoff;
    // A shutdown does not cut the backoff short (the retry may still fit in its deadline), but
    // the backoff never outlasts the deadline.
    while (true) {
      const auto limit = stopping_ ? std::min(until, stop_at_) : until;
      if (Clock::now() >= limit) break;
      wake_.wait_until(lock, limit);
    }
    return !(stopping_ && Clock::now() >= stop_at_);
  }

  Outcome attempt(const std::string& body) {
    milliseconds timeout = options_.export_timeout;
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        const auto left = std::chrono::duration_cast<milliseconds>(stop_at_ - Clock::now());
        if (left <= milliseconds(0)) return Outcome::kInterrupted;
        timeout = std::min(timeout, left);
      }
    }
    // A handle per request keeps the code simple; the RequestLoop's multi handle keeps the
    // connection alive between them.
    http::CappedBody answer(4'096);
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      report("cannot_init", "tracing: libcurl could not create a handle", {});
      return Outcome::kRetryable;
    }
    http::set_common_options(easy,
                             {.user_agent = "ingestwatch-otlp/" + options_.resource.service_version,
                              .connect_timeout = std::min(timeout, milliseconds(5'000)),
                              .request_timeout = timeout},
                             &answer);
    curl_slist* headers = nullptr;
    for (const std::string& line : header_lines_)
      headers = curl_slist_append(headers, line.c_str());
    curl_easy_setopt(easy, CURLOPT_URL, options_.endpoint.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    const http::TransferResult result = loop_.run(easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);

    if (result.code != CURLE_OK) {
      if (result.error == "interrupted") return Outcome::kInterrupted;
      // libcurl's text names the host and port, never the userinfo, the query or a header.
      report("unreachable", "tracing: the OTLP collector cannot be reached; spans are dropped",
             {.status = 0, .error = result.error});
      return Outcome::kRetryable;
    }
    if (status >= 200 && status < 300) return Outcome::kExported;
    const bool retryable = status == 429 || status >= 500;
    report(retryable ? "overloaded" : "refused",
           retryable ? "tracing: the OTLP collector is failing; spans are dropped"
                     : "tracing: the OTLP collector refuses the spans; they are dropped",
           {.status = status, .error = answer.text.substr(0, 200)});
    return retryable ? Outcome::kRetryable : Outcome::kRefused;
  }

  struct Failure {
    long status = 0;
    std::string error;
  };

  // At most one line a minute per kind of failure: a collector down must not flood the logs.
  void report(const std::string& kind, std::string_view message, const Failure& failure) {
    if (options_.logger == nullptr) return;
    const auto now = Clock::now();
    const auto last = last_logged_.find(kind);
    if (last != last_logged_.end() && now - last->second < std::chrono::minutes(1)) return;
    last_logged_[kind] = now;
    options_.logger->warn(message, {{"endpoint", loggable_endpoint_},
                                    {"status", static_cast<std::int64_t>(failure.status)},
                                    {"error", failure.error}});
  }

  ExporterOptions options_;
  const std::string loggable_endpoint_ = loggable_url(options_.endpoint);
  std::vector<std::string> header_lines_;  // secret values: never logged
  http::RequestLoop loop_;

  std::mutex shutdown_mu_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // the sender: a full batch, shutdown
  std::condition_variable done_;  // shutdown: the sender has finished
  std::vector<Span> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool stopping_ = false;
  bool sender_done_ = false;
  bool joined_ = false;
  Clock::time_point stop_at_{};

  // The sender thread's own.
  std::vector<Span> batch_;
  std::map<std::string, Clock::time_point> last_logged_;

  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> dropped_queue_full_{0};
  std::atomic<std::uint64_t> dropped_export_failed_{0};
  std::atomic<std::uint64_t> dropped_shutdown_{0};

  std::thread sender_;  // last: started once everything above exists
};

BatchExporter::BatchExporter(ExporterOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

BatchExporter::~BatchExporter() = default;

void BatchExporter::submit(Span&& span) noexcept { impl_->submit(std::move(span)); }

void BatchExporter::shutdown(std::chrono::milliseconds deadline) { impl_->shutdown(deadline); }

ExporterStats BatchExporter::stats() const { return impl_->stats(); }

}  // namespace iw::otlp
