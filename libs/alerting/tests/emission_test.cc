#include "iw/alerting/emission.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "history_events.h"

namespace iw::alerting {
namespace {

using history_events::firing;
using history_events::resolved;
using std::chrono::milliseconds;
using std::chrono::minutes;

// 2025-09-21T08:00:00Z.
const Instant kT0{std::chrono::sys_days{std::chrono::year{2025} / 9 / 21} + std::chrono::hours(8)};
const base::MonotonicTime kM0{std::chrono::hours(1)};

// Fires from a failure at its end, for one 10-minute window.
Rule failures(GroupBy group_by = GroupBy::kSource) {
  return {.alert = "Failures",
          .kind = RuleKind::kFailedRuns,
          .group_by = group_by,
          .window = minutes(10),
          .comparison = Comparison::kGreaterOrEqual,
          .threshold = 1,
          .labels = {{"severity", "critical"}}};
}

Run failed(Instant end, std::string_view source = "Zoho") {
  return {.source = source, .objet = "deals", .etat = Etat::kFailed, .end = end};
}

// An evaluator and what one AlertEmission makes of its transitions, written as the service does.
struct Stage {
  explicit Stage(EmissionOptions options, std::vector<Rule> rules = {failures()})
      : evaluator(std::move(rules)), emission(options) {}

  void add(const Run& run) {
    emission.observed(run.end);
    evaluator.add(run);
  }

  // Advances to `t`; the events written, in order.
  std::vector<EmittedEvent> advance_to(Instant t) {
    std::vector<Transition> transitions;
    evaluator.advance_to(t, transitions);
    std::vector<EmittedEvent> out;
    for (const Transition& transition : transitions) {
      auto emitted = emission.event_for(transition, evaluator);
      if (!emitted) continue;
      emission.written(emitted->event);
      out.push_back(std::move(*emitted));
    }
    emission.advanced(evaluator);
    return out;
  }

  std::vector<ActiveAlert> active() const {
    std::vector<ActiveAlert> out;
    evaluator.for_each_active([&](const ActiveAlert& a) { out.push_back(a); });
    return out;
  }

  Evaluator evaluator;
  AlertEmission emission;
};

// The fingerprint the rule's alert for Zoho has.
std::uint64_t zoho_fingerprint() {
  Stage stage({});
  stage.add(failed(kT0));
  const auto events = stage.advance_to(kT0);
  EXPECT_EQ(events.size(), 1U);
  return events.empty() ? 0 : events[0].event.fingerprint;
}

TEST(AlertEmissionTest, FiringAndResolveAreWrittenKeyedBySource) {
  Stage stage({});
  stage.emission.start_replay({}, /*whole_input=*/true);
  stage.add(failed(kT0));
  const auto events = stage.advance_to(kT0 + minutes(30));
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].event.status, EventStatus::kFiring);
  EXPECT_EQ(events[0].event.starts_at, kT0);
  EXPECT_EQ(events[0].key, "Zoho");
  EXPECT_EQ(events[1].event.status, EventStatus::kResolved);
  EXPECT_EQ(events[1].event.starts_at, kT0);
  EXPECT_EQ(events[1].event.ends_at, kT0 + minutes(10));
  EXPECT_EQ(events[1].key, "Zoho");
  EXPECT_EQ(stage.emission.history().size(), 2U);  // what was written is remembered
}

TEST(AlertEmissionTest, AnAlertWithoutASourceIsKeyedByItsFingerprint) {
  const Labels labels = {{"alertname", "Global"}};
  const Rule rule = failures();
  const Transition transition{
      .alert = {.rule = &rule, .labels = &labels, .fingerprint = fingerprint_of(labels)},
      .from = AlertState::kInactive,
      .to = AlertState::kFiring,
      .at = kT0,
      .fired_at = kT0};
  const Evaluator evaluator({rule});
  const AlertEmission emission({});
  const auto emitted = emission.event_for(transition, evaluator);
  ASSERT_TRUE(emitted.has_value());
  EXPECT_EQ(emitted->key, fingerprint_hex(fingerprint_of(labels)));
  EXPECT_EQ(emitted->key.size(), 16U);
}

