// Tests of rule.cc: reading rule files (docs/ALERTING.md, "Rule files"). The rule test runner's
// tests are rule_test_runner_test.cc.
#include "iw/alerting/rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace iw::alerting {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Every diagnostic as the user sees it, or an empty list when the rules parse.
std::vector<std::string> problems(std::string_view yaml) {
  auto rules = parse_rules(yaml, "rules.yml");
  std::vector<std::string> out;
  if (!rules) {
    for (const config::Diagnostic& d : rules.error()) out.push_back(d.to_string());
  }
  return out;
}

Rule parse_one(std::string_view yaml) {
  auto rules = parse_rules(yaml, "rules.yml");
  EXPECT_TRUE(rules.has_value()) << config::format_diagnostics(rules.error());
  if (!rules || rules->size() != 1) {
    ADD_FAILURE() << "expected exactly one rule";
    return {};
  }
  return rules->front();
}

// The six rules of BRIEF §4, with its default thresholds, windows and severities.
TEST(DefaultRulesTest, AreTheSixRulesOfTheBrief) {
  auto parsed = parse_rules(default_rules_yaml(), "ingestion-rules.yml");
  ASSERT_TRUE(parsed.has_value()) << config::format_diagnostics(parsed.error());
  const std::vector<Rule>& rules = *parsed;
  ASSERT_EQ(rules.size(), 7u);  // IngestionResourceOveruse twice: memory and cpu

  const Rule& failure = rules[0];
  EXPECT_EQ(failure.alert, "IngestionFailureDetected");
  EXPECT_EQ(failure.kind, RuleKind::kFailedRuns);
  EXPECT_EQ(failure.group_by, GroupBy::kSourceObjet);
  EXPECT_EQ(failure.window, minutes(5));
  EXPECT_EQ(failure.comparison, Comparison::kGreaterOrEqual);
  EXPECT_EQ(failure.threshold, 1);
  EXPECT_EQ(failure.for_duration, Millis(0));
  EXPECT_EQ(failure.keep_firing_for, Millis(0));
  EXPECT_EQ(failure.labels, (Labels{{"severity", "critical"}}));
  ASSERT_EQ(failure.annotations.size(), 2u);
  EXPECT_EQ(failure.annotations[0].first, "description");
  EXPECT_EQ(failure.annotations[0].second,
            "{{ $value }} FAILED run(s) of {{ $labels.objet }} from {{ $labels.source }} in the "
            "last 5 minutes.");
  EXPECT_EQ(failure.annotations[1],
            (Labels::value_type{"summary",
                                "{{ $labels.source }} / {{ $labels.objet }}: a run "
                                "failed"}));

  const Rule& ratio = rules[1];
  EXPECT_EQ(ratio.alert, "IngestionHighFailureRate");
  EXPECT_EQ(ratio.kind, RuleKind::kFailureRatio);
  EXPECT_EQ(ratio.group_by, GroupBy::kSource);
  EXPECT_EQ(ratio.window, minutes(15));
  EXPECT_EQ(ratio.comparison, Comparison::kGreater);
  EXPECT_EQ(ratio.threshold, 0.02);
  EXPECT_EQ(ratio.min_runs, 10);
  EXPECT_EQ(ratio.labels, (Labels{{"severity", "warning"}}));

  const Rule& silent = rules[2];
  EXPECT_EQ(silent.alert, "IngestionSourceSilent");
  EXPECT_EQ(silent.kind, RuleKind::kNoRuns);
  EXPECT_EQ(silent.group_by, GroupBy::kSource);
  EXPECT_EQ(silent.window, minutes(75));
  EXPECT_EQ(silent.labels, (Labels{{"severity", "warning"}}));

  const Rule& latency = rules[3];
  EXPECT_EQ(latency.alert, "IngestionLatencyP95Degraded");
  EXPECT_EQ(latency.kind, RuleKind::kPercentile);
  EXPECT_EQ(latency.group_by, GroupBy::kSource);
  EXPECT_EQ(latency.window, minutes(60));
  EXPECT_EQ(latency.field, RunField::kDurationSeconds);
  EXPECT_EQ(latency.quantile, 0.95);
  EXPECT_EQ(latency.comparison, Comparison::kGreater);
  EXPECT_EQ(latency.threshold, 60);  // 2 × the 30 s baseline
  EXPECT_EQ(latency.labels, (Labels{{"severity", "warning"}}));

  const Rule& memory = rules[4];
  EXPECT_EQ(memory.alert, "IngestionResourceOveruse");
  EXPECT_EQ(memory.kind, RuleKind::kPercentile);
  EXPECT_EQ(memory.group_by, GroupBy::kSource);
  EXPECT_EQ(memory.window, minutes(60));
  EXPECT_EQ(memory.field, RunField::kMemoryBytes);
  EXPECT_EQ(memory.quantile, 0.95);
  EXPECT_EQ(memory.comparison, Comparison::kGreater);
  EXPECT_EQ(memory.threshold, 150.0 * 1024 * 1024);  // 150 MB, MB = 2^20 bytes
  EXPECT_EQ(memory.labels, (Labels{{"resource", "memory"}, {"severity", "warning"}}));

  const Rule& cpu = rules[5];
  EXPECT_EQ(cpu.alert, "IngestionResourceOveruse");
  EXPECT_EQ(cpu.kind, RuleKind::kPercentile);
  EXPECT_EQ(cpu.window, minutes(60));
  EXPECT_EQ(cpu.field, RunField::kCpuSeconds);
  EXPECT_EQ(cpu.quantile, 0.95);
  EXPECT_EQ(cpu.comparison, Comparison::kGreater);
  EXPECT_EQ(cpu.threshold, 60);
  EXPECT_EQ(cpu.labels, (Labels{{"resource", "cpu"}, {"severity", "warning"}}));

  const Rule& burst = rules[6];
  EXPECT_EQ(burst.alert, "IngestionObjectErrorBurst");
  EXPECT_EQ(burst.kind, RuleKind::kFailedRuns);
  EXPECT_EQ(burst.group_by, GroupBy::kSourceObjet);
  EXPECT_EQ(burst.window, minutes(10));
  EXPECT_EQ(burst.comparison, Comparison::kGreater);
  EXPECT_EQ(burst.threshold, 3);
  EXPECT_EQ(burst.labels, (Labels{{"severity", "warning"}}));

  for (const Rule& rule : rules) {
    EXPECT_EQ(rule.for_duration, Millis(0)) << rule.alert;
    EXPECT_EQ(rule.keep_firing_for, Millis(0)) << rule.alert;
    ASSERT_EQ(rule.annotations.size(), 2u) << rule.alert;
    EXPECT_EQ(rule.annotations[0].first, "description");
    EXPECT_EQ(rule.annotations[1].first, "summary");
  }
  EXPECT_EQ(longest_window(rules), minutes(75));
}

