#include "replay.h"

#include "report.h"

namespace iw::dlq {

std::string_view skip_reason_name(SkipReason reason) {
  switch (reason) {
    case SkipReason::kNoDestination:
      return "no_destination";
    case SkipReason::kDeadLetterLoop:
      return "dead_letter_loop";
    case SkipReason::kTruncated:
      return "truncated";
  }
  return "unknown";
}

std::expected<std::string_view, SkipReason> replay_destination(const DeadLetter& record,
                                                               std::string_view dlq_topic) {
  const std::string_view topic = record.letter.topic;
  if (topic.empty()) return std::unexpected(SkipReason::kNoDestination);
  // Sending it back where it was read from would make the next replay find it again.
  if (topic == dlq_topic) return std::unexpected(SkipReason::kDeadLetterLoop);
  // Only the head of an oversized record is there: sending it would publish a fragment.
  if (record.letter.original_size) return std::unexpected(SkipReason::kTruncated);
  return topic;
}

std::vector<std::pair<std::string, std::string>> replay_headers(
    const kafka::Record& dead, std::string_view dlq_topic, std::string_view fallback_execution_id,
    trace::IdGenerator& ids) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(dead.header_count() + 2);
  bool has_execution_id = false;
  bool has_traceparent = false;
  for (std::size_t i = 0; i < dead.header_count(); ++i) {
    const kafka::HeaderView h = dead.header_at(i);
    if (h.key.starts_with("dlq.")) continue;
    if (h.key == "traceparent") {
      // A repeated traceparent would leave readers guessing which trace they are in.
      if (has_traceparent) continue;
      has_traceparent = true;
      const trace::TraceParent next = trace::TraceParent::child_of_or_start(h.value, ids);
      out.emplace_back("traceparent", std::string(next.text()));
      continue;
    }
    if (h.key == "execution_id") has_execution_id = true;
    out.emplace_back(std::string(h.key), std::string(h.value));
  }
  if (!has_traceparent) {
    out.emplace_back("traceparent", std::string(trace::TraceParent::start(ids).text()));
  }
  if (!has_execution_id) out.emplace_back("execution_id", std::string(fallback_execution_id));
  out.emplace_back(std::string(kReplayedFromHeader), std::string(dlq_topic) + "/" +
                                                         std::to_string(dead.partition()) + "/" +
                                                         std::to_string(dead.offset()));
  return out;
}

std::vector<kafka::HeaderView> header_views(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<kafka::HeaderView> views;
  views.reserve(headers.size());
  for (const auto& [key, value] : headers) views.push_back({key, value});
  return views;
}

std::uint64_t ReplayTally::replayed_count() const {
  std::uint64_t n = 0;
  for (const auto& [topic, counts] : destinations_) n += counts.first;
  return n;
}

std::uint64_t ReplayTally::failed_count() const {
  std::uint64_t n = 0;
  for (const auto& [topic, counts] : destinations_) n += counts.second;
  return n;
}

std::uint64_t ReplayTally::skipped_count() const {
  std::uint64_t n = 0;
  for (const auto& [reason, count] : skipped_) n += count;
  return n;
}

std::string ReplayTally::text(bool dry_run) const {
  const std::uint64_t replayed = replayed_count();
  const std::uint64_t failed = failed_count();
  const std::uint64_t skipped = skipped_count();
  const std::string records = std::to_string(replayed) + (replayed == 1 ? " record" : " records");
  std::string out = dry_run ? "dry run: would replay " + records : "replayed " + records;
  out += " (selected " + std::to_string(replayed + failed + skipped) + ": " +
         std::to_string(skipped) + " skipped";
  if (!dry_run) out += ", " + std::to_string(failed) + " failed";
  out += ")\n";
  for (const auto& [topic, counts] : destinations_) {
    out += "  " + printable(topic) + "  " + std::to_string(counts.first);
    if (counts.second > 0) out += " (" + std::to_string(counts.second) + " failed)";
    out += "\n";
  }
  if (skipped > 0) {
    out += "skipped:";
    bool first = true;
    for (const auto& [reason, count] : skipped_) {
      out += std::string(first ? " " : ", ") + std::string(skip_reason_name(reason)) + " " +
             std::to_string(count);
      first = false;
    }
    out += "\n";
  }
  return out;
}

}  // namespace iw::dlq
