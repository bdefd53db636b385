#include "dead_letter.h"

#include <algorithm>

#include "iw/config/duration.h"
#include "iw/events/timestamp.h"

namespace iw::dlq {

DeadLetter DeadLetter::from(const kafka::Record& record) {
  return {.partition = record.partition(),
          .offset = record.offset(),
          .timestamp = record.timestamp(),
          .key = record.key(),
          .value = record.value(),
          .letter = kafka::parse_dead_letter(record)};
}

std::string DeadLetter::origin() const {
  if (!letter.file.empty()) {
    std::string out(letter.file);
    if (letter.line) out.append(":").append(std::to_string(*letter.line));
    return out;
  }
  // A partition of -1 is how stages say "no Kafka position" (the producer reading a file).
  const bool positioned = letter.partition && *letter.partition != -1;
  if (letter.topic.empty() && !positioned) return "-";
  std::string out(letter.topic.empty() ? "?" : letter.topic);
  if (positioned) {
    out.append("/").append(std::to_string(*letter.partition));
    out.append("/").append(letter.offset ? std::to_string(*letter.offset) : "?");
  }
  return out;
}

base::TimePoint DeadLetter::dead_lettered_at() const { return letter.at.value_or(timestamp); }

bool Filter::matches(const DeadLetter& record) const {
  const auto listed = [](const std::vector<std::string>& list, std::string_view value) {
    return list.empty() || std::ranges::find(list, value) != list.end();
  };
  if (!listed(reasons, record.letter.reason) || !listed(stages, record.letter.stage)) {
    return false;
  }
  return !since || record.dead_lettered_at() >= *since;
}

bool Selector::take(const DeadLetter& record) {
  if (full() || !filter_.matches(record)) return false;
  ++taken_;
  return true;
}

base::Result<base::TimePoint> parse_since(std::string_view text, base::TimePoint now) {
  // A duration first: "30" is 30 seconds ago, never a year.
  if (auto ago = config::parse_duration(text)) {
    // Nanosecond time points reach back about 292 years from 1970; further would overflow.
    if (*ago > std::chrono::years{100}) {
      return base::fail(base::ErrorCode::kInvalidInput,
                        "'" + std::string(text) + "' reaches back more than 100 years");
    }
    return now - *ago;
  }
  if (auto at = events::parse_timestamp(text, events::TimeZone::utc())) return *at;
  return base::fail(base::ErrorCode::kInvalidInput,
                    "expected an RFC 3339 time such as 2025-09-15T10:30:00Z or a duration back "
                    "from now such as 2h or 1h30m, got '" +
                        std::string(text) + "'");
}

}  // namespace iw::dlq