TEST(AlertEmissionTest, PendingIsNotAnEvent) {
  Rule rule = failures();
  rule.for_duration = minutes(2);
  Stage stage({}, {rule});
  stage.emission.start_replay({}, true);
  stage.add(failed(kT0));
  const auto events = stage.advance_to(kT0 + minutes(1));  // inactive -> pending
  EXPECT_TRUE(events.empty());
  ASSERT_EQ(stage.active().size(), 1U);
  EXPECT_EQ(stage.active()[0].state, AlertState::kPending);
  const auto later = stage.advance_to(kT0 + minutes(30));  // pending -> firing -> inactive
  ASSERT_EQ(later.size(), 2U);
  EXPECT_EQ(later[0].event.starts_at, kT0 + minutes(2));
}

TEST(AlertEmissionTest, ATransitionWrittenBeforeTheRestartIsNotWrittenAgain) {
  const std::uint64_t fingerprint = zoho_fingerprint();
  AlertHistory history;
  history.record(firing(fingerprint, kT0));  // written, then the evaluator restarted
  Stage stage({});
  stage.emission.start_replay(std::move(history), true);
  stage.add(failed(kT0));
  const auto events = stage.advance_to(kT0 + minutes(30));
  // The replay finds the same firing at the same instant: only the resolve is new.
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].event.status, EventStatus::kResolved);
  EXPECT_EQ(events[0].event.ends_at, kT0 + minutes(10));

  // A second replay, after the resolve was written too, writes nothing.
  Stage again({});
  again.emission.start_replay(stage.emission.history(), true);
  again.add(failed(kT0));
  EXPECT_TRUE(again.advance_to(kT0 + minutes(30)).empty());
}

TEST(AlertEmissionTest, AResolveKeepsTheStartsAtTheHistoryKnows) {
  // The replay starts after the episode began: the evaluator's own startsAt is later.
  const Labels labels = {{"alertname", "Failures"}, {"source", "Zoho"}};
  const Rule rule = failures();
  const std::uint64_t fingerprint = fingerprint_of(labels);
  AlertHistory history;
  history.record(firing(fingerprint, kT0 - minutes(40)));
  AlertEmission emission({});
  emission.start_replay(std::move(history), true);
  const Evaluator evaluator({rule});
  const Transition resolve{.alert = {.rule = &rule, .labels = &labels, .fingerprint = fingerprint},
                           .from = AlertState::kFiring,
                           .to = AlertState::kInactive,
                           .at = kT0 + minutes(10),
                           .fired_at = kT0};
  const auto emitted = emission.event_for(resolve, evaluator);
  ASSERT_TRUE(emitted.has_value());
  EXPECT_EQ(emitted->event.status, EventStatus::kResolved);
  EXPECT_EQ(emitted->event.starts_at, kT0 - minutes(40));
  EXPECT_EQ(emitted->event.ends_at, kT0 + minutes(10));

  // An episode the history saw resolve keeps the evaluator's startsAt.
  AlertHistory closed;
  closed.record(firing(fingerprint, kT0 - minutes(40)));
  closed.record(resolved(fingerprint, kT0 - minutes(40), kT0 - minutes(30)));
  emission.start_replay(std::move(closed), true);
  const auto fresh = emission.event_for(resolve, evaluator);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->event.starts_at, kT0);
}

TEST(AlertEmissionTest, TheWarmUpWritesNothingThenRestoresStartsAtFromTheHistory) {
  const std::uint64_t fingerprint = zoho_fingerprint();
  AlertHistory history;
  history.record(firing(fingerprint, kT0 - minutes(30)));  // firing since before the replay start
  Stage stage({.warm_up = minutes(10)});
  stage.emission.start_replay(std::move(history), /*whole_input=*/false);
  // Failures every 5 minutes: firing from kT0 until 10 minutes after the last, kT0 + 25m.
  for (int i = 0; i < 4; ++i) stage.add(failed(kT0 + minutes(5 * i)));
  // The warm-up ends 10 minutes after the first run observed: kT0 + 10m.
  EXPECT_TRUE(stage.advance_to(kT0 + minutes(9)).empty());  // the firing at kT0 is not written
  ASSERT_EQ(stage.active().size(), 1U);
  EXPECT_EQ(stage.active()[0].fired_at, kT0);  // not yet restored
  EXPECT_TRUE(stage.advance_to(kT0 + minutes(12)).empty());
  ASSERT_EQ(stage.active().size(), 1U);
  EXPECT_EQ(stage.active()[0].fired_at, kT0 - minutes(30));  // the history's
  const auto events = stage.advance_to(kT0 + minutes(40));
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].event.status, EventStatus::kResolved);
  EXPECT_EQ(events[0].event.starts_at, kT0 - minutes(30));
  EXPECT_EQ(events[0].event.ends_at, kT0 + minutes(25));

  // A rebalance replays again, into a new evaluator: restored again after its warm-up.
  stage.evaluator = Evaluator({failures()});
  AlertHistory again;
  again.record(firing(fingerprint, kT0 - minutes(30)));
  stage.emission.start_replay(std::move(again), false);
  for (int i = 0; i < 4; ++i) stage.add(failed(kT0 + minutes(5 * i)));
  EXPECT_TRUE(stage.advance_to(kT0 + minutes(9)).empty());
  EXPECT_TRUE(stage.advance_to(kT0 + minutes(12)).empty());
  ASSERT_EQ(stage.active().size(), 1U);
  EXPECT_EQ(stage.active()[0].fired_at, kT0 - minutes(30));
}

