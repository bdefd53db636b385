#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "iw/alerting/rule_test.h"

namespace iw::alerting {
namespace {

using ::testing::HasSubstr;

// Files the runner may ask for, by path.
ReadFile files(std::map<std::string, std::string> contents) {
  return [contents = std::move(contents)](const std::string& path) -> base::Result<std::string> {
    const auto it = contents.find(path);
    if (it == contents.end())
      return base::fail(base::ErrorCode::kNotFound, path + ": no such file");
    return it->second;
  };
}

constexpr std::string_view kOneFailure = R"(
tests:
  - name: one failure
    runs:
      - {source: Zoho, objet: deals, etat: SUCCESS, end: "2025-09-21T08:30:00Z"}
      - {source: Zoho, objet: deals, etat: FAILED, end: "2025-09-21T08:35:02.154Z"}
    alert_rule_test:
      - eval_time: "2025-09-21T08:35:02.154Z"
        alertname: IngestionFailureDetected
        exp_alerts:
          - exp_labels: {severity: critical, source: Zoho, objet: deals}
            exp_starts_at: "2025-09-21T08:35:02.154Z"
            exp_annotations:
              summary: "Zoho / deals: a run failed"
              description: "1 FAILED run(s) of deals from Zoho in the last 5 minutes."
      - eval_time: "2025-09-21T08:40:02.154Z"
        alertname: IngestionFailureDetected
        exp_alerts: []
)";

TEST(RuleTestRunnerTest, PassingChecksWithTheBuiltInRules) {
  const auto report = run_rule_tests(kOneFailure, "t.yml", files({}));
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok()) << report->text;
  EXPECT_EQ(report->checks_passed, 2);
  EXPECT_THAT(report->text, HasSubstr("2 check(s) passed, 0 failed"));
}

TEST(RuleTestRunnerTest, AFailedCheckSaysWhatFiredAndWhatWasExpected) {
  std::string yaml(kOneFailure);
  // One millisecond before the resolve the alert still fires.
  yaml.replace(yaml.find("08:40:02.154Z"), 13, "08:40:02.153Z");
  const auto report = run_rule_tests(yaml, "t.yml", files({}));
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->checks_failed, 1);
  EXPECT_THAT(report->text, HasSubstr("FAIL t.yml: one failure: IngestionFailureDetected at "
                                      "2025-09-21T08:40:02.153Z"));
  EXPECT_THAT(report->text,
              HasSubstr("firing, not expected: {objet=\"deals\", severity=\"critical\", "
                        "source=\"Zoho\"} since 2025-09-21T08:35:02.154Z"));
}

TEST(RuleTestRunnerTest, LateRunsAreCountedAndRuleFilesAreRelativeToTheTest) {
  const std::string rules = R"(
rules:
  - alert: AnyFailure
    kind: failed_runs
    by: [source]
    window: 1m
    op: ">="
    threshold: 1
    severity: page
)";
  const std::string yaml = R"(
rule_files: [rules.yml]
allowed_lateness: 1m
tests:
  - name: late
    runs:
      - {source: A, objet: x, etat: SUCCESS, end: "2025-09-21T09:00:00Z"}
      # Ten minutes behind: the clock (09:00 - 1m) has passed it.
      - {source: A, objet: x, etat: FAILED, end: "2025-09-21T08:50:00Z"}
      # Within the lateness: folded in, in τ order.
      - {source: A, objet: x, etat: FAILED, end: "2025-09-21T08:59:30Z"}
    exp_late_runs: 1
    alert_rule_test:
      - eval_time: "2025-09-21T08:50:10Z"
        alertname: AnyFailure
      - eval_time: "2025-09-21T08:59:40Z"
        alertname: AnyFailure
        exp_alerts:
          - exp_labels: {severity: page, source: A}
)";
  const auto report = run_rule_tests(yaml, "dir/t.yml", files({{"dir/rules.yml", rules}}));
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok()) << report->text;
  EXPECT_EQ(report->checks_passed, 3);
}

// A runs_file's runs carry the enricher's event.id, as in the service: a line sent twice (a
// producer's resend) counts once.
TEST(RuleTestRunnerTest, ALineOfARunsFileSentTwiceCountsOnce) {
  const std::string failure =
      R"({"ID": 1, "Source": "Zoho", "Objet": "deals", "Etat": "FAILED", )"
      R"("Debut": "2025-09-21 08:34:00.000", "Fin": "2025-09-21 08:35:00.000"})";
  const std::string yaml = R"(
tests:
  - name: resend
    runs_file: runs.ndjson
    alert_rule_test:
      - eval_time: "2025-09-21T08:35:00Z"
        alertname: IngestionFailureDetected
        exp_alerts:
          - exp_labels: {severity: critical, source: Zoho, objet: deals}
      # Four copies of one failure are one failure: the burst (more than 3 in 10 min) is quiet.
      - eval_time: "2025-09-21T08:35:00Z"
        alertname: IngestionObjectErrorBurst
        exp_alerts: []
)";
  std::string file_text;
  for (int copy = 0; copy < 4; ++copy) file_text += failure + "\n";
  const auto report = run_rule_tests(yaml, "t.yml", files({{"runs.ndjson", file_text}}));
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok()) << report->text;
}

TEST(RuleTestRunnerTest, ProblemsInTheFileAreDiagnosticsWithPositions) {
  const auto report = run_rule_tests(R"(
rule_files: [missing.yml]
tests:
  - name: bad
    runs:
      - {source: A, etat: MAYBE, end: "yesterday"}
    alert_rule_test:
      - eval_time: "2025-09-21T08:50:10Z"
    typo: 1
)",
                                     "t.yml", files({}));
  ASSERT_FALSE(report.has_value());
  std::string text;
  for (const auto& d : report.error()) text += d.to_string() + "\n";
  EXPECT_THAT(text, HasSubstr("t.yml:2:14: rule_files[0]: missing.yml: no such file"));
  EXPECT_THAT(text, HasSubstr("tests[0].runs[0].objet: required key missing"));
  EXPECT_THAT(text, HasSubstr("tests[0].alert_rule_test[0]: eval_time and alertname are required"));
  EXPECT_THAT(text, HasSubstr("t.yml:9:5: tests[0].typo: unknown key"));
}

}  // namespace
}  // namespace iw::alerting
