#include "alertmanager_notifier.h"

#include <curl/curl.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "iw/base/check.h"
#include "iw/http/curl_setup.h"
#include "iw/http/request_loop.h"

namespace iw::alert_evaluator {
namespace {

using Steady = std::chrono::steady_clock;

// Prometheus's notifier posts at most this many alerts at once (maxBatchSize).
constexpr std::size_t kMaxBatch = 64;
// Enough of an error answer to say what Alertmanager objected to.
constexpr std::size_t kMaxResponseKept = 512;

prometheus::Family<prometheus::Counter>& posts_family(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("ingestwatch_alertmanager_posts_total")
      .Help(
          "Posts of alerts to Alertmanager, by outcome (success: a 2xx answer; error: a "
          "connection error, timeout or any other status).")
      .Register(registry);
}

// The endpoint for a base URL given with or without a trailing slash.
std::string endpoint_of(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + "/api/v2/alerts";
}

}  // namespace

struct AlertmanagerNotifier::Impl {
  Impl(AlertmanagerOptions opts, prometheus::Registry& registry, const log::Logger& log);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  struct Tracked {
    alerting::AlertEvent event;
    // Not sent since it appeared or changed: goes out with the next round, full or not.
    bool fresh = true;
    // Resolved alerts: when update() handed the resolve over.
    Steady::time_point resolved_seen{};
  };
  struct Batch {
    std::string body;
    std::size_t alerts = 0;
  };

  void run();
  std::vector<Batch> collect(bool full);
  void post(const Batch& batch);

  const AlertmanagerOptions options;
  const std::string endpoint;
  const log::Logger& logger;
  log::RateLimitedLog problems;
  prometheus::Counter& posts_succeeded;
  prometheus::Counter& posts_failed;
  prometheus::Counter& alerts_sent;
  prometheus::Histogram& post_latency;

  std::mutex mutex;
  std::condition_variable wake;
  // By fingerprint, so every round sends them in the same order.
  std::map<std::uint64_t, Tracked> firing;
  std::map<std::uint64_t, Tracked> resolved;
  bool prompt = false;
  std::atomic<bool> stopping{false};

  // Used by the thread, except that the destructor interrupts the loop: a post that hangs
  // ends at once instead of at its timeout.
  http::RequestLoop loop;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  http::CappedBody response{kMaxResponseKept};
  std::uint64_t failed_in_a_row = 0;