TEST(DefaultRulesTest, AreTheRulesFileOfTheRepository) {
  std::ifstream in(std::string(IW_RULES_DIR) + "/ingestion-rules.yml", std::ios::binary);
  ASSERT_TRUE(in) << "cannot open rules/ingestion-rules.yml";
  const std::string file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_EQ(default_rules_yaml(), file);
}

TEST(RuleTest, KindNames) {
  EXPECT_EQ(kind_name(RuleKind::kFailedRuns), "failed_runs");
  EXPECT_EQ(kind_name(RuleKind::kFailureRatio), "failure_ratio");
  EXPECT_EQ(kind_name(RuleKind::kNoRuns), "no_runs");
  EXPECT_EQ(kind_name(RuleKind::kPercentile), "percentile");
}

TEST(RuleTest, LongestWindowOfNoRulesIsZero) { EXPECT_EQ(longest_window({}), Millis(0)); }

TEST(RuleTest, DefaultsOfOptionalKeys) {
  const Rule rule = parse_one(R"(
rules:
  - alert: SlowRuns
    kind: percentile
    field: cpu_seconds
    window: 1h30m
    op: "<="
    threshold: 2.5
)");
  EXPECT_EQ(rule.group_by, GroupBy::kSource);  // `by` defaults to [source]
  EXPECT_EQ(rule.window, minutes(90));
  EXPECT_EQ(rule.comparison, Comparison::kLessOrEqual);
  EXPECT_EQ(rule.threshold, 2.5);
  EXPECT_EQ(rule.quantile, 0.95);
  EXPECT_EQ(rule.for_duration, Millis(0));
  EXPECT_EQ(rule.keep_firing_for, Millis(0));
  EXPECT_THAT(rule.labels, IsEmpty());
  EXPECT_THAT(rule.annotations, IsEmpty());
}

