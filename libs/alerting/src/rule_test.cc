#include "iw/alerting/rule_test.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>

#include "iw/alerting/alert_event.h"
#include "iw/alerting/evaluation_clock.h"
#include "iw/alerting/evaluator.h"
#include "iw/alerting/rule.h"
#include "iw/base/time_format.h"
#include "iw/config/duration.h"
#include "iw/events/enricher.h"
#include "iw/events/timestamp.h"

namespace iw::alerting {
namespace {

using Diagnostics = std::vector<config::Diagnostic>;

struct OwnedRun {
  std::string source, objet;
  Etat etat = Etat::kSuccess;
  Instant end{};
  double duration_seconds = 1;
  std::optional<double> cpu_seconds;
  std::optional<double> memory_bytes;
  std::string id;  // event.id of a run from a runs_file; none for inline runs

  [[nodiscard]] Run view() const {
    return {source, objet, etat, end, duration_seconds, cpu_seconds, memory_bytes, id};
  }
};

struct ExpectedAlert {
  Labels labels;  // without alertname, sorted
  std::optional<Labels> annotations;
  std::optional<Instant> starts_at;
};

struct Check {
  Instant eval_time{};
  std::string alertname;
  std::vector<ExpectedAlert> expected;
};

struct TestCase {
  std::string name;
  std::vector<OwnedRun> runs;
  std::optional<int> expected_late;
  std::vector<Check> checks;
};

// An episode of firing, as the alert events tell it.
struct Episode {
  Labels labels;  // a copy: the evaluator that made it is gone by the time it is judged
  Labels annotations;
  Instant fired_at;
  std::optional<Instant> resolved_at;
};

class Reader {
 public:
  explicit Reader(std::string_view file) : file_(file) {}

  void problem(const YAML::Node& node, std::string path, std::string message) {
    const YAML::Mark mark = node.Mark();
    const bool known = !mark.is_null() && mark.line >= 0;
    diagnostics_.push_back({.file = std::string(file_),
                            .line = known ? mark.line + 1 : 0,
                            .column = known ? mark.column + 1 : 0,
                            .key_path = std::move(path),
                            .message = std::move(message)});
  }

  std::optional<std::string> string(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
      problem(node, path, "expected a string");
      return std::nullopt;
    }
    return node.Scalar();
  }

  std::optional<double> number(const YAML::Node& node, const std::string& path) {
    double value = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value)) {
      problem(node, path, "expected a number");
      return std::nullopt;
    }
    return value;
  }

  std::optional<Instant> instant(const YAML::Node& node, const std::string& path) {
    const auto text = string(node, path);
    if (!text) return std::nullopt;
    const auto parsed = events::parse_timestamp(*text, events::TimeZone::utc());
    if (!parsed) {
      problem(node, path, "expected an RFC 3339 instant: " + parsed.error().message);
      return std::nullopt;
    }
    return std::chrono::floor<Millis>(*parsed);
  }

  std::optional<Labels> labels(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) {
      problem(node, path, "expected a map of label names to values");
      return std::nullopt;
    }
    Labels out;
    for (const auto& item : node) {
      const auto value = string(item.second, path + "." + item.first.Scalar());
      if (value) out.emplace_back(item.first.Scalar(), *value);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Reports keys of `node` that are not in `known`.
  void only(const YAML::Node& node, const std::string& path,
            std::initializer_list<std::string_view> known) {
    for (const auto& item : node) {
      const std::string& key = item.first.Scalar();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        problem(item.first, path.empty() ? key : path + "." + key, "unknown key");
      }
    }
  }

  [[nodiscard]] std::string_view file() const { return file_; }
  Diagnostics& diagnostics() { return diagnostics_; }

 private:
  std::string_view file_;
  Diagnostics diagnostics_;
};

std::string directory_of(std::string_view file) {
  const auto slash = file.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(file.substr(0, slash + 1));
}

