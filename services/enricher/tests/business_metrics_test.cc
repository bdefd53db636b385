// The business metrics' budgets with a fake clock: sources and objets over budget are folded
// into _other, counted and logged once; idle ones lose their series; a rolled-back batch counts
// nothing.
#include "business_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace iw::enricher {
namespace {

using namespace std::chrono_literals;

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

class BusinessMetricsTest : public ::testing::Test {
 protected:
  std::string text() const { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  void run(std::string_view source, std::string_view objet, std::string_view etat = "SUCCESS") {
    metrics_.stage({.source = source,
                    .objet = objet,
                    .etat = etat,
                    .end = base::TimePoint{1'757'932'201s},
                    .duration_seconds = 1.5});
  }

  std::size_t logged(std::string_view what) const {
    std::size_t n = 0;
    for (const std::string& line : sink_.lines()) n += line.find(what) != std::string::npos;
    return n;
  }

  prometheus::Registry registry_;
  base::FakeClock clock_;
  log::MemorySink sink_;
  log::Logger logger_{"test", sink_};
  BusinessMetrics metrics_{
      registry_, {.max_sources = 2, .max_objets = 3, .idle_timeout = 1h}, clock_, logger_};
};

TEST_F(BusinessMetricsTest, SourcesAndObjetsOverBudgetAreFoldedIntoOther) {
  run("Zoho", "leads");
  run("Zoho", "deals", "FAILED");
  run("PowerBI", "workspaces");
  run("PowerBI", "reports");  // the fourth (source, objet): over the objet budget
  run("Efficy", "contacts");  // the third source: over the source budget
  run("SharePoint", "files");
  metrics_.commit();
  const std::string t = text();
  EXPECT_EQ(count(t, "ingestion_run_duration_seconds_count{"), 3u) << t;
  EXPECT_NE(t.find(R"(ingestion_run_duration_seconds_count{source="_other"} 2)"), t.npos) << t;
  EXPECT_NE(t.find(R"(ingestion_runs_total{etat="SUCCESS",objet="_other",source="PowerBI"} 1)"),
            t.npos)
      << t;
  EXPECT_NE(t.find(R"(ingestion_runs_total{etat="SUCCESS",objet="_other",source="_other"} 2)"),
            t.npos)
      << t;
  EXPECT_NE(t.find(R"(ingestion_runs_total{etat="FAILED",objet="deals",source="Zoho"} 1)"), t.npos);
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_folded_records_total{kind="source"} 2)"), t.npos);
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_folded_records_total{kind="objet"} 1)"), t.npos);
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_tracked{kind="source"} 2)"), t.npos);
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_tracked{kind="objet"} 3)"), t.npos);
  EXPECT_EQ(logged("cardinality budget full"), 2u);  // once per kind
  run("Efficy", "contacts");
  run("Zoho", "tasks");
  metrics_.commit();
  EXPECT_EQ(logged("cardinality budget full"), 2u);
}

TEST_F(BusinessMetricsTest, IdleSourcesLoseTheirSeriesAndFreeTheirPlace) {
  run("Zoho", "leads");
  run("PowerBI", "workspaces");
  metrics_.commit();
  clock_.advance(40min);
  run("Zoho", "leads");
  metrics_.commit();
  clock_.advance(30min);      // PowerBI unseen for 70 min, Zoho for 30
  run("Efficy", "contacts");  // takes PowerBI's place at once
  metrics_.commit();
  const std::string t = text();
  EXPECT_EQ(t.find(R"(source="PowerBI")"), t.npos) << t;
  EXPECT_NE(t.find(R"(ingestion_run_duration_seconds_count{source="Efficy"} 1)"), t.npos) << t;
  EXPECT_NE(t.find(R"(ingestion_runs_total{etat="SUCCESS",objet="leads",source="Zoho"} 2)"),
            t.npos);
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_evicted_total{kind="source"} 1)"), t.npos) << t;
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_evicted_total{kind="objet"} 1)"), t.npos) << t;
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_folded_records_total{kind="source"} 0)"), t.npos);
}