TEST(RuleTest, ReadsEveryKey) {
  const Rule rule = parse_one(R"(
rules:
  - alert: Ratio
    kind: failure_ratio
    by: [objet, source]
    window: 15m
    op: "<"
    threshold: 0.5
    min_runs: 3
    for: 2m
    keep_firing_for: 30s
    severity: page
    labels: {team: data, area: ingestion}
    annotations:
      summary: "{{ $labels.source }}"
      description: "{{$value|humanizeDuration}}"
      runbook: https://example.com/ratio
)");
  EXPECT_EQ(rule.alert, "Ratio");
  EXPECT_EQ(rule.kind, RuleKind::kFailureRatio);
  EXPECT_EQ(rule.group_by, GroupBy::kSourceObjet);  // order-insensitive
  EXPECT_EQ(rule.comparison, Comparison::kLess);
  EXPECT_EQ(rule.min_runs, 3);
  EXPECT_EQ(rule.for_duration, minutes(2));
  EXPECT_EQ(rule.keep_firing_for, seconds(30));
  // Sorted by name, `severity` among the labels.
  EXPECT_EQ(rule.labels, (Labels{{"area", "ingestion"}, {"severity", "page"}, {"team", "data"}}));
  EXPECT_EQ(rule.annotations, (Labels{{"description", "{{$value|humanizeDuration}}"},
                                      {"runbook", "https://example.com/ratio"},
                                      {"summary", "{{ $labels.source }}"}}));
}

TEST(RuleTest, QuantileOfOneAndComparisonsParse) {
  for (const auto& [op, comparison] :
       std::initializer_list<std::pair<std::string_view, Comparison>>{
           {">", Comparison::kGreater},
           {">=", Comparison::kGreaterOrEqual},
           {"<", Comparison::kLess},
           {"<=", Comparison::kLessOrEqual}}) {
    const Rule rule = parse_one(
        "rules:\n  - {alert: A, kind: percentile, field: memory_bytes, quantile: 1, window: 1m, "
        "op: \"" +
        std::string(op) + "\", threshold: 1e6}\n");
    EXPECT_EQ(rule.comparison, comparison) << op;
    EXPECT_EQ(rule.quantile, 1);
    EXPECT_EQ(rule.threshold, 1e6);
    EXPECT_EQ(rule.field, RunField::kMemoryBytes);
  }
}

TEST(RuleTest, NoRulesIsValid) {
  EXPECT_THAT(problems("rules: []\n"), IsEmpty());
  EXPECT_THAT(problems("rules:\n"), IsEmpty());
}

TEST(RuleTest, SameAlertWithOtherLabelsIsNotADuplicate) {
  EXPECT_THAT(problems(R"(
rules:
  - {alert: A, kind: no_runs, window: 1h, labels: {resource: memory}}
  - {alert: A, kind: no_runs, window: 1h, labels: {resource: cpu}}
)"),
              IsEmpty());
}

TEST(RuleErrorsTest, ReportsEveryProblemWithPositionAndKeyPath) {
  EXPECT_THAT(
      problems(R"(rules:
  - alert: Typos
    kind: failed_runs
    window: 5 minutes
    op: "=>"
    treshold: 1
  - kind: percentiles
    by: [source, zone]
  - alert: WrongKeysForKind
    kind: failed_runs
    window: 5m
    op: ">"
    threshold: x
    min_runs: 3
    field: cpu_seconds
    quantile: 0.5
  - alert: Silent
    kind: no_runs
    window: 0s
    op: ">"
    threshold: 1
    for: -5m
    keep_firing_for: soon
)"),
      ElementsAre("rules.yml:2:5: rules[0].threshold: required key missing for kind failed_runs",
                  "rules.yml:4:13: rules[0].window: invalid duration '5 minutes': use digits "
                  "followed by a unit (ms, s, m, h, d or w), e.g. '1h30m'",
                  "rules.yml:5:9: rules[0].op: expected one of >, >=, <, <=, got '=>'",
                  "rules.yml:6:5: rules[0].treshold: unknown key, did you mean 'threshold'?",
                  "rules.yml:7:5: rules[1].alert: required key missing",
                  "rules.yml:7:5: rules[1].window: required key missing",
                  "rules.yml:7:11: rules[1].kind: unknown kind 'percentiles', expected "
                  "failed_runs, failure_ratio, no_runs or percentile",
                  "rules.yml:8:9: rules[1].by: expected [source] or [source, objet]",
                  "rules.yml:13:16: rules[2].threshold: expected a number, got 'x'",
                  "rules.yml:14:5: rules[2].min_runs: only for kind failure_ratio, not for kind "
                  "failed_runs",
                  "rules.yml:15:5: rules[2].field: only for kind percentile, not for kind "
                  "failed_runs",
                  "rules.yml:16:5: rules[2].quantile: only for kind percentile, not for kind "
                  "failed_runs",
                  "rules.yml:19:13: rules[3].window: must be longer than 0s",
                  "rules.yml:20:5: rules[3].op: only for kinds that compare a value, not for kind "
                  "no_runs",
                  "rules.yml:21:5: rules[3].threshold: only for kinds that compare a value, not "
                  "for kind no_runs",
                  "rules.yml:22:10: rules[3].for: invalid duration '-5m': durations cannot be "
                  "negative",
                  "rules.yml:23:22: rules[3].keep_firing_for: invalid duration 'soon': use digits "
                  "followed by a unit (ms, s, m, h, d or w), e.g. '1h30m'"));
}