// One advance that crosses the end of the warm-up (a batch of records evaluated at once, as
// after a restart): a transition dated before the end is the warm-up's, and not written.
TEST(AlertEmissionTest, AnAdvanceAcrossTheWarmUpsEndWritesOnlyTheTransitionsAfterIt) {
  Stage stage({.warm_up = minutes(10)});
  stage.emission.start_replay({}, /*whole_input=*/false);
  stage.add(failed(kT0));                // fires at kT0, in the warm-up
  stage.add(failed(kT0 + minutes(30)));  // fires again at kT0 + 30m, after it
  const auto events = stage.advance_to(kT0 + minutes(35));
  std::vector<Instant> firing_at;
  for (const auto& e : events) {
    if (e.event.status == EventStatus::kFiring) firing_at.push_back(e.event.starts_at);
  }
  EXPECT_EQ(firing_at, std::vector<Instant>{kT0 + minutes(30)});
}

TEST(AlertEmissionTest, TheWarmUpEndsAfterTheFirstRunOfTheReplay) {
  Stage stage({.warm_up = minutes(10)});
  stage.emission.start_replay({}, false);
  stage.add(failed(kT0));               // the warm-up ends at kT0 + 10m
  stage.add(failed(kT0 + minutes(8)));  // later runs do not move it
  stage.add(failed(kT0 + minutes(12), "Efficy"));
  EXPECT_TRUE(stage.advance_to(kT0 + minutes(9)).empty());  // Zoho fires at kT0: not written
  const auto events = stage.advance_to(kT0 + minutes(12));
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].key, "Efficy");
  EXPECT_EQ(events[0].event.starts_at, kT0 + minutes(12));
  const auto resolves = stage.advance_to(kT0 + minutes(40));
  ASSERT_EQ(resolves.size(), 2U);
  EXPECT_EQ(resolves[0].key, "Zoho");
  EXPECT_EQ(resolves[0].event.ends_at, kT0 + minutes(18));
  EXPECT_EQ(resolves[0].event.starts_at, kT0);  // nothing in the history: the evaluator's own

  // A replay of the whole input has no warm-up.
  Stage whole({.warm_up = minutes(10)});
  whole.emission.start_replay({}, false);
  whole.emission.start_replay({}, true);
  whole.add(failed(kT0));
  EXPECT_EQ(whole.advance_to(kT0).size(), 1U);
}

TEST(AlertEmissionTest, AlertmanagerHearsAtOnceAfterAChangeElseOnceASecond) {
  Stage stage({.notify = true});
  stage.emission.start_replay({}, true);
  stage.add(failed(kT0));
  const auto first = stage.emission.notification(stage.evaluator, kM0);
  ASSERT_TRUE(first.has_value());  // the first time
  EXPECT_TRUE(first->firing.empty());
  EXPECT_FALSE(stage.emission.notification(stage.evaluator, kM0 + milliseconds(500)));

  ASSERT_EQ(stage.advance_to(kT0 + minutes(1)).size(), 1U);  // a firing written: at once
  const auto fired = stage.emission.notification(stage.evaluator, kM0 + milliseconds(600));
  ASSERT_TRUE(fired.has_value());
  ASSERT_EQ(fired->firing.size(), 1U);
  EXPECT_EQ(fired->firing[0].starts_at, kT0);
  EXPECT_TRUE(fired->resolved.empty());

  // Nothing new: once a second after the last one, for the values.
  EXPECT_FALSE(stage.emission.notification(stage.evaluator, kM0 + milliseconds(1599)));
  const auto again = stage.emission.notification(stage.evaluator, kM0 + milliseconds(1600));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->firing.size(), 1U);

  ASSERT_EQ(stage.advance_to(kT0 + minutes(30)).size(), 1U);  // the resolve
  const auto resolved_now = stage.emission.notification(stage.evaluator, kM0 + milliseconds(1700));
  ASSERT_TRUE(resolved_now.has_value());
  EXPECT_TRUE(resolved_now->firing.empty());
  ASSERT_EQ(resolved_now->resolved.size(), 1U);
  EXPECT_EQ(resolved_now->resolved[0].ends_at, kT0 + minutes(10));
  const auto later = stage.emission.notification(stage.evaluator, kM0 + milliseconds(2700));
  ASSERT_TRUE(later.has_value());
  EXPECT_TRUE(later->resolved.empty());  // a resolve is handed over once
}