  std::thread thread;
};

AlertmanagerNotifier::Impl::Impl(AlertmanagerOptions opts, prometheus::Registry& registry,
                                 const log::Logger& log)
    : options(std::move(opts)),
      endpoint(endpoint_of(options.url)),
      logger(log),
      problems(log, 5, std::chrono::minutes(1)),
      posts_succeeded(posts_family(registry).Add({{"outcome", "success"}})),
      posts_failed(posts_family(registry).Add({{"outcome", "error"}})),
      alerts_sent(prometheus::BuildCounter()
                      .Name("ingestwatch_alertmanager_alerts_sent_total")
                      .Help("Alerts (firing or resolved) in posts that Alertmanager accepted; "
                            "each is counted again every time it is re-sent.")
                      .Register(registry)
                      .Add({})),
      post_latency(prometheus::BuildHistogram()
                       .Name("ingestwatch_alertmanager_post_latency_seconds")
                       .Help("Time to post a batch of alerts to Alertmanager, whatever the "
                             "outcome.")
                       .Register(registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05,
                                                                        0.1, 0.5, 1, 2.5, 5, 10})) {
  easy = curl_easy_init();
  IW_CHECK(easy != nullptr, "libcurl could not create a handle");

  headers = curl_slist_append(headers, "Content-Type: application/json");
  // A body over 1 kB would otherwise wait for "100 Continue", which servers may never send.
  headers = curl_slist_append(headers, "Expect:");
  if (!options.bearer_token.empty()) {
    const std::string authorization =
        "Authorization: Bearer " + std::string(options.bearer_token.reveal());
    headers = curl_slist_append(headers, authorization.c_str());
  }
  IW_CHECK(headers != nullptr, "libcurl could not build the request headers");

  http::set_common_options(easy,
                           {.user_agent = options.user_agent,
                            .connect_timeout = options.connect_timeout,
                            .request_timeout = options.request_timeout},
                           &response);
  curl_easy_setopt(easy, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  thread = std::thread([this] { run(); });
}

AlertmanagerNotifier::Impl::~Impl() {
  {
    // Under the lock, so the thread cannot miss the flag between its check and its wait.
    std::lock_guard lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  loop.interrupt();
  thread.join();
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
}

void AlertmanagerNotifier::Impl::run() {
  std::unique_lock lock(mutex);
  // New alerts go out at once (they are fresh); the first full round is one interval later.
  auto next_full = Steady::now() + options.resend_interval;
  while (true) {
    wake.wait_until(lock, next_full, [&] { return stopping.load() || prompt; });
    if (stopping) return;
    const auto now = Steady::now();
    const bool full = now >= next_full;
    if (full) next_full = now + options.resend_interval;
    prompt = false;
    const std::vector<Batch> batches = collect(full);
    lock.unlock();
    for (const Batch& batch : batches) {
      if (stopping) break;
      post(batch);
    }
    lock.lock();
  }
}

std::vector<AlertmanagerNotifier::Impl::Batch> AlertmanagerNotifier::Impl::collect(bool full) {
  const auto now = Steady::now();
  const auto wall = std::chrono::floor<alerting::Millis>(std::chrono::system_clock::now());
  std::erase_if(resolved, [&](const auto& entry) {
    return now - entry.second.resolved_seen >= options.resolved_retention;
  });
  std::vector<Batch> batches;
  auto add = [&](const alerting::AlertEvent& event, alerting::Instant ends_at) {
    if (batches.empty() || batches.back().alerts == kMaxBatch) batches.push_back({"[", 0});
    Batch& batch = batches.back();
    if (batch.alerts > 0) batch.body += ',';
    alerting::append_postable_alert(batch.body, event, ends_at);
    ++batch.alerts;
  };
  // Prometheus's deadline: Alertmanager resolves the alert by itself if no re-send comes in
  // time. In event time an alert may start after the wall clock (a replay of runs stamped in
  // the future); Alertmanager rejects an end before the start.
  const alerting::Instant deadline = wall + 4 * options.resend_interval;
  for (auto& [fingerprint, tracked] : firing) {
    if (!full && !tracked.fresh) continue;
    tracked.fresh = false;
    add(tracked.event, std::max(deadline, tracked.event.starts_at));
  }
  for (auto& [fingerprint, tracked] : resolved) {
    if (!full && !tracked.fresh) continue;
    tracked.fresh = false;
    add(tracked.event, tracked.event.ends_at.value_or(tracked.event.starts_at));
  }
  for (Batch& batch : batches) batch.body += ']';
  return batches;
}

void AlertmanagerNotifier::Impl::post(const Batch& batch) {
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, batch.body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(batch.body.size()));
  response.text.clear();
  const http::TransferResult result = loop.run(easy);
  if (stopping) return;  // abandoned: neither a success nor Alertmanager's fault
  post_latency.Observe(result.elapsed.count());
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  if (result.code == CURLE_OK && status >= 200 && status < 300) {
    posts_succeeded.Increment();
    alerts_sent.Increment(static_cast<double>(batch.alerts));
    if (failed_in_a_row > 0) {
      logger.info("alertmanager accepts alerts again", {{"failed_posts", failed_in_a_row}});
      failed_in_a_row = 0;
    }
    return;
  }
  // Not retried here: every alert goes out again with the next full round.
  posts_failed.Increment();
  ++failed_in_a_row;
  if (result.code != CURLE_OK) {
    problems.warn(
        "alertmanager post failed",
        {{"error", result.error}, {"alerts", batch.alerts}, {"failed_in_a_row", failed_in_a_row}});
  } else {
    problems.warn("alertmanager rejected alerts", {{"status", static_cast<std::int64_t>(status)},
                                                   {"response", response.text},
                                                   {"alerts", batch.alerts},
                                                   {"failed_in_a_row", failed_in_a_row}});
  }
}

AlertmanagerNotifier::AlertmanagerNotifier(AlertmanagerOptions options,
                                           prometheus::Registry& registry,
                                           const log::Logger& logger)
    : impl_(std::make_unique<Impl>(std::move(options), registry, logger)) {}

AlertmanagerNotifier::~AlertmanagerNotifier() = default;

void AlertmanagerNotifier::update(std::vector<alerting::AlertEvent> firing,
                                  std::vector<alerting::AlertEvent> resolved) {
  const auto now = Steady::now();
  bool wake = false;
  {
    std::lock_guard lock(impl_->mutex);
    std::map<std::uint64_t, Impl::Tracked> next;
    for (alerting::AlertEvent& event : firing) {
      const std::uint64_t fingerprint = event.fingerprint;
      const auto known = impl_->firing.find(fingerprint);
      const bool fresh = known == impl_->firing.end() || known->second.fresh ||
                         known->second.event.starts_at != event.starts_at;
      wake = wake || fresh;
      impl_->resolved.erase(fingerprint);
      next.insert_or_assign(fingerprint, Impl::Tracked{.event = std::move(event), .fresh = fresh});
    }
    impl_->firing = std::move(next);
    for (alerting::AlertEvent& event : resolved) {
      // Firing again since: the new episode is what Alertmanager must see.
      if (impl_->firing.contains(event.fingerprint)) continue;
      const std::uint64_t fingerprint = event.fingerprint;
      impl_->resolved.insert_or_assign(
          fingerprint,
          Impl::Tracked{.event = std::move(event), .fresh = true, .resolved_seen = now});
      wake = true;
    }
    if (wake) impl_->prompt = true;
  }
  if (wake) impl_->wake.notify_one();
}

std::size_t AlertmanagerNotifier::tracked() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->firing.size() + impl_->resolved.size();
}

}  // namespace iw::alert_evaluator
