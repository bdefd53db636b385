#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "iw/alerting/rule.h"
#include "iw/alerting/run.h"

namespace iw::alerting {

/// Prometheus's alert states.
enum class AlertState : std::uint8_t { kInactive, kPending, kFiring };

[[nodiscard]] std::string_view state_name(AlertState state);

/// An alert of one rule for one key (its labels).
struct AlertIdentity {
  const Rule* rule = nullptr;
  std::size_t rule_index = 0;
  /// alertname, the rule's static labels and the key's labels, sorted by name.
  const Labels* labels = nullptr;
  /// Alertmanager's fingerprint of `labels` (FNV-1a 64 over sorted names and values).
  std::uint64_t fingerprint = 0;
};

/// A change of an alert's state at an exact event-time instant.
struct Transition {
  AlertIdentity alert;
  AlertState from = AlertState::kInactive;
  AlertState to = AlertState::kInactive;
  /// The instant of the change.
  Instant at{};
  /// When the alert (last) started firing: `startsAt` of its Alertmanager form. Equal to `at`
  /// on the change to firing; for a resolve, the instant the episode began firing.
  Instant fired_at{};
  /// When the condition (last) became true (Prometheus's activeAt).
  Instant active_at{};
  /// The rule's value at `at`: the count, ratio, quantile or seconds since the last run.
  double value = 0;
};

/// A currently active (pending or firing) alert, for gauges and re-sending.
struct ActiveAlert {
  AlertIdentity alert;
  AlertState state = AlertState::kInactive;
  Instant active_at{};
  Instant fired_at{};
  double value = 0;
};

struct EvaluatorOptions {
  /// Sources that are known before they report: silent `window` after the first evaluated
  /// instant if they never do (BRIEF §4).
  std::vector<std::string> configured_sources;
};

/// The six kinds of rule over per-key event-time windows, with the Prometheus lifecycle
/// (pending for `for`, firing, `keep_firing_for`, resolved) at exact instants. Pure and
/// single-threaded: the caller owns the clock and decides how far to advance.
///
/// Runs are buffered until the clock passes their τ, so runs that arrive out of order but
/// before the clock reaches them are evaluated in τ order. A condition can only change where
/// a run enters a window (τ) or leaves it (τ + window), so the evaluator visits exactly those
/// instants (and the `for` / `keep_firing_for` deadlines) and reports each change at the
/// instant it happens, not on an evaluation grid.
class Evaluator {
 public:
  Evaluator(std::vector<Rule> rules, EvaluatorOptions options = {});
  ~Evaluator();
  Evaluator(Evaluator&&) noexcept;
  Evaluator& operator=(Evaluator&&) noexcept;

  enum class Admission { kAccepted, kLate, kDuplicate };
  /// Takes a run. kDuplicate when a run with the same non-empty `id` was accepted and is still
  /// remembered (ids are kept until the longest window has passed their τ: as long as a window
  /// could hold the run); kLate when its τ is at or before the instant already evaluated. The
  /// caller counts and logs both; the run is then not folded in.
  Admission add(const Run& run);

  /// Evaluates every instant up to and including `t` and appends the state changes, ordered by
  /// instant, then rule, then fingerprint. Does nothing when `t` is not after now().
  void advance_to(Instant t, std::vector<Transition>& out);

  /// The last instant evaluated; Instant::min() before the first advance.
  [[nodiscard]] Instant now() const;

  /// Makes an alert that the evaluator finds firing keep the `startsAt` it had before a
  /// restart. Returns false when no firing alert has this fingerprint.
  bool restore_fired_at(std::uint64_t fingerprint, Instant fired_at);

  /// Calls `visit` for every pending and firing alert.
  void for_each_active(const std::function<void(const ActiveAlert&)>& visit) const;

  [[nodiscard]] const std::vector<Rule>& rules() const;
  /// Keys (source, or source and objet) seen so far.
  [[nodiscard]] std::size_t key_count() const;
  /// Runs buffered until the clock reaches them.
  [[nodiscard]] std::size_t buffered_runs() const;
  /// Run ids remembered to recognise a copy.
  [[nodiscard]] std::size_t remembered_ids() const;
  /// Approximate heap bytes held for windows and keys.
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iw::alerting