TEST(RuleErrorsTest, MissingKeysOfAKind) {
  EXPECT_THAT(problems("rules:\n  - {alert: A, kind: percentile, window: 1h}\n"),
              ElementsAre("rules.yml:2:5: rules[0].op: required key missing for kind percentile",
                          "rules.yml:2:5: rules[0].threshold: required key missing for kind "
                          "percentile",
                          "rules.yml:2:5: rules[0].field: required key missing for kind "
                          "percentile"));
  EXPECT_THAT(problems("rules:\n  - {}\n"),
              ElementsAre("rules.yml:2:5: rules[0].alert: required key missing",
                          "rules.yml:2:5: rules[0].kind: required key missing",
                          "rules.yml:2:5: rules[0].window: required key missing"));
}

TEST(RuleErrorsTest, BadValues) {
  constexpr std::string_view kHead =
      "rules:\n  - alert: A\n    kind: percentile\n    field: duration_seconds\n"
      "    window: 1h\n    op: '>'\n    threshold: 1\n";
  auto with = [&](std::string_view line) {
    return problems(std::string(kHead) + "    " + std::string(line) + "\n");
  };
  EXPECT_THAT(with("quantile: 0"),
              ElementsAre("rules.yml:8:15: rules[0].quantile: must be in (0, 1]"));
  EXPECT_THAT(with("quantile: 1.5"),
              ElementsAre("rules.yml:8:15: rules[0].quantile: must be in (0, 1]"));
  EXPECT_THAT(with("quantile: .nan"),
              ElementsAre("rules.yml:8:15: rules[0].quantile: expected a number, got '.nan'"));
  EXPECT_THAT(with("by: [objet]"),
              ElementsAre("rules.yml:8:9: rules[0].by: expected [source] or [source, objet]"));
  EXPECT_THAT(with("by: [source, source]"),
              ElementsAre("rules.yml:8:9: rules[0].by: expected [source] or [source, objet]"));
  EXPECT_THAT(with("by: source"), ElementsAre("rules.yml:8:9: rules[0].by: expected [source] or "
                                              "[source, objet], got 'source'"));
  EXPECT_THAT(with("by: []"),
              ElementsAre("rules.yml:8:9: rules[0].by: expected [source] or [source, objet]"));
  EXPECT_THAT(with("field: rows"),
              ElementsAre("rules.yml:8:5: rules[0].field: duplicate key, first set at 4:5"));
  EXPECT_THAT(problems("rules:\n  - {alert: A, kind: percentile, field: rows, window: 1h, op: '>', "
                       "threshold: 1}\n"),
              ElementsAre("rules.yml:2:41: rules[0].field: unknown field 'rows', expected "
                          "duration_seconds, cpu_seconds or memory_bytes"));
  EXPECT_THAT(with("alert: [x]"),
              ElementsAre("rules.yml:8:5: rules[0].alert: duplicate key, first set at 2:5"));
  EXPECT_THAT(with("labels: [x]"),
              ElementsAre("rules.yml:8:13: rules[0].labels: expected a mapping, got a list"));
  EXPECT_THAT(with("annotations:"), IsEmpty());
  EXPECT_THAT(problems("rules:\n  - {alert: '', kind: no_runs, window: 1h}\n"),
              ElementsAre("rules.yml:2:13: rules[0].alert: must not be empty"));
  EXPECT_THAT(problems("rules:\n  - {alert: A, kind: failure_ratio, window: 1h, op: '>', "
                       "threshold: 0.1, min_runs: -1}\n"),
              ElementsAre("rules.yml:2:84: rules[0].min_runs: expected a non-negative integer, "
                          "got '-1'"));
  EXPECT_THAT(problems("rules:\n  - {alert: A, kind: failure_ratio, window: 1h, op: '>', "
                       "threshold: 0.1, min_runs: 2.5}\n"),
              ElementsAre("rules.yml:2:84: rules[0].min_runs: expected a non-negative integer, "
                          "got '2.5'"));
}

