#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iw/loki/batcher.h"
#include "iw/loki/push_response.h"

namespace iw::loki {

/// What an answer to a push means for its batch (docs/LOKI_PUSHER.md), decided from the status
/// alone; the body matters only for kPartlyRejected.
enum class Verdict {
  /// 2xx: stored.
  kAccepted,
  /// 400: Loki stored part of the batch. Never sent again; interpret_rejection() says which
  /// entries were refused, the others are done.
  kPartlyRejected,
  /// 429, 5xx, 408, no answer (connection refused, reset, timeout): nothing known to be stored.
  /// The same bytes are sent again after a backoff.
  kRetry,
  /// 401, 403, 404 and any other status Loki does not give for a good request: credentials,
  /// tenant or URL are wrong. Retried after a backoff like kRetry (nothing is dropped), but
  /// logged as an error and the service is not ready until a push succeeds.
  kMisconfigured,
  /// 413: the body is larger than Loki (or a proxy) takes; nothing stored. The batch is split in
  /// two and each half sent; a single entry too large is dead-lettered.
  kTooLarge,
  /// 429 whose body is Loki's "Maximum active stream limit exceeded": a stream of the batch would
  /// be new and the tenant has all the active streams it may have. The other streams of the
  /// request may have been stored (an ingester stores what it can and answers with the last
  /// error). on_stream_limit() says what to do: never a blind retry of the whole batch, which
  /// would hold every stream behind the refused one.
  kStreamLimited,
};

/// `status` is the HTTP status, 0 when no answer came (transport error); `body` the answer's
/// text, which tells a 429 of the active-stream limit (kStreamLimited) from the rate limits'
/// (kRetry: "Ingestion rate limit exceeded", "Per stream rate limit exceeded", which pass).
[[nodiscard]] Verdict classify(long status, std::string_view body = {});

/// True for Loki's answer to a push that would create a stream beyond the tenant's
/// max_streams_per_user / max_global_streams_per_user: Loki 2.x "Maximum active stream limit
/// exceeded, reduce the number of active streams (...)", Loki 3.x "Maximum active stream limit
/// exceeded when trying to create stream {...}, reduce the number of active streams (...)".
[[nodiscard]] bool is_stream_limit_message(std::string_view body);

/// What to do with a batch answered kStreamLimited.
enum class StreamLimitAction {
  /// Two or more streams: Loki's answer names at most one refused stream. Each stream is sent
  /// alone (split_streams()), so each answer is about one stream; streams already stored are
  /// sent again, identical, and Loki keeps them once.
  kSplitStreams,
  /// One stream, attempts left: sent again after a backoff, set aside meanwhile so that the
  /// batches behind it (other streams) go on.
  kRetryLater,
  /// One stream, `max_attempts` answers of the stream limit: its entries are refused
  /// (Reason::kStreamLimit, dead-lettered).
  kRefuse,
};

/// `attempts`: answers of the stream limit this batch got so far (>= 1).
[[nodiscard]] StreamLimitAction on_stream_limit(const Batch& batch, int attempts, int max_attempts);

/// One batch per stream of `batch`, in its order, each counted as the Batcher counts it, in its
/// lane.
[[nodiscard]] std::vector<Batch> split_streams(const Batch& batch);

/// Every entry of `batch` refused for `reason` with `message` (cut to `max_message_bytes`).
[[nodiscard]] Rejections refuse_all(const Batch& batch, Reason reason, std::string_view message,
                                    std::size_t max_message_bytes = 1024);

/// "accepted", "partly_rejected", "retry", "misconfigured", "too_large", "stream_limited": the
/// `outcome` label.
[[nodiscard]] std::string_view verdict_name(Verdict verdict);

/// The `status` label: the code for the statuses Loki and proxies commonly answer, its class
/// ("2xx", "4xx", "5xx", "other") otherwise, "none" without an answer. A small, fixed set.
[[nodiscard]] std::string_view status_label(long status);

struct BackoffOptions {
  std::chrono::milliseconds min{500};
  std::chrono::milliseconds max{30'000};
  /// Retry-After is obeyed up to this long; a larger value is taken as this.
  std::chrono::milliseconds retry_after_max{300'000};
};

/// The wait before sending a batch again after its `failures`-th failed attempt in a row (>= 1).
/// Exponential with "equal jitter": the ceiling is min * 2^(failures-1), capped at max, and the
/// wait is uniform in [ceiling / 2, ceiling], from `unit` in [0, 1). A Retry-After from Loki is a
/// floor: the wait is at least min(retry_after, retry_after_max).
[[nodiscard]] std::chrono::milliseconds backoff_delay(
    const BackoffOptions& options, int failures,
    std::optional<std::chrono::milliseconds> retry_after, double unit);

/// Splits a batch of two or more entries into two with about half the entries each, streams and
/// entry order and lane kept; each half's byte_size counted as the Batcher counts it.
[[nodiscard]] std::pair<Batch, Batch> split_batch(const Batch& batch);

/// One entry of a batch that Loki refused (the pusher dead-letters it).
struct RefusedEntry {
  std::size_t stream = 0;  ///< index into Batch::streams
  std::size_t entry = 0;   ///< index into that stream's entries
  Reason reason = Reason::kUnknown;
  std::string message;  ///< for dlq.error: Loki's words, and whether Loki may have it anyway
};

/// What a batch's answer means entry by entry.
struct Settlement {
  std::vector<EntryRef> accepted;
  std::uint64_t accepted_line_bytes = 0;
  std::vector<RefusedEntry> refused;
};

/// Splits `batch` by `rejections` (empty for a 2xx): every entry is either accepted or
/// refused, none both. Messages are cut to `max_message_bytes` (at a UTF-8 boundary).
/// `sent_before_unanswered`: an earlier attempt of this batch failed in a way that may have
/// stored it (no answer, a 5xx), so entries now refused as behind or out of order are probably
/// in Loki already; their message says so. They are refused all the same: Loki's answer cannot
/// prove it.
[[nodiscard]] Settlement settle(const Batch& batch, const Rejections& rejections,
                                bool sent_before_unanswered = false,
                                std::size_t max_message_bytes = 1024);

}  // namespace iw::loki
