#include "iw/alerting/alert_event.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "iw/base/check.h"
#include "iw/base/json_escape.h"
#include "iw/base/time_format.h"

namespace iw::alerting {
namespace {

// Go's zero time.Time, which Alertmanager reads as "no end known" (a firing alert).
constexpr std::string_view kZeroTime = "0001-01-01T00:00:00.000Z";

// What Prometheus's `humanizeDuration` and `{{ $value }}` print for NaN and infinities (Go's
// fmt), so an annotation reads the same from either evaluator.
std::string_view non_finite_text(double value) {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "+Inf" : "-Inf";
}

// Shortest digits that read back to the same double: 1, 0.06666666666666667, 157286400.
void append_number(std::string& out, double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// Go's fmt "%.4g", which C's printf matches for finite values.
void append_4g(std::string& out, double value, std::string_view suffix) {
  char buffer[48];
  const int n = std::snprintf(buffer, sizeof buffer, "%.4g", value);
  out.append(buffer, static_cast<std::size_t>(n));
  out.append(suffix);
}

// Prometheus's template function humanizeDuration (template/template.go), seconds in:
// 4500 -> "1h 15m 0s", 90 -> "1m 30s", 1.5 -> "1.5s", 0.25 -> "250ms", 0 -> "0s".
void append_humanized_duration(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append(non_finite_text(v));
    return;
  }
  if (v == 0) {
    append_4g(out, v, "s");
    return;
  }
  if (std::abs(v) >= 1) {
    if (v < 0) {
      out += '-';
      v = -v;
    }
    // Go's int64 conversion of a larger value is undefined too; saturate instead.
    const std::int64_t duration =
        v < 9.2e18 ? static_cast<std::int64_t>(v) : std::numeric_limits<std::int64_t>::max();
    const std::int64_t seconds = duration % 60;
    const std::int64_t minutes = duration / 60 % 60;
    const std::int64_t hours = duration / 3600 % 24;
    const std::int64_t days = duration / 86400;
    auto part = [&out](std::int64_t number, std::string_view unit) {
      out += std::to_string(number);
      out += unit;
    };
    // From days down to minutes, whole seconds; below a minute, 4 significant digits.
    if (days != 0) part(days, "d ");
    if (days != 0 || hours != 0) part(hours, "h ");
    if (days != 0 || hours != 0 || minutes != 0) {
      part(minutes, "m ");
      part(seconds, "s");
      return;
    }
    append_4g(out, v, "s");
    return;
  }
  std::string_view prefix;
  for (const std::string_view p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  append_4g(out, v, std::string(prefix) + "s");
}

bool is_label_name(std::string_view name) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || !letter(name[0])) return false;
  return std::ranges::all_of(name, [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// One `{{ ... }}` of an annotation template.
struct Action {
  enum Kind { kLabel, kValue, kHumanizedValue } kind = kValue;
  std::string_view label;  // kLabel
};

// The action between "{{" and "}}", or nullopt when it is not one of the three supported.
std::optional<Action> parse_action(std::string_view inner) {
  inner = trim(inner);
  if (inner.starts_with("$labels.")) {
    const std::string_view name = inner.substr(8);
    if (is_label_name(name)) return Action{Action::kLabel, name};
    return std::nullopt;
  }
  if (!inner.starts_with("$value")) return std::nullopt;
  const std::string_view rest = trim(inner.substr(6));
  if (rest.empty()) return Action{Action::kValue, {}};
  if (rest.starts_with('|') && trim(rest.substr(1)) == "humanizeDuration") {
    return Action{Action::kHumanizedValue, {}};
  }
  return std::nullopt;
}

// Calls on_text(literal) and on_action(action, source) in order, through the whole text;
// returns why `text` is not a template render_template() understands (its first problem), or
// an empty string.
template <typename OnText, typename OnAction>
std::string walk_template(std::string_view text, OnText on_text, OnAction on_action) {
  std::string problem;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    on_text(text.substr(pos, open - pos));
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      on_text(text.substr(open));
      if (problem.empty()) {
        problem = "'{{' at offset " + std::to_string(open) + " is never closed by '}}'";
      }
      return problem;
    }
    const std::string_view source = text.substr(open, close + 2 - open);
    const auto action = parse_action(text.substr(open + 2, close - open - 2));
    on_action(action, source);
    if (!action && problem.empty()) {
      problem = "unsupported template action '" + std::string(source) +
                "': only {{ $labels.<name> }}, {{ $value }} and {{ $value | humanizeDuration }} "
                "are supported";
    }
    pos = close + 2;
  }
  on_text(text.substr(std::min(pos, text.size())));
  return problem;
}

void append_entry(std::string& out, const Labels::value_type& entry) {
  base::append_json_string(out, entry.first);
  out += ':';
  base::append_json_string(out, entry.second);
}

void append_object(std::string& out, const Labels& entries) {
  // Labels come sorted by name, and so do most annotations: written as they are, with no
  // sorted copy to make for each event.
  if (std::ranges::is_sorted(entries, {}, &Labels::value_type::first)) {
    out += '{';
    for (const auto& entry : entries) {
      if (&entry != &entries.front()) out += ',';
      append_entry(out, entry);
    }
    out += '}';
    return;
  }
  std::vector<const Labels::value_type*> sorted;
  sorted.reserve(entries.size());
  for (const auto& entry : entries) sorted.push_back(&entry);
  std::ranges::sort(sorted, {},
                    [](const auto* entry) -> const std::string& { return entry->first; });
  out += '{';
  for (const auto* entry : sorted) {
    if (entry != sorted.front()) out += ',';
    append_entry(out, *entry);
  }
  out += '}';
}

void append_instant(std::string& out, Instant instant) {
  out += '"';
  base::append_rfc3339_millis(out,
                              std::chrono::time_point_cast<base::TimePoint::duration>(instant));
  out += '"';
}

std::unexpected<base::Error> invalid(std::string_view field, std::string_view what) {
  return base::fail(base::ErrorCode::kInvalidInput, std::string(field) + ": " + std::string(what));
}

std::unexpected<base::Error> json_error(std::string_view field, simdjson::error_code error) {
  return invalid(field, std::string("not JSON (") + simdjson::error_message(error) + ")");
}

// A JSON object of string values, sorted by name; duplicate names are an error.
base::Result<Labels> read_string_map(simdjson::ondemand::value& value, std::string_view field) {
  simdjson::ondemand::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return invalid(field, "expected an object");
  }
  Labels out;
  for (auto member : object) {
    std::string_view name;
    std::string_view text;
    if (auto error = member.unescaped_key().get(name)) return json_error(field, error);
    if (auto error = member.value().get_string().get(text)) {
      return error == simdjson::INCORRECT_TYPE
                 ? invalid(std::string(field) + "." + std::string(name), "expected a string")
                 : json_error(field, error);
    }
    out.emplace_back(name, text);
  }
  std::ranges::sort(out);
  const auto duplicate = std::ranges::adjacent_find(out, {}, &Labels::value_type::first);
  if (duplicate != out.end()) return invalid(field, "duplicate name '" + duplicate->first + "'");
  return out;
}

base::Result<Instant> read_instant(simdjson::ondemand::value& value, std::string_view field) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return invalid(field, "expected a string");
  }
  const auto instant = base::parse_rfc3339_millis(text);
  if (!instant) return invalid(field, "not an RFC 3339 timestamp");
  return *instant;
}

}  // namespace

