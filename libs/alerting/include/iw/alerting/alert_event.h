#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "iw/alerting/evaluator.h"
#include "iw/alerting/rule.h"
#include "iw/base/error.h"

namespace iw::alerting {

/// Alertmanager's fingerprint of a label set (`model.LabelSet.Fingerprint`): FNV-1a 64 over
/// each name and value, sorted by name, each followed by the byte 0xff. `labels` must be sorted
/// by name.
[[nodiscard]] std::uint64_t fingerprint_of(const Labels& labels);

/// 16 lowercase hex digits, as Alertmanager shows fingerprints.
[[nodiscard]] std::string fingerprint_hex(std::uint64_t fingerprint);

/// Renders an annotation template: `{{ $labels.<name> }}` (empty when the label is absent),
/// `{{ $value }}` (shortest round-trip digits) and `{{ $value | humanizeDuration }}`; other
/// text is copied. check_template() has already rejected anything else at load time.
[[nodiscard]] std::string render_template(std::string_view text, const Labels& labels,
                                          double value);

/// An empty string when render_template() understands every `{{ ... }}` of `text`, else why
/// not.
[[nodiscard]] std::string check_template(std::string_view text);

enum class EventStatus { kFiring, kResolved };

/// The alert event of BRIEF §5, shaped like an Alertmanager v2 alert.
struct AlertEvent {
  EventStatus status = EventStatus::kFiring;
  Labels labels;       // sorted by name, alertname included
  Labels annotations;  // rendered
  Instant starts_at{};
  /// The resolve instant; nothing while firing (written as Go's zero time,
  /// "0001-01-01T00:00:00.000Z", which Alertmanager reads as "not known").
  std::optional<Instant> ends_at;
  double value = 0;
  std::uint64_t fingerprint = 0;
};

/// The event for a change to firing or to resolved (annotations rendered from the rule).
/// IW_CHECKs that `transition` is one of those two changes.
[[nodiscard]] AlertEvent event_of(const Transition& transition);

/// The firing event of an alert firing now, with its current value (what Alertmanager is sent
/// again while it fires). IW_CHECKs that it is firing.
[[nodiscard]] AlertEvent event_of(const ActiveAlert& active);

/// Appends the event as one line of JSON (no newline), keys in BRIEF §5's order:
/// status, labels, annotations, startsAt, endsAt, value, fingerprint.
void append_alert_event(std::string& out, const AlertEvent& event);

/// Appends the event as one postable alert of Alertmanager's /api/v2/alerts (labels,
/// annotations, startsAt, endsAt), with the `ends_at` the sender chooses: a resolve's own, or
/// for a firing alert a time a few resend intervals ahead, after which Alertmanager resolves it
/// unless it is sent again.
void append_postable_alert(std::string& out, const AlertEvent& event, Instant ends_at);

/// Reads back what append_alert_event() wrote (for a restart, which learns from the alerts
/// topic which alerts are firing and since when). kInvalidInput names what is wrong.
[[nodiscard]] base::Result<AlertEvent> parse_alert_event(std::string_view json);

}  // namespace iw::alerting