// A batch's runs are summed per series and applied at commit: the same buckets, sum, counts and
// latest event time as observing each run, in any order.
TEST_F(BusinessMetricsTest, ABatchAppliesWhatEachRunWouldHave) {
  const auto stage = [&](std::string_view source, double duration, std::int64_t end_seconds,
                         std::optional<double> cpu, std::string_view etat = "SUCCESS") {
    metrics_.stage({.source = source,
                    .objet = "leads",
                    .etat = etat,
                    .end = base::TimePoint{std::chrono::seconds{end_seconds}},
                    .duration_seconds = duration,
                    .cpu_seconds = cpu});
  };
  stage("Zoho", 0.5, 500, 0.1);  // on a bound: its own bucket
  stage("Zoho", 0.7, 300, std::nullopt);
  stage("Zoho", 60, 400, 61, "FAILED");
  stage("Zoho", 7200, 200, std::nullopt);  // beyond the last bound: +Inf only
  stage("PowerBI", 2, 100, std::nullopt);
  // Nothing counts before the commit.
  EXPECT_EQ(count(text(), "ingestion_run_duration_seconds_count{source=\"Zoho\"} 0"), 1u);
  metrics_.commit();
  const std::string t = text();
  for (const char* line : {
           R"(ingestion_run_duration_seconds_bucket{source="Zoho",le="0.5"} 1)",
           R"(ingestion_run_duration_seconds_bucket{source="Zoho",le="1"} 2)",
           R"(ingestion_run_duration_seconds_bucket{source="Zoho",le="45"} 2)",
           R"(ingestion_run_duration_seconds_bucket{source="Zoho",le="60"} 3)",
           R"(ingestion_run_duration_seconds_bucket{source="Zoho",le="3600"} 3)",
           R"(ingestion_run_duration_seconds_bucket{source="Zoho",le="+Inf"} 4)",
           R"(ingestion_run_duration_seconds_count{source="Zoho"} 4)",
           R"(ingestion_run_duration_seconds_sum{source="Zoho"} 7261.2)",
           R"(ingestion_run_cpu_seconds_count{source="Zoho"} 2)",
           R"(ingestion_run_cpu_seconds_bucket{source="Zoho",le="0.1"} 1)",
           R"(ingestion_run_cpu_seconds_bucket{source="Zoho",le="60"} 1)",
           R"(ingestion_run_cpu_seconds_bucket{source="Zoho",le="120"} 2)",
           R"(ingestion_run_memory_bytes_count{source="Zoho"} 0)",
           R"(ingestion_last_run_timestamp_seconds{source="Zoho"} 500)",
           R"(ingestion_runs_total{etat="SUCCESS",objet="leads",source="Zoho"} 3)",
           R"(ingestion_runs_total{etat="FAILED",objet="leads",source="Zoho"} 1)",
           R"(ingestion_run_duration_seconds_count{source="PowerBI"} 1)",
       }) {
    EXPECT_NE(t.find(line), t.npos) << line << "\n" << t;
  }
  stage("Zoho", 1, 450, std::nullopt);  // an earlier event time does not move the gauge back
  metrics_.commit();
  EXPECT_NE(text().find(R"(ingestion_last_run_timestamp_seconds{source="Zoho"} 500)"),
            std::string::npos);
  EXPECT_NE(text().find(R"(ingestion_run_duration_seconds_count{source="Zoho"} 5)"),
            std::string::npos);
}

// Each folded run counts, not each folded value; a value folded in one batch is admitted again
// in a later one once a place is free.
TEST_F(BusinessMetricsTest, FoldingIsDecidedAgainAtEachBatch) {
  run("Zoho", "leads");
  run("PowerBI", "workspaces");
  run("Efficy", "contacts");  // the third source: folded, three times in the batch
  run("Efficy", "contacts");
  run("Efficy", "contacts");
  metrics_.commit();
  std::string t = text();
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_folded_records_total{kind="source"} 3)"), t.npos)
      << t;
  EXPECT_NE(t.find(R"(ingestion_runs_total{etat="SUCCESS",objet="_other",source="_other"} 3)"),
            t.npos)
      << t;
  clock_.advance(40min);
  run("Zoho", "leads");
  metrics_.commit();
  clock_.advance(30min);  // PowerBI idle for 70 min: its place is free
  run("Efficy", "contacts");
  metrics_.commit();
  t = text();
  EXPECT_NE(t.find(R"(ingestion_runs_total{etat="SUCCESS",objet="contacts",source="Efficy"} 1)"),
            t.npos)
      << t;
  EXPECT_NE(t.find(R"(ingestwatch_cardinality_folded_records_total{kind="source"} 3)"), t.npos)
      << t;
}

TEST_F(BusinessMetricsTest, ARolledBackBatchCountsNothing) {
  run("Zoho", "leads");
  metrics_.discard();
  run("Zoho", "leads");
  metrics_.commit();
  const std::string t = text();
  EXPECT_NE(t.find(R"(ingestion_runs_total{etat="SUCCESS",objet="leads",source="Zoho"} 1)"),
            std::string::npos);
  EXPECT_NE(t.find(R"(ingestion_run_duration_seconds_count{source="Zoho"} 1)"), t.npos) << t;
  EXPECT_NE(t.find(R"(ingestion_run_duration_seconds_sum{source="Zoho"} 1.5)"), t.npos) << t;
}

}  // namespace
}  // namespace iw::enricher