std::uint64_t fingerprint_of(const Labels& labels) {
  IW_CHECK(std::ranges::is_sorted(labels, {}, &Labels::value_type::first),
           "fingerprint_of: labels must be sorted by name");
  // model.LabelSet.Fingerprint (prometheus/common model/signature.go): FNV-1a 64 over
  // name, SeparatorByte, value, SeparatorByte for each label in name order.
  constexpr std::uint64_t kOffset = 14695981039346656037ULL;
  constexpr std::uint64_t kPrime = 1099511628211ULL;
  constexpr unsigned char kSeparator = 0xff;
  std::uint64_t hash = kOffset;
  auto add = [&hash](std::string_view bytes) {
    for (const char c : bytes) {
      hash ^= static_cast<unsigned char>(c);
      hash *= kPrime;
    }
    hash ^= kSeparator;
    hash *= kPrime;
  };
  for (const auto& [name, value] : labels) {
    add(name);
    add(value);
  }
  return hash;
}

std::string fingerprint_hex(std::uint64_t fingerprint) {
  std::string out(16, '0');
  char buffer[16];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, fingerprint, 16);
  const auto length = static_cast<std::size_t>(result.ptr - buffer);
  std::copy(buffer, result.ptr, out.begin() + static_cast<std::ptrdiff_t>(16 - length));
  return out;
}

