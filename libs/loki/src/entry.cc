#include "iw/loki/entry.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "iw/base/string_hash.h"
#include "iw/events/enriched_record.h"
#include "iw/events/timestamp.h"
#include "iw/loki/recent_events.h"
#include "iw/trace/trace_context.h"

namespace iw::loki {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

constexpr std::array kReasons = {
    Reason::kInvalidRecord, Reason::kInvalidLabels, Reason::kLineTooLong, Reason::kTooOld,
    Reason::kTooNew,        Reason::kTooFarBehind,  Reason::kOutOfOrder,  Reason::kRateLimited,
    Reason::kStreamLimit,   Reason::kUnknown,
};
static_assert(kReasons.size() == kReasonCount);

std::unexpected<Rejection> invalid(std::string message) {
  return std::unexpected(Rejection{Reason::kInvalidRecord, std::move(message)});
}

std::unexpected<Rejection> not_json(std::string_view where, simdjson::error_code error) {
  return invalid(std::string(where) + ": not JSON (" + simdjson::error_message(error) + ")");
}

// A string member; `null` and "" read as absent when `optional`.
EntryResult<std::optional<std::string_view>> read_string(value& json, std::string_view field,
                                                         bool optional) {
  json_type type{};
  if (auto error = json.type().get(type)) return not_json(field, error);
  if (type == json_type::null && optional) return std::nullopt;
  std::string_view text;
  if (type != json_type::string || json.get_string().get(text) != simdjson::SUCCESS) {
    return invalid(std::string(field) + ": expected a string");
  }
  if (text.empty()) {
    if (optional) return std::nullopt;
    return invalid(std::string(field) + ": must not be empty");
  }
  return text;
}

EntryResult<std::int64_t> read_time(std::string_view text, std::string_view field) {
  auto t = events::parse_timestamp(text, events::TimeZone::utc());
  if (!t) return invalid(std::string(field) + ": " + t.error().message);
  return to_unix_nanos(*t);
}

// An allow-listed label: where its value goes, and whether it may be null or absent.
struct LabelSlot {
  std::string_view name;
  std::optional<std::string_view>* value;
  bool optional;
};

// Reads a `labels` object into the slots of the labels it names; any other label stays in the
// line only. A label named twice is a rejection.
EntryResult<void> read_labels(value& field, std::span<const LabelSlot> slots) {
  object labels;
  if (field.get_object().get(labels) != simdjson::SUCCESS) {
    return invalid("labels: expected an object");
  }
  for (auto label : labels) {
    std::string_view name;
    value label_value;
    if (auto error = label.unescaped_key().get(name)) return not_json("labels", error);
    if (auto error = label.value().get(label_value)) return not_json(name, error);
    const auto slot = std::find_if(slots.begin(), slots.end(),
                                   [&](const LabelSlot& s) { return s.name == name; });
    if (slot == slots.end()) continue;
    if (slot->value->has_value()) {
      return invalid("labels." + std::string(name) + ": appears twice");
    }
    auto text = read_string(label_value, "labels." + std::string(name), slot->optional);
    if (!text) return std::unexpected(std::move(text).error());
    *slot->value = *text;
  }
  return {};
}

// Label sets EntryBuilder remembers the stream of, at most.
constexpr std::size_t kStreamsRemembered = 4096;

}  // namespace