TEST(AlertEmissionTest, ChangesCloserThanTheSpacingReachAlertmanagerTogether) {
  Stage stage({.notify = true, .notify_spacing = milliseconds(100)});
  stage.emission.start_replay({}, true);
  stage.add(failed(kT0));
  ASSERT_TRUE(stage.emission.notification(stage.evaluator, kM0).has_value());

  ASSERT_EQ(stage.advance_to(kT0 + minutes(1)).size(), 1U);  // a firing, 40 ms later
  EXPECT_FALSE(stage.emission.notification(stage.evaluator, kM0 + milliseconds(40)));
  ASSERT_EQ(stage.advance_to(kT0 + minutes(30)).size(), 1U);  // and its resolve
  EXPECT_FALSE(stage.emission.notification(stage.evaluator, kM0 + milliseconds(99)));
  // Both in one notification, once the last one is 100 ms old.
  const auto together = stage.emission.notification(stage.evaluator, kM0 + milliseconds(100));
  ASSERT_TRUE(together.has_value());
  EXPECT_TRUE(together->firing.empty());
  ASSERT_EQ(together->resolved.size(), 1U);
  EXPECT_EQ(together->resolved[0].starts_at, kT0);
  // Nothing new: the next once a second after it.
  EXPECT_FALSE(stage.emission.notification(stage.evaluator, kM0 + milliseconds(1099)));
  EXPECT_TRUE(stage.emission.notification(stage.evaluator, kM0 + milliseconds(1100)));
}

TEST(AlertEmissionTest, AlertmanagerHearsNothingWhileWarmingUpOrBehindTheHistory) {
  const std::uint64_t fingerprint = zoho_fingerprint();
  Stage warming({.warm_up = minutes(10), .notify = true});
  warming.emission.start_replay({}, false);
  warming.add(failed(kT0));
  warming.advance_to(kT0 + minutes(5));
  EXPECT_FALSE(warming.emission.notification(warming.evaluator, kM0));
  warming.advance_to(kT0 + minutes(10));
  EXPECT_TRUE(warming.emission.notification(warming.evaluator, kM0));

  // The alerts topic holds transitions up to kT0 + 20m: replaying up to there says nothing.
  AlertHistory history;
  history.record(firing(fingerprint, kT0));
  history.record(resolved(fingerprint, kT0, kT0 + minutes(10)));
  history.record(firing(fingerprint, kT0 + minutes(20)));
  Stage behind({.notify = true});
  behind.emission.start_replay(std::move(history), true);
  behind.add(failed(kT0));
  behind.add(failed(kT0 + minutes(20)));
  EXPECT_TRUE(behind.advance_to(kT0 + minutes(19)).empty());
  EXPECT_FALSE(behind.emission.notification(behind.evaluator, kM0));
  EXPECT_FALSE(behind.emission.notification(behind.evaluator, kM0 + minutes(1)));
  EXPECT_TRUE(behind.advance_to(kT0 + minutes(20)).empty());
  const auto caught_up = behind.emission.notification(behind.evaluator, kM0 + minutes(1));
  ASSERT_TRUE(caught_up.has_value());
  ASSERT_EQ(caught_up->firing.size(), 1U);
  EXPECT_EQ(caught_up->firing[0].starts_at, kT0 + minutes(20));
}

TEST(AlertEmissionTest, WithoutAlertmanagerNothingIsKeptForIt) {
  Stage stage({});
  stage.emission.start_replay({}, true);
  stage.add(failed(kT0));
  EXPECT_EQ(stage.advance_to(kT0 + minutes(30)).size(), 2U);
  EXPECT_FALSE(stage.emission.notification(stage.evaluator, kM0));
}

}  // namespace
}  // namespace iw::alerting
