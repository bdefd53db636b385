#include "pusher_metrics.h"

namespace iw::loki_pusher {

namespace {

prometheus::Counter& counter(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge& gauge(prometheus::Registry& registry, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

PusherMetrics::PusherMetrics(prometheus::Registry& registry)
    : entries_pushed(counter(registry, "ingestwatch_loki_entries_pushed_total",
                             "Entries Loki stored (a 2xx answer, or the entries a 400 did not "
                             "refuse).")),
      bytes_pushed(counter(registry, "ingestwatch_loki_bytes_pushed_total",
                           "Line bytes of the entries Loki stored.")),
      request_bytes(counter(registry, "ingestwatch_loki_request_bytes_total",
                            "Push request bodies sent to Loki, as sent (compressed), every "
                            "attempt included.")),
      retries(counter(registry, "ingestwatch_loki_retries_total",
                      "Pushes of a batch that had been sent before (after a 429, a 5xx, no "
                      "answer, or a configuration error).")),
      push_latency(prometheus::BuildHistogram()
                       .Name("ingestwatch_loki_push_latency_seconds")
                       .Help("Time from sending a push request to Loki's answer (or the "
                             "failure), whatever the outcome.")
                       .Register(registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01,
                                                                        0.025, 0.05, 0.1, 0.25, 0.5,
                                                                        1, 2.5, 5, 10, 30})),
      backoff_seconds(gauge(registry, "ingestwatch_loki_backoff_seconds",
                            "Wait before the next push attempt of a batch Loki did not take; 0 "
                            "when not backing off.")),
      paused_partitions(gauge(registry, "ingestwatch_loki_paused_partitions",
                              "Input partitions paused because too much is pending for Loki.")),
      pending_bytes(gauge(registry, "ingestwatch_loki_pending_bytes",
                          "Bytes held for Loki: entries being batched, batches queued or in "
                          "flight, and what their dead letters would need.")),
      duplicates(counter(registry, "ingestwatch_duplicate_records_total",
                         "Runs not pushed to Loki: a run with the same event.id (a record sent "
                         "twice) was taken recently.")),
      pushes_(
          prometheus::BuildCounter()
              .Name("ingestwatch_loki_pushes_total")
              .Help("Push requests to Loki by outcome (accepted, partly_rejected, retry, "
                    "misconfigured, too_large, stream_limited) and HTTP status (none: no answer).")
              .Register(registry)) {
  auto& rejected = prometheus::BuildCounter()
                       .Name("ingestwatch_loki_rejected_entries_total")
                       .Help(
                           "Entries refused, by reason and by whom (pusher: before sending, "
                           "per the configured limits; loki: listed in a 400). Each one is "
                           "dead-lettered.")
                       .Register(registry);
  for (const loki::Reason reason : loki::all_reasons()) {
    const std::string name(loki::reason_name(reason));
    const auto index = static_cast<std::size_t>(reason);
    rejected_[0][index] = &rejected.Add({{"reason", name}, {"by", "pusher"}});
    rejected_[1][index] = &rejected.Add({{"reason", name}, {"by", "loki"}});
  }
  // The usual answers exist from the start, so rate() has a series before the first one.
  for (const auto& [verdict, status] : {std::pair{Verdict::kAccepted, 204L},
                                        {Verdict::kPartlyRejected, 400L},
                                        {Verdict::kRetry, 0L},
                                        {Verdict::kRetry, 429L},
                                        {Verdict::kRetry, 500L},
                                        {Verdict::kRetry, 503L},
                                        {Verdict::kStreamLimited, 429L},
                                        {Verdict::kMisconfigured, 401L}}) {
    (void)push(verdict, status);
  }
}

prometheus::Counter& PusherMetrics::push(Verdict verdict, long status) {
  const std::string_view outcome = loki::verdict_name(verdict);
  const std::string_view label = loki::status_label(status);
  std::lock_guard lock(mutex_);
  auto [it, inserted] = push_children_.try_emplace({outcome, label}, nullptr);
  if (inserted) {
    it->second = &pushes_.Add({{"outcome", std::string(outcome)}, {"status", std::string(label)}});
  }
  return *it->second;
}

}  // namespace iw::loki_pusher