std::string render_template(std::string_view text, const Labels& labels, double value) {
  std::string out;
  out.reserve(text.size());
  (void)walk_template(
      text, [&out](std::string_view literal) { out.append(literal); },
      [&](const std::optional<Action>& action, std::string_view source) {
        if (!action) {
          out.append(source);  // check_template() rejects these at load time
          return;
        }
        switch (action->kind) {
          case Action::kLabel: {
            const auto it = std::ranges::find(labels, action->label, &Labels::value_type::first);
            if (it != labels.end()) out.append(it->second);
            break;
          }
          case Action::kValue:
            if (std::isfinite(value)) {
              append_number(out, value);
            } else {
              out.append(non_finite_text(value));
            }
            break;
          case Action::kHumanizedValue:
            append_humanized_duration(out, value);
            break;
        }
      });
  return out;
}

std::string check_template(std::string_view text) {
  return walk_template(
      text, [](std::string_view) {}, [](const std::optional<Action>&, std::string_view) {});
}

namespace {

AlertEvent event_for(const AlertIdentity& alert, EventStatus status, Instant starts_at,
                     std::optional<Instant> ends_at, double value) {
  IW_CHECK(alert.rule != nullptr && alert.labels != nullptr, "event_of: no alert named");
  AlertEvent event;
  event.status = status;
  event.labels = *alert.labels;
  for (const auto& [name, text] : alert.rule->annotations) {
    event.annotations.emplace_back(name, render_template(text, event.labels, value));
  }
  event.starts_at = starts_at;
  event.ends_at = ends_at;
  event.value = value;
  // From the labels written, so the event is Alertmanager-consistent by construction.
  event.fingerprint = fingerprint_of(event.labels);
  return event;
}

}  // namespace

AlertEvent event_of(const Transition& transition) {
  const bool firing =
      transition.to == AlertState::kFiring && transition.from != AlertState::kFiring;
  const bool resolved =
      transition.from == AlertState::kFiring && transition.to == AlertState::kInactive;
  IW_CHECK(firing || resolved, "event_of: only a change to firing or to resolved has an event");
  return event_for(transition.alert, firing ? EventStatus::kFiring : EventStatus::kResolved,
                   transition.fired_at, resolved ? std::optional(transition.at) : std::nullopt,
                   transition.value);
}

AlertEvent event_of(const ActiveAlert& active) {
  IW_CHECK(active.state == AlertState::kFiring, "event_of: only a firing alert has an event");
  return event_for(active.alert, EventStatus::kFiring, active.fired_at, std::nullopt, active.value);
}

namespace {

// The fields both shapes share, in their order: "labels", "annotations", "startsAt", then the
// key of "endsAt" (its value is the caller's).
void append_alert_body(std::string& out, const AlertEvent& event) {
  out += R"("labels":)";
  append_object(out, event.labels);
  out += R"(,"annotations":)";
  append_object(out, event.annotations);
  out += R"(,"startsAt":)";
  append_instant(out, event.starts_at);
  out += R"(,"endsAt":)";
}

}  // namespace

void append_postable_alert(std::string& out, const AlertEvent& event, Instant ends_at) {
  out += '{';
  append_alert_body(out, event);
  append_instant(out, ends_at);
  out += '}';
}

void append_alert_event(std::string& out, const AlertEvent& event) {
  out += R"({"status":)";
  out += event.status == EventStatus::kFiring ? R"("firing")" : R"("resolved")";
  out += ',';
  append_alert_body(out, event);
  if (event.ends_at) {
    append_instant(out, *event.ends_at);
  } else {
    out += '"';
    out += kZeroTime;
    out += '"';
  }
  out += R"(,"value":)";
  // JSON has no NaN or infinity.
  if (std::isfinite(event.value)) {
    append_number(out, event.value);
  } else {
    out += "null";
  }
  out += R"(,"fingerprint":")";
  out += fingerprint_hex(event.fingerprint);
  out += R"("})";
}

