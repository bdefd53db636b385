#include "iw/alerting/evaluator.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <deque>
#include <queue>
#include <string>
#include <unordered_map>

#include "fifo.h"
#include "id_set.h"
#include "iw/alerting/alert_event.h"
#include "iw/base/check.h"
#include "iw/base/string_hash.h"
#include "sorted_window.h"

namespace iw::alerting {
namespace {

// Heterogeneous lookup, so finding a key by string_view allocates nothing.
using KeyMap = base::StringMap<std::uint32_t>;

// Cannot appear in a label value a person writes; joins source and objet into one map key.
constexpr char kKeySeparator = '\x1f';

bool compare(double value, Comparison comparison, double threshold) {
  switch (comparison) {
    case Comparison::kGreater:
      return value > threshold;
    case Comparison::kGreaterOrEqual:
      return value >= threshold;
    case Comparison::kLess:
      return value < threshold;
    case Comparison::kLessOrEqual:
      return value <= threshold;
  }
  return false;
}

std::optional<double> field_of(const Run& run, RunField field) {
  switch (field) {
    case RunField::kDurationSeconds:
      return run.duration_seconds;
    case RunField::kCpuSeconds:
      return run.cpu_seconds;
    case RunField::kMemoryBytes:
      return run.memory_bytes;
  }
  return std::nullopt;
}

double seconds(Millis span) { return static_cast<double>(span.count()) / 1000.0; }

}  // namespace

std::string_view state_name(AlertState state) {
  switch (state) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "unknown";
}

struct Evaluator::Impl {
  // The window state and the alert of one rule for one key: what evaluation touches, kept
  // small (the labels live apart) so that tens of thousands of them stay cache-friendly.
  struct State {
    std::uint32_t rule = 0;
    std::uint64_t fingerprint = 0;
    // Window contents: all runs, FAILED runs, and (percentile rules) the values, sorted.
    std::int64_t runs = 0;
    std::int64_t failed = 0;
    SortedWindow sorted;
    // The latest τ admitted (or the configured start-up instant); min() when never seen.
    Instant last_run = Instant::min();
    bool condition = false;
    AlertState alert = AlertState::kInactive;
    // Firing, waiting for keep_firing_for to run out after the condition went false.
    bool resolving = false;
    Instant active_at{};
    Instant fired_at{};
    // Bumped whenever a scheduled deadline stops applying, so stale timers are ignored.
    std::uint32_t generation = 0;
    std::uint64_t touched_epoch = 0;
  };

  // A run leaving one rule's window at `at` (= τ + window). Admission happens in τ order, so
  // each rule's expiries are appended in order: a FIFO per rule, no heap.
  struct Expiry {
    Instant at;
    std::uint32_t state;
    bool failed;
    bool counted;  // false for a configured source's start-up anchor, which holds no run
    double value;
  };

  // A `for` or `keep_firing_for` deadline. Fixed per rule, so also in order per rule.
  struct Timer {
    Instant at;
    std::uint32_t state;
    std::uint32_t generation;
  };

  struct PendingRun {
    Instant end;
    std::uint64_t sequence;  // arrival order, so equal instants stay deterministic
    std::uint32_t source_key;
    std::uint32_t objet_key;
    Etat etat;
    double duration_seconds;
    std::optional<double> cpu_seconds;
    std::optional<double> memory_bytes;
    std::uint64_t id_hash;  // when has_id: the run's id, as `ids` holds it
    bool has_id;

    bool operator>(const PendingRun& other) const {
      return end != other.end ? end > other.end : sequence > other.sequence;
    }
  };

  struct Key {
    std::uint32_t first_state;  // the key's states are consecutive, one per rule of its kind
    // A source's objets and their keys: a source has a handful, so a short scan of its own
    // list is cheaper than a second hash lookup (past kObjetsScanned, the map takes over).
    std::vector<std::pair<std::string, std::uint32_t>> objets;
  };
  static constexpr std::size_t kObjetsScanned = 32;

  struct PerRule {
    Fifo<Expiry> expiries;
    Fifo<Timer> for_timers;
    Fifo<Timer> keep_timers;
  };

