#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "iw/loki/entry.h"
#include "iw/loki/push_policy.h"

namespace iw::loki_pusher {

// What an answer means is decided in libs/loki; the pusher counts its pushes and acts by it.
using loki::Verdict;

/// Where an entry was refused: here before sending (`pusher`), or by Loki's 400 (`loki`).
enum class RefusedBy { kPusher, kLoki };

/// The pusher's own metrics (docs/LOKI_PUSHER.md), declared once. The shared record counters and
/// consumer lag are metrics::RecordFlowMetrics and stage::ConsumerLagMetrics. Thread-safe: the
/// sender thread and the polling thread both count.
class PusherMetrics {
 public:
  explicit PusherMetrics(prometheus::Registry& registry);

  /// ingestwatch_loki_entries_pushed_total: entries Loki stored (2xx, and the accepted part of a
  /// 400).
  prometheus::Counter& entries_pushed;
  /// ingestwatch_loki_bytes_pushed_total: the line bytes of those entries.
  prometheus::Counter& bytes_pushed;
  /// ingestwatch_loki_request_bytes_total: request bodies sent, as sent (compressed), every
  /// attempt.
  prometheus::Counter& request_bytes;
  /// ingestwatch_loki_retries_total: pushes of a batch already sent before.
  prometheus::Counter& retries;
  /// ingestwatch_loki_push_latency_seconds: each request, whatever its answer.
  prometheus::Histogram& push_latency;
  /// ingestwatch_loki_backoff_seconds: the wait before the next attempt; 0 when not backing off.
  prometheus::Gauge& backoff_seconds;
  /// ingestwatch_loki_paused_partitions: input partitions paused while Loki is behind.
  prometheus::Gauge& paused_partitions;
  /// ingestwatch_loki_pending_bytes: what the pusher holds for Loki (batcher, batches queued or
  /// in flight, what their dead letters would need), against loki_pusher.max_pending_bytes.
  prometheus::Gauge& pending_bytes;
  /// ingestwatch_duplicate_records_total: runs not pushed because a run with the same event.id
  /// at another position was taken recently (loki::RecentEvents).
  prometheus::Counter& duplicates;

  /// ingestwatch_loki_pushes_total{outcome,status}: one per request.
  prometheus::Counter& push(Verdict verdict, long status);
  /// ingestwatch_loki_rejected_entries_total{reason,by}.
  prometheus::Counter& rejected(loki::Reason reason, RefusedBy by) {
    return *rejected_[static_cast<std::size_t>(by)][static_cast<std::size_t>(reason)];
  }

 private:
  prometheus::Family<prometheus::Counter>& pushes_;
  std::array<std::array<prometheus::Counter*, loki::kReasonCount>, 2> rejected_{};
  std::mutex mutex_;
  // Children by (outcome, status label): a handful in practice (status_label() is a fixed set).
  std::map<std::pair<std::string_view, std::string_view>, prometheus::Counter*> push_children_;
};

}  // namespace iw::loki_pusher
