#include "iw/metrics/readiness.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace iw::metrics {
namespace {

TEST(ReadinessTest, NoChecksMeansReady) {
  const Readiness readiness;
  EXPECT_TRUE(readiness.ready());
  EXPECT_EQ(readiness.report().text, "ready");
}

TEST(ReadinessTest, DeclaredChecksStartPending) {
  const Readiness readiness({"kafka", "loki"});
  EXPECT_FALSE(readiness.ready());
  const Readiness::Report report = readiness.report();
  EXPECT_FALSE(report.ready);
  EXPECT_EQ(report.text, "not ready: kafka: pending; loki: pending");
}

TEST(ReadinessTest, ReadyOnlyWhenEveryCheckPasses) {
  Readiness readiness({"kafka", "loki"});
  readiness.set_ready("kafka");
  readiness.set_not_ready("loki", "connection refused");
  EXPECT_FALSE(readiness.ready());
  EXPECT_EQ(readiness.report().text, "not ready: loki: connection refused");

  readiness.set_ready("loki");
  EXPECT_TRUE(readiness.ready());
  EXPECT_EQ(readiness.report().text, "ready");

  readiness.set_not_ready("kafka", "partitions not assigned");
  EXPECT_EQ(readiness.report().text, "not ready: kafka: partitions not assigned");
}

TEST(ReadinessTest, ReportListsFailingChecksInDeclarationOrder) {
  Readiness readiness({"b", "a"});
  readiness.set_not_ready("a", "down");
  readiness.set_not_ready("b", "down too");
  EXPECT_EQ(readiness.report().text, "not ready: b: down too; a: down");
}

TEST(ReadinessTest, UndeclaredCheckIsAddedAfterDeclaredOnes) {
  Readiness readiness({"kafka"});
  readiness.set_not_ready("extra", "warming up");
  readiness.set_ready("kafka");
  EXPECT_EQ(readiness.report().text, "not ready: extra: warming up");
  readiness.set_ready("extra");
  EXPECT_TRUE(readiness.ready());
}

TEST(ReadinessTest, EmptyReasonIsJustTheName) {
  Readiness readiness;
  readiness.set_not_ready("kafka", "");
  EXPECT_EQ(readiness.report().text, "not ready: kafka");
}

TEST(ReadinessTest, ReasonStaysOnOneLine) {
  Readiness readiness;
  readiness.set_not_ready("loki", "HTTP 500\nbody:\r\n\tboom");
  EXPECT_EQ(readiness.report().text, "not ready: loki: HTTP 500 body: boom");
}

TEST(ReadinessTest, ConcurrentUpdatesAndReportsAreSafe) {
  Readiness readiness({"a", "b"});
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&readiness, t] {
      for (int i = 0; i < 2000; ++i) {
        const char* name = (t % 2 == 0) ? "a" : "b";
        if (i % 2 == 0) {
          readiness.set_not_ready(name, "flapping");
        } else {
          readiness.set_ready(name);
        }
        (void)readiness.report();
      }
    });
  }
  threads.clear();  // Joins.
  // Every writer's last update was set_ready.
  EXPECT_TRUE(readiness.ready());
}

TEST(ReadinessDeathTest, DuplicateDeclarationIsABug) {
  EXPECT_DEATH(Readiness({"kafka", "kafka"}), "declared twice: kafka");
}

}  // namespace
}  // namespace iw::metrics