  std::vector<Rule> rules;
  EvaluatorOptions options;
  std::vector<std::uint32_t> source_rules;  // rule indices by kind of key
  std::vector<std::uint32_t> objet_rules;
  std::vector<PerRule> per_rule;

  KeyMap source_keys;
  KeyMap objet_keys;
  std::vector<Key> keys;
  std::vector<State> states;
  std::deque<Labels> labels;  // by state index; a deque, so AlertIdentity can point into it
  std::string key_buffer;

  // Runs waiting for the clock. Each input partition delivers its runs in τ order, but polls
  // interleave partitions, so a run goes into the lane (a FIFO) whose last run is the latest
  // not after it, and only a run that fits no lane into the heap. The next run is the earliest
  // (τ, then arrival) of the lanes' fronts and the heap's top: the order one heap would give,
  // at the cost of a FIFO.
  static constexpr std::size_t kLanes = 8;
  std::array<Fifo<PendingRun>, kLanes> lanes;
  std::priority_queue<PendingRun, std::vector<PendingRun>, std::greater<>> out_of_order;
  // Bit i: lanes[i] is not empty (most of the time one or a few are).
  std::uint32_t occupied = 0;
  // Where next_pending() is: a lane's index, or kLanes for the heap.
  std::size_t next_source = kLanes;
  std::uint64_t sequence = 0;

  // Ids of the runs accepted (hashed: 64 bits make a false match among a window's runs
  // vanishingly unlikely), each forgotten once the longest window has passed its τ.
  IdSet ids;
  // When each is forgotten, in that order: queued as its run is evaluated, in τ order (an id
  // expires after its run's τ, so while its run waits its id cannot expire).
  using IdExpiry = std::pair<Instant, std::uint64_t>;
  Fifo<IdExpiry> id_expiries;
  Millis longest = Millis(0);

  Instant now = Instant::min();
  bool started = false;
  std::uint64_t epoch = 0;
  std::vector<std::uint32_t> touched;
  std::vector<Transition> at_instant;

  Impl(std::vector<Rule> rules_in, EvaluatorOptions options_in)
      : rules(std::move(rules_in)), options(std::move(options_in)), per_rule(rules.size()) {
    longest = longest_window(rules);
    for (std::uint32_t i = 0; i < rules.size(); ++i) {
      (rules[i].group_by == GroupBy::kSource ? source_rules : objet_rules).push_back(i);
    }
  }

  std::uint32_t key_for(KeyMap& map, std::string_view name, std::string_view source,
                        std::string_view objet, const std::vector<std::uint32_t>& key_rules) {
    if (auto it = map.find(name); it != map.end()) return it->second;
    const std::uint32_t key = new_key(source, objet, key_rules);
    map.emplace(std::string(name), key);
    return key;
  }

  std::uint32_t new_key(std::string_view source, std::string_view objet,
                        const std::vector<std::uint32_t>& key_rules) {
    const auto key = static_cast<std::uint32_t>(keys.size());
    keys.push_back({static_cast<std::uint32_t>(states.size()), {}});
    for (const std::uint32_t rule_index : key_rules) {
      const Rule& rule = rules[rule_index];
      Labels& state_labels = labels.emplace_back(rule.labels);
      state_labels.emplace_back("alertname", rule.alert);
      state_labels.emplace_back("source", source);
      if (rule.group_by == GroupBy::kSourceObjet) state_labels.emplace_back("objet", objet);
      std::sort(state_labels.begin(), state_labels.end());
      states.push_back({.rule = rule_index, .fingerprint = fingerprint_of(state_labels)});
    }
    return key;
  }

  std::uint32_t source_key(std::string_view source) {
    return key_for(source_keys, source, source, {}, source_rules);
  }