std::string_view reason_name(Reason reason) {
  switch (reason) {
    case Reason::kInvalidRecord:
      return "invalid_record";
    case Reason::kInvalidLabels:
      return "invalid_labels";
    case Reason::kLineTooLong:
      return "line_too_long";
    case Reason::kTooOld:
      return "greater_than_max_sample_age";
    case Reason::kTooNew:
      return "too_far_in_future";
    case Reason::kTooFarBehind:
      return "too_far_behind";
    case Reason::kOutOfOrder:
      return "out_of_order";
    case Reason::kRateLimited:
      return "per_stream_rate_limit";
    case Reason::kStreamLimit:
      return "stream_limit";
    case Reason::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::span<const Reason> all_reasons() { return kReasons; }

TraceId TraceId::from_traceparent(std::string_view traceparent) {
  TraceId id;
  if (const auto parsed = trace::TraceParent::parse(traceparent); parsed && parsed->sampled()) {
    parsed->trace_id().copy(id.hex_.data(), kSize);
  }
  return id;
}

std::int64_t to_unix_nanos(base::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

struct EntryBuilder::Impl {
  explicit Impl(EntryOptions o) : options(std::move(o)) {}

  // Copies `record` into the entry's line with simdjson's padding behind it, so the one copy the
  // entry needs anyway is also what gets parsed. Returns how many bytes are readable after it.
  static std::size_t copy_line(std::string_view record, Entry& entry) {
    entry.line.reserve(record.size() + simdjson::SIMDJSON_PADDING);
    entry.line.assign(record);
    return entry.line.capacity() - entry.line.size();
  }

  EntryResult<object> open(std::string_view record, Entry& entry) {
    const std::size_t padding = copy_line(record, entry);
    const simdjson::padded_string_view padded(entry.line.data(), entry.line.size(),
                                              entry.line.size() + padding);
    if (auto error = parser.iterate(padded).get(document)) return not_json("record", error);
    object members;
    if (auto error = document.get_object().get(members)) {
      if (error == simdjson::INCORRECT_TYPE) return invalid("record: expected a JSON object");
      return not_json("record", error);
    }
    return members;
  }

  EntryResult<void> finish(LabelSet labels, Entry& entry) {
    sort_labels(labels);
    if (auto valid = validate_labels(labels, options.label_limits); !valid) {
      return std::unexpected(Rejection{Reason::kInvalidLabels, valid.error().message()});
    }
    entry.stream = format_labels(labels);
    return {};
  }

  EntryOptions options;
  // Enriched runs' streams (labels sorted, valid, formatted) by their label values, in run_key's
  // form: a run's labels take few values, and the labels of each were built, checked and
  // formatted again (~5 % of the pusher's polling thread, with four of its ~12 allocations).
  base::StringMap<std::string> run_streams;
  std::string run_key;
  // Enriched runs: the schema is read by its one reader (libs/events, next to its writer).
  events::EnrichedRecordReader run_reader{
      events::EnrichedField::kTimestamp,       events::EnrichedField::kLabelSource,
      events::EnrichedField::kLabelEtat,       events::EnrichedField::kLabelZone,
      events::EnrichedField::kLabelEntreprise, events::EnrichedField::kEventId};
  // Alert events.
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
};

EntryBuilder::EntryBuilder(EntryOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
EntryBuilder::~EntryBuilder() = default;

EntryResult<Entry> EntryBuilder::enriched_run(std::string_view record, EntryRef ref,
                                              base::TimePoint ingest_time) {
  Entry entry{.stream = {}, .timestamp_ns = to_unix_nanos(ingest_time), .line = {}, .ref = ref};
  // Parsed where it is: in the entry's line, padded by the copy.
  const std::size_t padding = Impl::copy_line(record, entry);
  auto run = impl_->run_reader.read(entry.line, padding);
  if (!run) return invalid(std::move(run.error().message));
  if (impl_->options.timestamp == TimestampSource::kEventTime) {
    entry.timestamp_ns = to_unix_nanos(run->timestamp);
  }
  if (!run->event_id.empty()) entry.event_key = event_key(run->event_id);

  // The allow-list of BRIEF §7; anything else the enricher adds stays in the line only.
  const events::EnrichedRecord::Labels& run_labels = run->labels;
  std::string& key = impl_->run_key;
  key.clear();
  for (const std::string_view value :
       {run_labels.source, run_labels.etat, run_labels.zone, run_labels.entreprise}) {
    // Each value behind its length: no two label sets share a key.
    const auto size = static_cast<std::uint32_t>(value.size());
    key.append(reinterpret_cast<const char*>(&size), sizeof size).append(value);
  }
  if (const auto known = impl_->run_streams.find(std::string_view(key));
      known != impl_->run_streams.end()) {
    entry.stream = known->second;
    return entry;
  }
  LabelSet labels = {{"job", std::string(kRunsJob)},
                     {"source", std::string(run_labels.source)},
                     {"etat", std::string(run_labels.etat)}};
  if (!run_labels.zone.empty()) labels.push_back({"zone", std::string(run_labels.zone)});
  if (!run_labels.entreprise.empty()) {
    labels.push_back({"entreprise", std::string(run_labels.entreprise)});
  }
  if (auto done = impl_->finish(std::move(labels), entry); !done) {
    return std::unexpected(std::move(done).error());
  }
  // A label set of too many values to be worth remembering breaks Loki's stream limits anyway.
  if (impl_->run_streams.size() >= kStreamsRemembered) impl_->run_streams.clear();
  impl_->run_streams.emplace(key, entry.stream);
  return entry;
}

EntryResult<Entry> EntryBuilder::alert_event(std::string_view record, EntryRef ref,
                                             base::TimePoint ingest_time) {
  Entry entry{.stream = {}, .timestamp_ns = to_unix_nanos(ingest_time), .line = {}, .ref = ref};
  auto members = impl_->open(record, entry);
  if (!members) return std::unexpected(std::move(members).error());

  std::optional<std::string_view> status, starts_at, ends_at, alertname, severity, source;
  for (auto member : *members) {
    std::string_view key;
    value field;
    if (auto error = member.unescaped_key().get(key)) return not_json("record", error);
    if (auto error = member.value().get(field)) return not_json(key, error);
    std::optional<std::string_view>* slot = key == "status"     ? &status
                                            : key == "startsAt" ? &starts_at
                                            : key == "endsAt"   ? &ends_at
                                                                : nullptr;
    if (slot != nullptr) {
      if (slot->has_value()) return invalid(std::string(key) + ": appears more than once");
      auto text = read_string(field, key, false);
      if (!text) return std::unexpected(std::move(text).error());
      *slot = *text;
      continue;
    }
    if (key != "labels") continue;
    const std::array<LabelSlot, 3> slots = {{{"alertname", &alertname, false},
                                             {"severity", &severity, true},
                                             {"source", &source, true}}};
    if (auto read = read_labels(field, slots); !read) return std::unexpected(read.error());
  }
  if (!status || (*status != "firing" && *status != "resolved")) {
    return invalid("status: expected \"firing\" or \"resolved\"");
  }
  if (!alertname) return invalid("labels.alertname: required field is missing");
  // A firing alert has no end yet (Alertmanager's zero time), so it is filed under its start;
  // a resolve under the instant it resolved.
  const bool firing = *status == "firing";
  const std::optional<std::string_view>& when = firing ? starts_at : ends_at;
  const std::string_view when_field = firing ? "startsAt" : "endsAt";
  if (!when) return invalid(std::string(when_field) + ": required field is missing");
  auto event_time = read_time(*when, when_field);
  if (!event_time) return std::unexpected(std::move(event_time).error());
  if (impl_->options.timestamp == TimestampSource::kEventTime) entry.timestamp_ns = *event_time;

  LabelSet labels = {{"job", std::string(kAlertsJob)},
                     {"alertname", std::string(*alertname)},
                     {"status", std::string(*status)}};
  if (severity) labels.push_back({"severity", std::string(*severity)});
  if (source) labels.push_back({"source", std::string(*source)});
  if (auto done = impl_->finish(std::move(labels), entry); !done) {
    return std::unexpected(std::move(done).error());
  }
  return entry;
}

}  // namespace iw::loki