std::optional<OwnedRun> inline_run(Reader& reader, const YAML::Node& node,
                                   const std::string& path) {
  if (!node.IsMap()) {
    reader.problem(node, path, "expected a map");
    return std::nullopt;
  }
  reader.only(node, path, {"source", "objet", "etat", "end", "duration", "cpu", "memory"});
  OwnedRun run;
  bool ok = true;
  for (const char* required : {"source", "objet", "etat", "end"}) {
    if (!node[required]) {
      reader.problem(node, path + "." + required, "required key missing");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  const auto source = reader.string(node["source"], path + ".source");
  const auto objet = reader.string(node["objet"], path + ".objet");
  const auto etat_text = reader.string(node["etat"], path + ".etat");
  const auto end = reader.instant(node["end"], path + ".end");
  if (!source || !objet || !etat_text || !end) return std::nullopt;
  const auto etat = etat_from_name(*etat_text);
  if (!etat) {
    reader.problem(node["etat"], path + ".etat", "expected SUCCESS, FAILED or RUNNING");
    return std::nullopt;
  }
  run.source = *source;
  run.objet = *objet;
  run.etat = *etat;
  run.end = *end;
  if (node["duration"]) {
    const auto duration = reader.number(node["duration"], path + ".duration");
    if (!duration) return std::nullopt;
    run.duration_seconds = *duration;
  }
  if (node["cpu"]) {
    run.cpu_seconds = reader.number(node["cpu"], path + ".cpu");
    if (!run.cpu_seconds) return std::nullopt;
  }
  if (node["memory"]) {
    run.memory_bytes = reader.number(node["memory"], path + ".memory");
    if (!run.memory_bytes) return std::nullopt;
  }
  return run;
}

// Raw connector records, judged and normalised exactly as the enricher does; a record the
// enricher would dead-letter is a problem of the test file.
std::optional<std::vector<OwnedRun>> runs_from_file(Reader& reader, const YAML::Node& node,
                                                    const std::string& path,
                                                    const std::string& text) {
  events::Enricher enricher({});
  std::string enriched;
  std::vector<OwnedRun> runs;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const auto facts = enricher.enrich(line, 0, {.topic = "rule-test"}, enriched);
    if (!facts) {
      reader.problem(node, path,
                     "line " + std::to_string(line_number) + ": " + facts.error().message);
      return std::nullopt;
    }
    OwnedRun run{.source = std::string(facts->source),
                 .objet = std::string(facts->objet),
                 .etat = etat_from_name(facts->etat).value_or(Etat::kRunning),
                 .end = std::chrono::floor<Millis>(facts->end),
                 .duration_seconds = facts->duration_seconds,
                 .cpu_seconds = facts->cpu_seconds,
                 .id = std::string(facts->event_id)};
    if (facts->memory_bytes) run.memory_bytes = static_cast<double>(*facts->memory_bytes);
    runs.push_back(std::move(run));
  }
  return runs;
}

std::optional<Check> read_check(Reader& reader, const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) {
    reader.problem(node, path, "expected a map");
    return std::nullopt;
  }
  reader.only(node, path, {"eval_time", "alertname", "exp_alerts", "prometheus_skip"});
  if (!node["eval_time"] || !node["alertname"]) {
    reader.problem(node, path, "eval_time and alertname are required");
    return std::nullopt;
  }
  Check check;
  const auto eval_time = reader.instant(node["eval_time"], path + ".eval_time");
  const auto alertname = reader.string(node["alertname"], path + ".alertname");
  if (!eval_time || !alertname) return std::nullopt;
  check.eval_time = *eval_time;
  check.alertname = *alertname;
  if (const YAML::Node alerts = node["exp_alerts"]; alerts && !alerts.IsNull()) {
    if (!alerts.IsSequence()) {
      reader.problem(alerts, path + ".exp_alerts", "expected a list");
      return std::nullopt;
    }
    for (std::size_t i = 0; i < alerts.size(); ++i) {
      const std::string item_path = path + ".exp_alerts[" + std::to_string(i) + "]";
      const YAML::Node item = alerts[i];
      if (!item.IsMap()) {
        reader.problem(item, item_path, "expected a map");
        return std::nullopt;
      }
      reader.only(item, item_path, {"exp_labels", "exp_annotations", "exp_starts_at"});
      ExpectedAlert expected;
      if (item["exp_labels"]) {
        auto labels = reader.labels(item["exp_labels"], item_path + ".exp_labels");
        if (!labels) return std::nullopt;
        expected.labels = std::move(*labels);
      }
      if (item["exp_annotations"]) {
        expected.annotations =
            reader.labels(item["exp_annotations"], item_path + ".exp_annotations");
        if (!expected.annotations) return std::nullopt;
      }
      if (item["exp_starts_at"]) {
        expected.starts_at = reader.instant(item["exp_starts_at"], item_path + ".exp_starts_at");
        if (!expected.starts_at) return std::nullopt;
      }
      check.expected.push_back(std::move(expected));
    }
  }
  return check;
}

std::string format_labels(const Labels& labels) {
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ", ";
    out += name + "=\"" + value + "\"";
  }
  return out + "}";
}

std::string format_instant(Instant t) { return base::format_rfc3339_millis(t); }

Labels without_alertname(const Labels& labels) {
  Labels out;
  for (const auto& label : labels) {
    if (label.first != "alertname") out.push_back(label);
  }
  return out;
}

