#include "dead_letter.h"

#include <algorithm>

#include "iw/config/duration.h"
#include "iw/events/timestamp.h"

namespace iw::dlq {

DeadLetter DeadLetter::from(const kafka::Record& record) {
  DeadLetter d;
  d.partition = record.partition();
  d.offset = record.offset();
  d.timestamp = record.timestamp();
  d.key = record.key();
  d.value = record.value();
  // One pass over the headers instead of a lookup per name; a later repeat wins, as Kafka
  // clients conventionally resolve repeated headers (and as Record::header does).
  for (std::size_t i = 0; i < record.header_count(); ++i) {
    const kafka::HeaderView h = record.header_at(i);
    if (!h.key.starts_with("dlq.")) continue;
    const std::string_view name = h.key.substr(4);
    if (name == "reason") {
      d.reason = h.value;
    } else if (name == "error") {
      d.error = h.value;
    } else if (name == "stage") {
      d.stage = h.value;
    } else if (name == "topic") {
      d.topic = h.value;
    } else if (name == "partition") {
      d.origin_partition = h.value;
    } else if (name == "offset") {
      d.origin_offset = h.value;
    } else if (name == "ts") {
      d.ts = h.value;
    } else if (name == "file") {
      d.file = h.value;
    } else if (name == "line") {
      d.line = h.value;
    } else if (name == "byte_offset") {
      d.byte_offset = h.value;
    }
  }
  return d;
}

std::string DeadLetter::origin() const {
  if (file) {
    std::string out(*file);
    if (!line.empty()) out.append(":").append(line);
    return out;
  }
  const std::string_view where = topic.value_or("");
  // A partition of -1 is how stages say "no Kafka position" (the producer reading a file).
  const bool positioned = !origin_partition.empty() && origin_partition != "-1";
  if (where.empty() && !positioned) return "-";
  std::string out(where.empty() ? "?" : where);
  if (positioned) {
    out.append("/").append(origin_partition);
    out.append("/").append(origin_offset.empty() ? "?" : origin_offset);
  }
  return out;
}

base::TimePoint DeadLetter::dead_lettered_at() const {
  if (!ts.empty()) {
    if (auto parsed = events::parse_timestamp(ts, events::TimeZone::utc())) return *parsed;
  }
  return timestamp;
}

bool Filter::matches(const DeadLetter& record) const {
  const auto listed = [](const std::vector<std::string>& list, std::string_view value) {
    return list.empty() || std::ranges::find(list, value) != list.end();
  };
  if (!listed(reasons, record.reason) || !listed(stages, record.stage)) return false;
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