  std::uint32_t objet_key(std::uint32_t source_key, std::string_view source,
                          std::string_view objet) {
    for (const auto& [name, key] : keys[source_key].objets) {
      if (name == objet) return key;
    }
    if (keys[source_key].objets.size() >= kObjetsScanned) {
      key_buffer.assign(source).push_back(kKeySeparator);
      key_buffer.append(objet);
      return key_for(objet_keys, key_buffer, source, objet, objet_rules);
    }
    const std::uint32_t key = new_key(source, objet, objet_rules);
    keys[source_key].objets.emplace_back(objet, key);  // after new_key: it may grow `keys`
    return key;
  }

  void touch(std::uint32_t state_index) {
    State& state = states[state_index];
    if (state.touched_epoch == epoch) return;
    state.touched_epoch = epoch;
    touched.push_back(state_index);
  }

  void enter(std::uint32_t state_index, const PendingRun& run) {
    State& state = states[state_index];
    const Rule& rule = rules[state.rule];
    const bool failed = run.etat == Etat::kFailed;
    double value = 0;
    switch (rule.kind) {
      case RuleKind::kFailedRuns:
        // Only FAILED runs can change the count, so the others are not kept at all.
        if (!failed) return;
        break;
      case RuleKind::kFailureRatio:
      case RuleKind::kNoRuns:
        break;
      case RuleKind::kPercentile: {
        const Run view{.duration_seconds = run.duration_seconds,
                       .cpu_seconds = run.cpu_seconds,
                       .memory_bytes = run.memory_bytes};
        const std::optional<double> field = field_of(view, rule.field);
        if (!field) return;
        value = *field;
        state.sorted.insert(value);
        break;
      }
    }
    ++state.runs;
    if (failed) ++state.failed;
    state.last_run = std::max(state.last_run, run.end);
    per_rule[state.rule].expiries.push_back(
        {run.end + rule.window, state_index, failed, /*counted=*/true, value});
    touch(state_index);
  }

  void leave(const Expiry& expiry) {
    State& state = states[expiry.state];
    if (expiry.counted) {
      --state.runs;
      if (expiry.failed) --state.failed;
      if (rules[state.rule].kind == RuleKind::kPercentile) {
        IW_CHECK(state.sorted.erase(expiry.value), "a value leaving a window was never in it");
      }
    }
    touch(expiry.state);
  }

  // The rule's value for the state at `t`, and whether its condition holds.
  std::pair<bool, double> evaluate(const State& state, Instant t) const {
    const Rule& rule = rules[state.rule];
    switch (rule.kind) {
      case RuleKind::kFailedRuns: {
        const auto value = static_cast<double>(state.failed);
        return {compare(value, rule.comparison, rule.threshold), value};
      }
      case RuleKind::kFailureRatio: {
        if (state.runs == 0) return {false, 0};
        const double value = static_cast<double>(state.failed) / static_cast<double>(state.runs);
        return {state.runs >= rule.min_runs && compare(value, rule.comparison, rule.threshold),
                value};
      }
      case RuleKind::kNoRuns: {
        if (state.last_run == Instant::min()) return {false, 0};
        return {state.runs == 0, seconds(t - state.last_run)};
      }
      case RuleKind::kPercentile: {
        const std::size_t n = state.sorted.size();
        if (n == 0) return {false, 0};
        // Nearest rank ⌈q·n⌉; the epsilon keeps q·n = 19.000000000000004 at rank 19.
        const double exact = rule.quantile * static_cast<double>(n);
        auto rank = static_cast<std::size_t>(std::ceil(exact - 1e-9));
        rank = std::clamp<std::size_t>(rank, 1, n);
        const double value = state.sorted.nth(rank - 1);
        return {compare(value, rule.comparison, rule.threshold), value};
      }
    }
    return {false, 0};
  }

  void emit(std::uint32_t state_index, AlertState from, AlertState to, Instant at, double value) {
    const State& state = states[state_index];
    at_instant.push_back({.alert = {.rule = &rules[state.rule],
                                    .rule_index = state.rule,
                                    .labels = &labels[state_index],
                                    .fingerprint = state.fingerprint},
                          .from = from,
                          .to = to,
                          .at = at,
                          .fired_at = state.fired_at,
                          .active_at = state.active_at,
                          .value = value});
  }