// What one test's runs make the rules do, as firing episodes, and how many runs were late.
std::pair<std::vector<Episode>, int> replay(const std::vector<Rule>& rules,
                                            const std::vector<OwnedRun>& runs, Millis lateness,
                                            Instant until) {
  Evaluator evaluator(rules);
  std::vector<Transition> transitions;
  int late = 0;
  Instant latest = Instant::min();
  // The service's clock on one partition that always has more to deliver: after each run it
  // stands at the input's front (the sources' lower median) minus the lateness. No wall clock
  // here: a test's instants may be anywhere.
  EvaluationClock clock({.allowed_lateness = lateness});
  clock.assign(0);
  const base::MonotonicTime no_wait{};
  for (const OwnedRun& run : runs) {
    if (evaluator.add(run.view()) == Evaluator::Admission::kLate) ++late;
    latest = std::max(latest, run.end);
    clock.observe(0, run.source, run.end, no_wait);
    if (const auto t = clock.at(base::TimePoint::max(), no_wait))
      evaluator.advance_to(*t, transitions);
  }
  evaluator.advance_to(std::max(until, latest), transitions);

  std::vector<Episode> episodes;
  std::map<std::uint64_t, std::size_t> open;  // fingerprint → index of its firing episode
  for (const Transition& transition : transitions) {
    if (transition.to == AlertState::kFiring) {
      const AlertEvent event = event_of(transition);
      open[transition.alert.fingerprint] = episodes.size();
      episodes.push_back({*transition.alert.labels, event.annotations, transition.fired_at, {}});
    } else if (transition.from == AlertState::kFiring) {
      episodes[open.at(transition.alert.fingerprint)].resolved_at = transition.at;
      open.erase(transition.alert.fingerprint);
    }
  }
  return {std::move(episodes), late};
}

std::string alertname_of(const Labels& labels) {
  for (const auto& [name, value] : labels) {
    if (name == "alertname") return value;
  }
  return {};
}

// Compares one check; appends a line to `report` when it fails.
bool judge(const Check& check, const std::vector<Episode>& episodes, const std::string& where,
           std::string& report) {
  std::vector<const Episode*> firing;
  for (const Episode& episode : episodes) {
    if (alertname_of(episode.labels) == check.alertname && episode.fired_at <= check.eval_time &&
        (!episode.resolved_at || *episode.resolved_at > check.eval_time)) {
      firing.push_back(&episode);
    }
  }
  std::vector<bool> matched(firing.size(), false);
  std::string problems;
  for (const ExpectedAlert& expected : check.expected) {
    bool found = false;
    for (std::size_t i = 0; i < firing.size(); ++i) {
      if (matched[i] || without_alertname(firing[i]->labels) != expected.labels) continue;
      matched[i] = true;
      found = true;
      if (expected.starts_at && *expected.starts_at != firing[i]->fired_at) {
        problems += "\n    " + format_labels(expected.labels) + ": startsAt " +
                    format_instant(firing[i]->fired_at) + ", expected " +
                    format_instant(*expected.starts_at);
      }
      if (expected.annotations && *expected.annotations != firing[i]->annotations) {
        problems += "\n    " + format_labels(expected.labels) + ": annotations " +
                    format_labels(firing[i]->annotations) + ", expected " +
                    format_labels(*expected.annotations);
      }
      break;
    }
    if (!found) problems += "\n    expected, not firing: " + format_labels(expected.labels);
  }
  for (std::size_t i = 0; i < firing.size(); ++i) {
    if (!matched[i]) {
      problems +=
          "\n    firing, not expected: " + format_labels(without_alertname(firing[i]->labels)) +
          " since " + format_instant(firing[i]->fired_at);
    }
  }
  if (problems.empty()) return true;
  report += "FAIL " + where + ": " + check.alertname + " at " + format_instant(check.eval_time) +
            problems + "\n";
  return false;
}

}  // namespace

