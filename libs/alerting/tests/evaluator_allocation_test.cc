// The evaluator's allocations on its hot path (alerting_test links iw::alloc_counter;
// enriched_run_test.cc checks that the counter sees allocations).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "iw/alerting/evaluator.h"
#include "iw/alerting/rule.h"
#include "iw/testing/alloc_counter.h"

namespace iw::alerting {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const Instant kT0{std::chrono::sys_days{std::chrono::year{2025} / 9 / 21} + std::chrono::hours(8)};

// Once its windows are full, a steady stream of runs (ids remembered, queues going round)
// allocates nothing: a run's id, its expiries and its place in the queue reuse what the runs
// that left freed.
TEST(EvaluatorAllocationTest, ASteadyStreamOfRunsAllocatesNothingOnceWarm) {
  auto rules = parse_rules(default_rules_yaml(), "built-in");
  ASSERT_TRUE(rules.has_value());
  Evaluator evaluator(std::move(*rules));
  const std::vector<std::string> sources = {"Zoho", "PowerBI", "Efficy"};
  const std::vector<std::string> objets = {"deals", "reports"};
  std::vector<std::string> ids;
  for (int i = 0; i < 4000; ++i) ids.push_back("run-" + std::to_string(i));
  std::vector<Transition> out;
  out.reserve(1024);
  // A run every 30 s, each key's in turn, an eighth FAILED; the clock 5 minutes behind.
  const auto feed = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const Instant end = kT0 + seconds(30) * i;
      const alerting::Run r{.source = sources[static_cast<std::size_t>(i) % sources.size()],
                            .objet = objets[static_cast<std::size_t>(i / 3) % objets.size()],
                            .etat = i % 8 == 0 ? Etat::kFailed : Etat::kSuccess,
                            .end = end,
                            .duration_seconds = 1.0 + i % 13,
                            .cpu_seconds = 0.5,
                            .memory_bytes = 1e6,
                            .id = ids[static_cast<std::size_t>(i)]};
      ASSERT_EQ(evaluator.add(r), Evaluator::Admission::kAccepted);
      if (i % 16 == 15) {
        out.clear();
        evaluator.advance_to(end - minutes(5), out);
      }
    }
  };
  feed(0, 2000);  // 1000 minutes: every window full many times over
  iw::testing::start_counting_allocations();
  feed(2000, 4000);
  const std::size_t allocations = iw::testing::stop_counting_allocations();
  EXPECT_EQ(allocations, 0u);
}

}  // namespace
}  // namespace iw::alerting