  void on_condition(std::uint32_t state_index, Instant t, double value) {
    State& state = states[state_index];
    const Rule& rule = rules[state.rule];
    if (state.condition) {
      if (state.alert == AlertState::kInactive) {
        state.active_at = t;
        ++state.generation;
        if (rule.for_duration.count() == 0) {
          state.alert = AlertState::kFiring;
          state.fired_at = t;
          emit(state_index, AlertState::kInactive, AlertState::kFiring, t, value);
        } else {
          state.alert = AlertState::kPending;
          emit(state_index, AlertState::kInactive, AlertState::kPending, t, value);
          per_rule[state.rule].for_timers.push_back(
              {t + rule.for_duration, state_index, state.generation});
        }
      } else if (state.resolving) {
        // True again within keep_firing_for: the episode goes on.
        state.resolving = false;
        ++state.generation;
      }
      return;
    }
    if (state.alert == AlertState::kPending) {
      state.alert = AlertState::kInactive;
      ++state.generation;
      emit(state_index, AlertState::kPending, AlertState::kInactive, t, value);
    } else if (state.alert == AlertState::kFiring && !state.resolving) {
      if (rule.keep_firing_for.count() == 0) {
        state.alert = AlertState::kInactive;
        emit(state_index, AlertState::kFiring, AlertState::kInactive, t, value);
      } else {
        state.resolving = true;
        ++state.generation;
        per_rule[state.rule].keep_timers.push_back(
            {t + rule.keep_firing_for, state_index, state.generation});
      }
    }
  }

  void on_timer(const Timer& timer, Instant t) {
    State& state = states[timer.state];
    if (state.generation != timer.generation) return;
    const double value = evaluate(state, t).second;
    if (state.alert == AlertState::kPending) {
      state.alert = AlertState::kFiring;
      state.fired_at = t;
      emit(timer.state, AlertState::kPending, AlertState::kFiring, t, value);
    } else if (state.alert == AlertState::kFiring && state.resolving) {
      state.alert = AlertState::kInactive;
      state.resolving = false;
      emit(timer.state, AlertState::kFiring, AlertState::kInactive, t, value);
    }
  }

  std::size_t pending_count() const {
    std::size_t n = out_of_order.size();
    for (const Fifo<PendingRun>& lane : lanes) n += lane.size();
    return n;
  }

  // The earliest run waiting, or null; remembers where it is for pop_pending().
  const PendingRun* next_pending() {
    const PendingRun* next = out_of_order.empty() ? nullptr : &out_of_order.top();
    next_source = kLanes;
    for (std::uint32_t bits = occupied; bits != 0; bits &= bits - 1) {
      const auto i = static_cast<std::size_t>(std::countr_zero(bits));
      const PendingRun& front = lanes[i].front();
      if (next == nullptr || *next > front) {
        next = &front;
        next_source = i;
      }
    }
    return next;
  }

  // Removes the run next_pending() returned.
  void pop_pending() {
    if (next_source == kLanes) {
      out_of_order.pop();
    } else {
      lanes[next_source].pop_front();
      if (lanes[next_source].empty()) occupied &= ~(1u << next_source);
    }
  }

  void push_pending(const PendingRun& run) {
    std::size_t best = kLanes;
    for (std::uint32_t bits = occupied; bits != 0; bits &= bits - 1) {
      const auto i = static_cast<std::size_t>(std::countr_zero(bits));
      if (lanes[i].back().end <= run.end &&
          (best == kLanes || lanes[best].back().end < lanes[i].back().end)) {
        best = i;
      }
    }
    if (best == kLanes && occupied != (1u << kLanes) - 1) {
      best = static_cast<std::size_t>(std::countr_one(occupied));  // the first empty lane
    }
    if (best == kLanes) {
      out_of_order.push(run);
    } else {
      lanes[best].push_back(run);
      occupied |= 1u << best;
    }
  }

  Instant next_instant() {
    Instant next = Instant::max();
    if (const PendingRun* run = next_pending()) next = run->end;
    for (const PerRule& r : per_rule) {
      if (!r.expiries.empty()) next = std::min(next, r.expiries.front().at);
      if (!r.for_timers.empty()) next = std::min(next, r.for_timers.front().at);
      if (!r.keep_timers.empty()) next = std::min(next, r.keep_timers.front().at);
    }
    return next;
  }