base::Result<AlertEvent> parse_alert_event(std::string_view json) {
  // Restarts read a few events; a parser per call keeps this function free of state.
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::ondemand::document document;
  simdjson::ondemand::object object;
  if (auto error = parser.iterate(padded).get(document)) return json_error("event", error);
  if (auto error = document.get_object().get(object)) {
    return error == simdjson::INCORRECT_TYPE ? invalid("event", "expected a JSON object")
                                             : json_error("event", error);
  }

  AlertEvent event;
  bool has_status = false, has_labels = false, has_annotations = false, has_starts_at = false,
       has_ends_at = false, has_value = false, has_fingerprint = false;
  std::uint64_t fingerprint = 0;
  for (auto member : object) {
    std::string_view key;
    if (auto error = member.unescaped_key().get(key)) return json_error("event", error);
    simdjson::ondemand::value value;
    if (auto error = member.value().get(value)) return json_error(key, error);
    if (key == "status") {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS ||
          (text != "firing" && text != "resolved")) {
        return invalid(key, "expected \"firing\" or \"resolved\"");
      }
      event.status = text == "firing" ? EventStatus::kFiring : EventStatus::kResolved;
      has_status = true;
    } else if (key == "labels" || key == "annotations") {
      const bool labels = key == "labels";
      auto entries = read_string_map(value, labels ? "labels" : "annotations");
      if (!entries) return std::unexpected(std::move(entries.error()));
      (labels ? event.labels : event.annotations) = std::move(*entries);
      (labels ? has_labels : has_annotations) = true;
    } else if (key == "startsAt") {
      auto instant = read_instant(value, "startsAt");
      if (!instant) return std::unexpected(std::move(instant.error()));
      event.starts_at = *instant;
      has_starts_at = true;
    } else if (key == "endsAt") {
      auto instant = read_instant(value, "endsAt");
      if (!instant) return std::unexpected(std::move(instant.error()));
      if (*instant != base::parse_rfc3339_millis(kZeroTime)) event.ends_at = *instant;
      has_ends_at = true;
    } else if (key == "value") {
      bool null = false;
      if (value.is_null().get(null) == simdjson::SUCCESS && null) {
        event.value = std::numeric_limits<double>::quiet_NaN();
      } else if (value.get_double().get(event.value) != simdjson::SUCCESS) {
        return invalid(key, "expected a number or null");
      }
      has_value = true;
    } else if (key == "fingerprint") {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS || text.size() != 16 ||
          std::from_chars(text.data(), text.data() + text.size(), fingerprint, 16).ptr !=
              text.data() + text.size()) {
        return invalid(key, "expected 16 hex digits");
      }
      has_fingerprint = true;
    }
    // Other keys (Alertmanager's generatorURL, ...) are not ours to judge.
  }
  // simdjson 3.0 has no document::at_end(): a location still inside the input after the
  // object means more text follows it.
  if (const char* rest = nullptr; document.current_location().get(rest) == simdjson::SUCCESS) {
    return invalid("event", "text after the JSON object");
  }

  for (const auto& [present, name] :
       std::initializer_list<std::pair<bool, std::string_view>>{{has_status, "status"},
                                                                {has_labels, "labels"},
                                                                {has_annotations, "annotations"},
                                                                {has_starts_at, "startsAt"},
                                                                {has_ends_at, "endsAt"},
                                                                {has_value, "value"},
                                                                {has_fingerprint, "fingerprint"}}) {
    if (!present) return invalid(name, "missing");
  }
  if (event.status == EventStatus::kResolved && !event.ends_at) {
    return invalid("endsAt", "a resolved alert needs an end");
  }
  if (event.status == EventStatus::kFiring && event.ends_at) {
    return invalid("endsAt", "must be " + std::string(kZeroTime) + " while firing");
  }
  event.fingerprint = fingerprint_of(event.labels);
  if (fingerprint != event.fingerprint) {
    return invalid("fingerprint", "does not match the labels (expected " +
                                      fingerprint_hex(event.fingerprint) + ")");
  }
  return event;
}

}  // namespace iw::alerting
