#include "iw/alerting/emission.h"

#include <chrono>
#include <utility>

namespace iw::alerting {
namespace {

std::string key_of(const AlertEvent& event) {
  for (const auto& [name, value] : event.labels) {
    if (name == "source") return value;
  }
  return fingerprint_hex(event.fingerprint);
}

}  // namespace

void AlertEmission::start_replay(AlertHistory history, bool whole_input) {
  history_ = std::move(history);
  warm_until_ = whole_input ? Instant::min() : Instant::max();
  warmed_ = false;
}

void AlertEmission::observed(Instant end) {
  if (warm_until_ == Instant::max()) warm_until_ = end + options_.warm_up;
}

std::optional<EmittedEvent> AlertEmission::event_for(const Transition& transition,
                                                     const Evaluator& evaluator) const {
  const bool firing = transition.to == AlertState::kFiring;
  const bool resolved = transition.from == AlertState::kFiring;
  if (!firing && !resolved) return std::nullopt;
  // By the transition's own instant: one advance can cross the end of the warm-up, and what the
  // windows said before it is not written.
  if (warming(evaluator) || transition.at < warm_until_) return std::nullopt;
  AlertEvent event = event_of(transition);
  if (history_.contains(event)) return std::nullopt;
  if (resolved) {
    if (const auto since = history_.firing_since(event.fingerprint, transition.at)) {
      event.starts_at = *since;
    }
  }
  std::string key = key_of(event);
  return EmittedEvent{.event = std::move(event), .key = std::move(key)};
}

void AlertEmission::written(const AlertEvent& event) {
  history_.record(event);
  if (!options_.notify) return;
  changed_ = true;
  if (event.status == EventStatus::kResolved) resolved_.push_back(event);
}

void AlertEmission::advanced(Evaluator& evaluator) {
  if (warming(evaluator) || warmed_) return;
  warmed_ = true;
  std::vector<std::pair<std::uint64_t, Instant>> restore;
  evaluator.for_each_active([&](const ActiveAlert& active) {
    if (active.state != AlertState::kFiring) return;
    if (const auto since = history_.firing_since(active.alert.fingerprint, evaluator.now())) {
      restore.emplace_back(active.alert.fingerprint, *since);
    }
  });
  for (const auto& [fingerprint, since] : restore) evaluator.restore_fired_at(fingerprint, since);
}

std::optional<Notification> AlertEmission::notification(const Evaluator& evaluator,
                                                        base::MonotonicTime now) {
  if (!options_.notify) return std::nullopt;
  if (now < next_notification_ &&
      (!changed_ || now < last_notification_ + options_.notify_spacing)) {
    return std::nullopt;
  }
  if (warming(evaluator)) return std::nullopt;
  if (const auto latest = history_.latest(); latest && evaluator.now() < *latest) {
    return std::nullopt;
  }
  changed_ = false;
  last_notification_ = now;
  next_notification_ = now + std::chrono::seconds(1);
  Notification notification{.resolved = std::exchange(resolved_, {})};
  evaluator.for_each_active([&](const ActiveAlert& active) {
    if (active.state == AlertState::kFiring) notification.firing.push_back(event_of(active));
  });
  return notification;
}

}  // namespace iw::alerting
