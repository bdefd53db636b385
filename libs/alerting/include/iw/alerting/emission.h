#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "iw/alerting/alert_event.h"
#include "iw/alerting/alert_history.h"
#include "iw/alerting/evaluator.h"
#include "iw/base/clock.h"

namespace iw::alerting {

/// An alert event to write to the alerts topic, with its key.
struct EmittedEvent {
  AlertEvent event;
  /// The event's `source` label, or its fingerprint (hex) when it has none. Keyed by source,
  /// every event of one source, so of each of its Loki streams (whose labels include source),
  /// is in one partition, in the order it happened. Keyed by fingerprint, a source's alerts
  /// would spread over partitions, and a pusher reading one partition's backlog before
  /// another's (after a restart) would send a stream's entries hours out of order: Loki
  /// refuses those (too far behind).
  std::string key;
};

/// What Alertmanager's notifier is handed.
struct Notification {
  /// Every alert firing now, with its current value.
  std::vector<AlertEvent> firing;
  /// The resolves written since the last notification.
  std::vector<AlertEvent> resolved;
};

struct EmissionOptions {
  /// How long after the first run of a replay that starts mid-input the windows are trusted
  /// (warm_up_of: the longest window plus the allowed lateness).
  Millis warm_up{0};
  /// Whether notifications are wanted (an Alertmanager is configured). Without, notification()
  /// says nothing and no resolve is kept for it.
  bool notify = false;
  /// The least time between two notifications: the changes of a catch-up, which come with
  /// nearly every poll, reach Alertmanager together at most this often rather than one post of
  /// every firing alert per poll.
  std::chrono::milliseconds notify_spacing{100};
};

/// Which of the evaluator's transitions become alert events, and when Alertmanager hears of
/// them. Pure: the caller writes the events and posts the notifications.
///
/// A restart or a rebalance replays the input (Replay) into a new evaluator, which emits the
/// same transitions at the same instants again (the evaluation is deterministic). The history
/// read back from the alerts topic says which of them were written before: none is written
/// twice, and alerts still firing keep their `startsAt`. A replay that starts mid-input sees
/// partial windows until the warm-up has passed since its first run: what the evaluator says
/// before that is not written.
///
/// For each advance of the evaluator, the caller asks event_for() each transition in order,
/// writes the events, reports each accepted write (written()), then calls advanced() once every
/// event of the advance is written.
class AlertEmission {
 public:
  explicit AlertEmission(EmissionOptions options) : options_(options) {}

  /// A replay starts; `history` is what the alerts topic holds. `whole_input` (Replay): no
  /// warm-up; otherwise the warm-up ends `warm_up` after the end of the first run observed.
  /// What is waiting for Alertmanager is kept.
  void start_replay(AlertHistory history, bool whole_input);

  /// A run ending at `end` was read (evaluated or late).
  void observed(Instant end);

  /// The event to write for `transition`, one of the changes of the evaluator's last advance:
  /// nothing for a change to or from pending (those are in the metrics), during the warm-up, or
  /// for a transition the history holds (written before the restart). A resolve keeps the
  /// `startsAt` the history knows: its episode may have begun before the replay start.
  [[nodiscard]] std::optional<EmittedEvent> event_for(const Transition& transition,
                                                      const Evaluator& evaluator) const;

  /// `event` was written: the history holds it, and Alertmanager is told.
  void written(const AlertEvent& event);

  /// Every event of the evaluator's last advance was written. The first time after the warm-up
  /// (or after a replay of the whole input), alerts firing now that the history knows keep the
  /// `startsAt` they had before the restart.
  void advanced(Evaluator& evaluator);

  /// What to hand Alertmanager's notifier now, if anything: nothing while warming up, nor while
  /// the evaluator is behind the latest instant the alerts topic holds (those alerts were sent
  /// before the restart, and the ones resolved since would show as firing again: the notifier
  /// keeps sending what it had); else after an event was written, at once unless the last
  /// notification is less than `notify_spacing` old (then once it is), otherwise once a second
  /// (for the values in the annotations).
  [[nodiscard]] std::optional<Notification> notification(const Evaluator& evaluator,
                                                         base::MonotonicTime now);

  [[nodiscard]] const AlertHistory& history() const { return history_; }

  /// Whether the replay is still warming up: nothing is written or notified until the evaluator
  /// reaches warm_until().
  [[nodiscard]] bool warming(const Evaluator& evaluator) const {
    return evaluator.now() < warm_until_;
  }
  /// When the warm-up ends: Instant::min() without one, Instant::max() until the replay's first
  /// run is observed, then that run's end plus the warm-up.
  [[nodiscard]] Instant warm_until() const { return warm_until_; }

 private:
  EmissionOptions options_;
  AlertHistory history_;
  Instant warm_until_ = Instant::min();  // Instant::max(): until the first run is observed
  bool warmed_ = false;
  bool changed_ = false;
  base::MonotonicTime next_notification_{};
  base::MonotonicTime last_notification_ = base::MonotonicTime::min();
  std::vector<AlertEvent> resolved_;
};

}  // namespace iw::alerting