TEST(RuleErrorsTest, Labels) {
  EXPECT_THAT(problems(R"(rules:
  - alert: A
    kind: no_runs
    window: 1h
    severity: warning
    labels:
      severity: critical
      1x: a
      a-b: c
      alertname: B
      source: S
      objet: O
      empty: ""
      ok_label_2: fine
)"),
              ElementsAre("rules.yml:5:5: rules[0].severity: set either 'severity' or "
                          "'labels.severity', not both",
                          "rules.yml:8:7: rules[0].labels.1x: not a valid name: use letters, "
                          "digits and '_', not starting with a digit",
                          "rules.yml:9:7: rules[0].labels.a-b: not a valid name: use letters, "
                          "digits and '_', not starting with a digit",
                          "rules.yml:10:7: rules[0].labels.alertname: reserved: the evaluator sets "
                          "alertname, source and objet itself",
                          "rules.yml:11:7: rules[0].labels.source: reserved: the evaluator sets "
                          "alertname, source and objet itself",
                          "rules.yml:12:7: rules[0].labels.objet: reserved: the evaluator sets "
                          "alertname, source and objet itself",
                          "rules.yml:13:14: rules[0].labels.empty: must not be empty"));
}

TEST(RuleErrorsTest, Annotations) {
  EXPECT_THAT(
      problems(R"(rules:
  - alert: A
    kind: no_runs
    window: 1h
    annotations:
      summary: "{{ .Labels.source }}"
      description: "{{ $value"
      good: "{{ $labels.source }} for {{ $value | humanizeDuration }}"
      bad name: x
)"),
      ElementsAre("rules.yml:6:16: rules[0].annotations.summary: unsupported template action '{{ "
                  ".Labels.source }}': only {{ $labels.<name> }}, {{ $value }} and {{ $value | "
                  "humanizeDuration }} are supported",
                  "rules.yml:7:20: rules[0].annotations.description: '{{' at offset 0 is never "
                  "closed by '}}'",
                  "rules.yml:9:7: rules[0].annotations.bad name: not a valid name: use letters, "
                  "digits and '_', not starting with a digit"));
}

TEST(RuleErrorsTest, DuplicateRules) {
  // Same alert and same static labels (severity shorthand included): one fingerprint for two
  // rules' alerts.
  EXPECT_THAT(problems(R"(rules:
  - {alert: A, kind: no_runs, window: 1h, severity: warning}
  - {alert: B, kind: no_runs, window: 1h, severity: warning}
  - {alert: A, kind: failed_runs, window: 5m, op: '>', threshold: 0, labels: {severity: warning}}
)"),
              ElementsAre("rules.yml:4:5: rules[2]: duplicate rule: same alert and labels as "
                          "rules[0]"));
}

TEST(RuleErrorsTest, FileShape) {
  EXPECT_THAT(problems(""), ElementsAre("rules.yml:1:1: rules: required key missing"));
  EXPECT_THAT(problems("# only a comment\n"),
              ElementsAre("rules.yml:1:1: rules: required key missing"));
  EXPECT_THAT(problems("- a\n"),
              ElementsAre("rules.yml:1:1: expected a mapping with the key 'rules', got a list"));
  EXPECT_THAT(problems("groups: []\n"), ElementsAre("rules.yml:1:1: groups: unknown key",
                                                    "rules.yml:1:1: rules: required key missing"));
  EXPECT_THAT(problems("rules: {alert: A}\n"),
              ElementsAre("rules.yml:1:8: rules: expected a list of rules, got a mapping"));
  EXPECT_THAT(problems("rules:\n  - just text\n"),
              ElementsAre("rules.yml:2:5: rules[0]: expected a mapping, got 'just text'"));
  EXPECT_THAT(problems("rules: []\n---\nrules: []\n"),
              ElementsAre("rules.yml:3:1: only one YAML document is allowed"));
  EXPECT_THAT(problems("rules:\n  - {alert: A\n"),
              ElementsAre(::testing::StartsWith("rules.yml:3:1: ")));
}

}  // namespace
}  // namespace iw::alerting