  void start(Instant t) {
    started = true;
    for (const std::string& source : options.configured_sources) {
      const std::uint32_t first_state = keys[source_key(source)].first_state;
      for (std::size_t slot = 0; slot < source_rules.size(); ++slot) {
        const auto state_index = static_cast<std::uint32_t>(first_state + slot);
        State& state = states[state_index];
        const Rule& rule = rules[state.rule];
        if (rule.kind != RuleKind::kNoRuns || state.last_run != Instant::min()) continue;
        state.last_run = t;
        per_rule[state.rule].expiries.push_back(
            {t + rule.window, state_index, false, /*counted=*/false, 0});
      }
    }
  }

  void process_instant(Instant t, std::vector<Transition>& out) {
    ++epoch;
    touched.clear();
    for (const PendingRun* next = next_pending(); next != nullptr && next->end == t;
         next = next_pending()) {
      const PendingRun run = *next;
      pop_pending();
      if (run.has_id) id_expiries.push_back({run.end + longest, run.id_hash});
      const std::uint32_t source_first = keys[run.source_key].first_state;
      for (std::size_t slot = 0; slot < source_rules.size(); ++slot) {
        enter(static_cast<std::uint32_t>(source_first + slot), run);
      }
      const std::uint32_t objet_first = keys[run.objet_key].first_state;
      for (std::size_t slot = 0; slot < objet_rules.size(); ++slot) {
        enter(static_cast<std::uint32_t>(objet_first + slot), run);
      }
    }
    for (PerRule& r : per_rule) {
      while (!r.expiries.empty() && r.expiries.front().at == t) {
        leave(r.expiries.front());
        r.expiries.pop_front();
      }
    }
    // Every change at t is in before any condition is judged: a run leaving as another enters
    // at the same instant is no change at all.
    for (const std::uint32_t state_index : touched) {
      State& state = states[state_index];
      const auto [holds, value] = evaluate(state, t);
      if (holds == state.condition) continue;
      state.condition = holds;
      on_condition(state_index, t, value);
    }
    // Deadlines after conditions: a condition that stops holding exactly when `for` runs out
    // never fires, as in Prometheus.
    for (PerRule& r : per_rule) {
      while (!r.for_timers.empty() && r.for_timers.front().at == t) {
        on_timer(r.for_timers.front(), t);
        r.for_timers.pop_front();
      }
      while (!r.keep_timers.empty() && r.keep_timers.front().at == t) {
        on_timer(r.keep_timers.front(), t);
        r.keep_timers.pop_front();
      }
    }
    std::sort(at_instant.begin(), at_instant.end(), [](const Transition& a, const Transition& b) {
      return a.alert.rule_index != b.alert.rule_index ? a.alert.rule_index < b.alert.rule_index
                                                      : a.alert.fingerprint < b.alert.fingerprint;
    });
    out.insert(out.end(), at_instant.begin(), at_instant.end());
    at_instant.clear();
  }
};

Evaluator::Evaluator(std::vector<Rule> rules, EvaluatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(rules), std::move(options))) {}
Evaluator::~Evaluator() = default;
Evaluator::Evaluator(Evaluator&&) noexcept = default;
Evaluator& Evaluator::operator=(Evaluator&&) noexcept = default;

Evaluator::Admission Evaluator::add(const Run& run) {
  Impl& impl = *impl_;
  const std::uint64_t id_hash = run.id.empty() ? 0 : std::hash<std::string_view>{}(run.id);
  if (!run.id.empty() && impl.ids.contains(id_hash)) return Admission::kDuplicate;
  if (run.end <= impl.now) return Admission::kLate;
  if (!run.id.empty()) impl.ids.insert(id_hash);
  const std::uint32_t source_key = impl.source_key(run.source);
  const Impl::PendingRun pending{.end = run.end,
                                 .sequence = impl.sequence++,
                                 .source_key = source_key,
                                 .objet_key = impl.objet_key(source_key, run.source, run.objet),
                                 .etat = run.etat,
                                 .duration_seconds = run.duration_seconds,
                                 .cpu_seconds = run.cpu_seconds,
                                 .memory_bytes = run.memory_bytes,
                                 .id_hash = id_hash,
                                 .has_id = !run.id.empty()};
  impl.push_pending(pending);
  return Admission::kAccepted;
}

