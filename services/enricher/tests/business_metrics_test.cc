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

TEST_F(BusinessMetricsTest, ARolledBackBatchCountsNothing) {
  run("Zoho", "leads");
  metrics_.discard();
  run("Zoho", "leads");
  metrics_.commit();
  EXPECT_NE(text().find(R"(ingestion_runs_total{etat="SUCCESS",objet="leads",source="Zoho"} 1)"),
            std::string::npos);
}

}  // namespace
}  // namespace iw::enricher
