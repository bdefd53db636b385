#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dead_letter.h"
#include "iw/kafka/record.h"
#include "iw/trace/trace_context.h"

namespace iw::dlq {

/// Header added to every replayed record: "<dlq topic>/<partition>/<offset>" of the
/// dead-letter record it was made from.
inline constexpr std::string_view kReplayedFromHeader = "dlq.replayed_from";

/// Why a selected record cannot be replayed.
enum class SkipReason {
  kNoDestination,   ///< no dlq.topic header (or an empty one): nowhere to send it
  kDeadLetterLoop,  ///< dlq.topic names the dead-letter topic itself
  kTruncated,       ///< an oversized record: the value is only its head (dlq.original_size)
};

/// "no_destination", "dead_letter_loop", "truncated".
[[nodiscard]] std::string_view skip_reason_name(SkipReason reason);

/// The topic a dead-lettered record is replayed to: its dlq.topic.
[[nodiscard]] std::expected<std::string_view, SkipReason> replay_destination(
    const DeadLetter& record, std::string_view dlq_topic);

/// The headers of the replayed copy of `dead` (read from `dlq_topic`), in the original order:
///   - every dlq.* header is dropped: they described the failure, and the stage that reads the
///     replay adds fresh ones if it fails again;
///   - `traceparent` continues the record's trace with a new span (TraceParent::child); one
///     that does not parse is replaced by a new trace, since every record must carry one;
///   - `execution_id` is kept (it names the run that brought the record in); when missing,
///     `fallback_execution_id` (the replay's own) is added;
///   - every other header is kept as it was;
///   - `dlq.replayed_from` is added last.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> replay_headers(
    const kafka::Record& dead, std::string_view dlq_topic, std::string_view fallback_execution_id,
    trace::IdGenerator& ids);

/// Views of `headers` for OutgoingRecord; valid while `headers` is unchanged.
[[nodiscard]] std::vector<kafka::HeaderView> header_views(
    const std::vector<std::pair<std::string, std::string>>& headers);

/// What a replay did, for its closing report.
class ReplayTally {
 public:
  void replayed(std::string_view destination) { ++destinations_[std::string(destination)].first; }
  void failed(std::string_view destination) { ++destinations_[std::string(destination)].second; }
  void skipped(SkipReason reason) { ++skipped_[reason]; }

  [[nodiscard]] std::uint64_t replayed_count() const;
  [[nodiscard]] std::uint64_t failed_count() const;
  [[nodiscard]] std::uint64_t skipped_count() const;

  /// The closing report: the totals, one line per destination topic, then the skips:
  ///   replayed 2 records (selected 3: 1 skipped, 0 failed)
  ///     ingestion-logs  2
  ///   skipped: no_destination 1
  /// A dry run says "dry run: would replay 2 records (selected 3: 1 skipped)".
  [[nodiscard]] std::string text(bool dry_run) const;

 private:
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> destinations_;  // ok, failed
  std::map<SkipReason, std::uint64_t> skipped_;
};

}  // namespace iw::dlq
