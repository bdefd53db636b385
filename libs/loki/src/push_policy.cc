#include "iw/loki/push_policy.h"

#include <algorithm>
#include <cmath>

#include "iw/base/check.h"

namespace iw::loki {

using std::chrono::milliseconds;

bool is_stream_limit_message(std::string_view body) {
  return body.find("Maximum active stream limit exceeded") != std::string_view::npos;
}

Verdict classify(long status, std::string_view body) {
  if (status >= 200 && status < 300) return Verdict::kAccepted;
  if (status == 429 && is_stream_limit_message(body)) return Verdict::kStreamLimited;
  if (status == 400) return Verdict::kPartlyRejected;
  if (status == 413) return Verdict::kTooLarge;
  // 408: a proxy gave up waiting for the request; the same request may well succeed.
  if (status == 0 || status == 408 || status == 429 || (status >= 500 && status < 600)) {
    return Verdict::kRetry;
  }
  return Verdict::kMisconfigured;
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAccepted:
      return "accepted";
    case Verdict::kPartlyRejected:
      return "partly_rejected";
    case Verdict::kRetry:
      return "retry";
    case Verdict::kMisconfigured:
      return "misconfigured";
    case Verdict::kTooLarge:
      return "too_large";
    case Verdict::kStreamLimited:
      return "stream_limited";
  }
  return "unknown";
}

std::string_view status_label(long status) {
  switch (status) {
    case 0:
      return "none";
    case 200:
      return "200";
    case 204:
      return "204";
    case 400:
      return "400";
    case 401:
      return "401";
    case 403:
      return "403";
    case 404:
      return "404";
    case 408:
      return "408";
    case 413:
      return "413";
    case 429:
      return "429";
    case 500:
      return "500";
    case 502:
      return "502";
    case 503:
      return "503";
    case 504:
      return "504";
    default:
      break;
  }
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 500 && status < 600) return "5xx";
  return "other";
}

milliseconds backoff_delay(const BackoffOptions& options, int failures,
                           std::optional<milliseconds> retry_after, double unit) {
  IW_CHECK(failures >= 1, "a backoff follows at least one failure");
  const double min_ms = static_cast<double>(std::max<milliseconds::rep>(options.min.count(), 1));
  const double max_ms = static_cast<double>(std::max(options.max, options.min).count());
  // 2^62 is far beyond any max: clamping the exponent keeps the double finite.
  const double ceiling = std::min(max_ms, min_ms * std::exp2(std::min(failures - 1, 62)));
  const double u = std::clamp(unit, 0.0, 1.0);
  auto wait = milliseconds{static_cast<milliseconds::rep>(ceiling / 2 + u * ceiling / 2)};
  if (retry_after) wait = std::max(wait, std::min(*retry_after, options.retry_after_max));
  return wait;
}

namespace {

std::size_t stream_bytes(const BatchStream& stream) {
  std::size_t bytes = stream.labels.size();
  for (const BatchEntry& entry : stream.entries) {
    bytes += entry_bytes(entry.line.size(), entry.trace_id);
  }
  return bytes;
}

void add_stream(Batch& batch, BatchStream stream) {
  if (stream.entries.empty()) return;
  batch.entry_count += stream.entries.size();
  batch.byte_size += stream_bytes(stream);
  batch.streams.push_back(std::move(stream));
}

// Cuts at most `max_bytes` of `text` without splitting a UTF-8 sequence.
std::string cut_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

}  // namespace

std::pair<Batch, Batch> split_batch(const Batch& batch) {
  IW_CHECK(batch.entry_count >= 2, "only a batch of two or more entries can be split");
  const std::size_t first_entries = (batch.entry_count + 1) / 2;
  std::pair<Batch, Batch> halves;
  halves.first.lane = batch.lane;
  halves.second.lane = batch.lane;
  std::size_t taken = 0;
  for (const BatchStream& stream : batch.streams) {
    BatchStream head{.labels = stream.labels, .entries = {}};
    BatchStream tail{.labels = stream.labels, .entries = {}};
    for (const BatchEntry& entry : stream.entries) {
      (taken++ < first_entries ? head : tail).entries.push_back(entry);
    }
    add_stream(halves.first, std::move(head));
    add_stream(halves.second, std::move(tail));
  }
  return halves;
}

StreamLimitAction on_stream_limit(const Batch& batch, int attempts, int max_attempts) {
  if (batch.streams.size() >= 2) return StreamLimitAction::kSplitStreams;
  return attempts < max_attempts ? StreamLimitAction::kRetryLater : StreamLimitAction::kRefuse;
}

std::vector<Batch> split_streams(const Batch& batch) {
  std::vector<Batch> out;
  out.reserve(batch.streams.size());
  for (const BatchStream& stream : batch.streams) {
    Batch one;
    one.lane = batch.lane;
    add_stream(one, stream);
    if (one.entry_count > 0) out.push_back(std::move(one));
  }
  return out;
}

Rejections refuse_all(const Batch& batch, Reason reason, std::string_view message,
                      std::size_t max_message_bytes) {
  Rejections out;
  out.messages.push_back(cut_utf8(message, max_message_bytes));
  out.entries.reserve(batch.entry_count);
  for (std::size_t s = 0; s < batch.streams.size(); ++s) {
    for (std::size_t e = 0; e < batch.streams[s].entries.size(); ++e) {
      out.entries.push_back({.stream = s, .entry = e, .reason = reason, .certain = true});
    }
  }
  return out;
}

Settlement settle(const Batch& batch, const Rejections& rejections, bool sent_before_unanswered,
                  std::size_t max_message_bytes) {
  Settlement out;
  out.accepted.reserve(batch.entry_count - std::min(batch.entry_count, rejections.entries.size()));
  auto rejected = rejections.entries.begin();
  for (std::size_t s = 0; s < batch.streams.size(); ++s) {
    const auto& entries = batch.streams[s].entries;
    for (std::size_t e = 0; e < entries.size(); ++e) {
      // Rejections are ordered by (stream, entry), each entry at most once.
      while (rejected != rejections.entries.end() &&
             (rejected->stream < s || (rejected->stream == s && rejected->entry < e))) {
        ++rejected;
      }
      if (rejected != rejections.entries.end() && rejected->stream == s && rejected->entry == e) {
        std::string_view said = rejected->message < rejections.messages.size()
                                    ? std::string_view(rejections.messages[rejected->message])
                                    : std::string_view("no message");
        std::string message = cut_utf8(said, max_message_bytes);
        const bool ordering =
            rejected->reason == Reason::kTooFarBehind || rejected->reason == Reason::kOutOfOrder;
        if (sent_before_unanswered && ordering) {
          message +=
              " (an earlier attempt of this batch failed without a usable answer: Loki has "
              "probably stored this entry then; a replay is harmless)";
        } else if (!rejected->certain) {
          message +=
              " (Loki's answer fits this entry but does not single it out: Loki may have stored "
              "it; a replay is harmless)";
        }
        out.refused.push_back(
            {.stream = s, .entry = e, .reason = rejected->reason, .message = std::move(message)});
        continue;
      }
      out.accepted.push_back(entries[e].ref);
      out.accepted_line_bytes += entries[e].line.size();
    }
  }
  return out;
}

}  // namespace iw::loki