void Evaluator::advance_to(Instant t, std::vector<Transition>& out) {
  Impl& impl = *impl_;
  if (t <= impl.now) return;
  if (!impl.started) impl.start(t);
  for (Instant next = impl.next_instant(); next <= t; next = impl.next_instant()) {
    impl.process_instant(next, out);
  }
  impl.now = t;
  // A copy of these would be late now: their ids are no longer needed.
  while (!impl.id_expiries.empty() && impl.id_expiries.front().first <= t) {
    impl.ids.erase(impl.id_expiries.front().second);
    impl.id_expiries.pop_front();
  }
}

Instant Evaluator::now() const { return impl_->now; }

bool Evaluator::restore_fired_at(std::uint64_t fingerprint, Instant fired_at) {
  for (Impl::State& state : impl_->states) {
    if (state.fingerprint == fingerprint && state.alert == AlertState::kFiring) {
      state.fired_at = fired_at;
      return true;
    }
  }
  return false;
}

void Evaluator::for_each_active(const std::function<void(const ActiveAlert&)>& visit) const {
  const Impl& impl = *impl_;
  for (std::size_t index = 0; index < impl.states.size(); ++index) {
    const Impl::State& state = impl.states[index];
    if (state.alert == AlertState::kInactive) continue;
    visit({.alert = {.rule = &impl.rules[state.rule],
                     .rule_index = state.rule,
                     .labels = &impl.labels[index],
                     .fingerprint = state.fingerprint},
           .state = state.alert,
           .active_at = state.active_at,
           .fired_at = state.fired_at,
           .value = impl.evaluate(state, impl.now).second});
  }
}

const std::vector<Rule>& Evaluator::rules() const { return impl_->rules; }

std::size_t Evaluator::key_count() const { return impl_->keys.size(); }

std::size_t Evaluator::buffered_runs() const { return impl_->pending_count(); }

std::size_t Evaluator::remembered_ids() const { return impl_->ids.size(); }

std::size_t Evaluator::memory_bytes() const {
  const Impl& impl = *impl_;
  // The ids: their set's slots and their expiry entries.
  std::size_t bytes =
      impl.ids.capacity_bytes() + impl.id_expiries.capacity() * sizeof(Impl::IdExpiry) +
      impl.states.capacity() * sizeof(Impl::State) + impl.keys.capacity() * sizeof(Impl::Key) +
      impl.out_of_order.size() * sizeof(Impl::PendingRun);
  for (const Fifo<Impl::PendingRun>& lane : impl.lanes) {
    bytes += lane.capacity() * sizeof(Impl::PendingRun);
  }
  for (const Impl::State& state : impl.states) bytes += state.sorted.capacity_bytes();
  for (const Labels& state_labels : impl.labels) {
    for (const auto& [name, value] : state_labels) bytes += name.capacity() + value.capacity();
    bytes += state_labels.capacity() * sizeof(Labels::value_type);
  }
  for (const Impl::PerRule& r : impl.per_rule) {
    bytes += r.expiries.capacity() * sizeof(Impl::Expiry) +
             (r.for_timers.capacity() + r.keep_timers.capacity()) * sizeof(Impl::Timer);
  }
  // A hash node holds the key string and the index, plus the bucket pointer.
  for (const Impl::Key& key : impl.keys) {
    bytes += key.objets.capacity() * sizeof(key.objets[0]);
    for (const auto& [name, index] : key.objets) bytes += name.capacity();
  }
  for (const KeyMap* map : {&impl.source_keys, &impl.objet_keys}) {
    for (const auto& [name, index] : *map) bytes += name.capacity() + 2 * sizeof(void*) + 8;
  }
  return bytes;
}

}  // namespace iw::alerting