std::expected<RuleTestReport, std::vector<config::Diagnostic>> run_rule_tests(
    std::string_view yaml, std::string_view file_name, const ReadFile& read_file) {
  Reader reader(file_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    reader.problem(YAML::Node(), "", e.msg);
    if (!e.mark.is_null()) {
      reader.diagnostics().back().line = e.mark.line + 1;
      reader.diagnostics().back().column = e.mark.column + 1;
    }
    return std::unexpected(std::move(reader.diagnostics()));
  }
  if (!root.IsMap()) {
    reader.problem(root, "", "expected a map with `tests`");
    return std::unexpected(std::move(reader.diagnostics()));
  }
  reader.only(root, "", {"rule_files", "allowed_lateness", "tests"});
  const std::string directory = directory_of(file_name);

  std::vector<Rule> rules;
  if (const YAML::Node files = root["rule_files"]; files) {
    if (!files.IsSequence()) reader.problem(files, "rule_files", "expected a list of paths");
    for (std::size_t i = 0; files.IsSequence() && i < files.size(); ++i) {
      const std::string path = "rule_files[" + std::to_string(i) + "]";
      const auto name = reader.string(files[i], path);
      if (!name) continue;
      const std::string full = name->starts_with('/') ? *name : directory + *name;
      const auto text = read_file(full);
      if (!text) {
        reader.problem(files[i], path, text.error().message());
        continue;
      }
      auto parsed = parse_rules(*text, full);
      if (!parsed) {
        for (auto& d : parsed.error()) reader.diagnostics().push_back(std::move(d));
        continue;
      }
      for (Rule& rule : *parsed) rules.push_back(std::move(rule));
    }
  } else {
    auto parsed = parse_rules(default_rules_yaml(), "built-in rules");
    if (!parsed) return std::unexpected(std::move(parsed.error()));
    rules = std::move(*parsed);
  }

  Millis lateness = std::chrono::minutes(5);
  if (const YAML::Node node = root["allowed_lateness"]; node) {
    const auto text = reader.string(node, "allowed_lateness");
    if (text) {
      const auto parsed = config::parse_duration(*text);
      if (parsed) {
        lateness = *parsed;
      } else {
        reader.problem(node, "allowed_lateness", parsed.error().message());
      }
    }
  }

  std::vector<TestCase> tests;
  const YAML::Node tests_node = root["tests"];
  if (!tests_node || !tests_node.IsSequence() || tests_node.size() == 0) {
    reader.problem(tests_node ? tests_node : root, "tests", "expected a non-empty list of tests");
  }
  for (std::size_t i = 0; tests_node && tests_node.IsSequence() && i < tests_node.size(); ++i) {
    const std::string path = "tests[" + std::to_string(i) + "]";
    const YAML::Node node = tests_node[i];
    if (!node.IsMap()) {
      reader.problem(node, path, "expected a map");
      continue;
    }
    reader.only(node, path, {"name", "runs", "runs_file", "exp_late_runs", "alert_rule_test"});
    TestCase test;
    test.name = node["name"] ? reader.string(node["name"], path + ".name").value_or("") : path;
    if (const YAML::Node runs = node["runs"]; runs) {
      if (!runs.IsSequence()) reader.problem(runs, path + ".runs", "expected a list");
      for (std::size_t r = 0; runs.IsSequence() && r < runs.size(); ++r) {
        auto run = inline_run(reader, runs[r], path + ".runs[" + std::to_string(r) + "]");
        if (run) test.runs.push_back(std::move(*run));
      }
    }
    if (const YAML::Node file = node["runs_file"]; file) {
      const auto name = reader.string(file, path + ".runs_file");
      if (name) {
        const std::string full = name->starts_with('/') ? *name : directory + *name;
        const auto text = read_file(full);
        if (!text) {
          reader.problem(file, path + ".runs_file", text.error().message());
        } else if (auto runs = runs_from_file(reader, file, path + ".runs_file", *text)) {
          for (OwnedRun& run : *runs) test.runs.push_back(std::move(run));
        }
      }
    }
    if (const YAML::Node late = node["exp_late_runs"]; late) {
      if (const auto value = reader.number(late, path + ".exp_late_runs")) {
        test.expected_late = static_cast<int>(*value);
      }
    }
    const YAML::Node checks = node["alert_rule_test"];
    if (!checks || !checks.IsSequence()) {
      reader.problem(checks ? checks : node, path + ".alert_rule_test", "expected a list");
    }
    for (std::size_t c = 0; checks && checks.IsSequence() && c < checks.size(); ++c) {
      auto check =
          read_check(reader, checks[c], path + ".alert_rule_test[" + std::to_string(c) + "]");
      if (check) test.checks.push_back(std::move(*check));
    }
    tests.push_back(std::move(test));
  }
  if (!reader.diagnostics().empty()) return std::unexpected(std::move(reader.diagnostics()));

  RuleTestReport report;
  for (const TestCase& test : tests) {
    Instant until = Instant::min();
    for (const Check& check : test.checks) until = std::max(until, check.eval_time);
    const auto [episodes, late] = replay(rules, test.runs, lateness, until);
    const std::string where = std::string(file_name) + ": " + test.name;
    if (test.expected_late) {
      if (*test.expected_late == late) {
        ++report.checks_passed;
      } else {
        ++report.checks_failed;
        report.text += "FAIL " + where + ": " + std::to_string(late) + " late run(s), expected " +
                       std::to_string(*test.expected_late) + "\n";
      }
    }
    for (const Check& check : test.checks) {
      if (judge(check, episodes, where, report.text)) {
        ++report.checks_passed;
      } else {
        ++report.checks_failed;
      }
    }
  }
  report.text += std::string(file_name) + ": " + std::to_string(report.checks_passed) +
                 " check(s) passed, " + std::to_string(report.checks_failed) + " failed\n";
  return report;
}

}  // namespace iw::alerting
