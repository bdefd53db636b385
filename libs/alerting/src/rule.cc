#include "iw/alerting/rule.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>

#include "iw/alerting/alert_event.h"
#include "iw/config/duration.h"

namespace iw::alerting {
namespace {

struct Position {
  int line = 1;
  int column = 1;
};

// yaml-cpp marks are 0-based; a null mark (empty document) maps to the start of the file.
Position position_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

// yaml-cpp gives an empty value (`key:`) the mark of the next token, often on a later line;
// the key is the better place to point at.
Position value_position(const YAML::Node& key, const YAML::Node& value) {
  return value.IsNull() ? position_of(key.Mark()) : position_of(value.Mark());
}

std::string quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// ", got ..." describing a node that is not what a key wants.
std::string got(const YAML::Node& node) {
  if (node.IsNull()) return ", got an empty value";
  if (node.IsSequence()) return ", got a list";
  if (node.IsMap()) return ", got a mapping";
  return ", got " + quote(node.Scalar());
}

bool is_label_name(std::string_view name) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (name.empty() || !letter(name[0])) return false;
  return std::ranges::all_of(name, [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

// Optimal string alignment distance, for "did you mean" on misspelt keys ("treshold").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

constexpr std::array<std::string_view, 14> kRuleKeys = {
    "alert", "kind",     "by",  "window",          "op",       "threshold", "min_runs",
    "field", "quantile", "for", "keep_firing_for", "severity", "labels",    "annotations"};

// The labels every alert gets from the evaluator, which a rule must not set itself.
constexpr std::array<std::string_view, 3> kReservedLabels = {"alertname", "source", "objet"};

std::string unknown_key_message(std::string_view key) {
  for (const std::string_view candidate : kRuleKeys) {
    if (edit_distance(key, candidate) <= std::clamp<std::size_t>(candidate.size() / 4, 1, 3)) {
      return "unknown key, did you mean '" + std::string(candidate) + "'?";
    }
  }
  return "unknown key";
}

std::optional<RuleKind> kind_from_name(std::string_view name) {
  for (const RuleKind kind :
       {RuleKind::kFailedRuns, RuleKind::kFailureRatio, RuleKind::kNoRuns, RuleKind::kPercentile}) {
    if (kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::optional<Comparison> comparison_from_text(std::string_view text) {
  if (text == ">") return Comparison::kGreater;
  if (text == ">=") return Comparison::kGreaterOrEqual;
  if (text == "<") return Comparison::kLess;
  if (text == "<=") return Comparison::kLessOrEqual;
  return std::nullopt;
}

std::optional<RunField> field_from_name(std::string_view name) {
  if (name == "duration_seconds") return RunField::kDurationSeconds;
  if (name == "cpu_seconds") return RunField::kCpuSeconds;
  if (name == "memory_bytes") return RunField::kMemoryBytes;
  return std::nullopt;
}

std::optional<double> number_from_text(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::int64_t> integer_from_text(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// One pass over the YAML tree that collects every problem before giving up.
class RuleParser {
 public:
  explicit RuleParser(std::string_view file) : file_(file) {}

  std::expected<std::vector<Rule>, std::vector<config::Diagnostic>> parse(std::string_view yaml) {
    try {
      std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
      if (documents.size() > 1) {
        diag(position_of(documents[1].Mark()), "", "only one YAML document is allowed");
      }
      parse_root(documents.empty() ? YAML::Node() : documents[0]);
    } catch (const YAML::Exception& e) {
      diag(position_of(e.mark), "", e.msg);
    }
    check_duplicate_rules();
    if (diags_.empty()) return std::move(rules_);
    std::ranges::stable_sort(diags_, [](const config::Diagnostic& a, const config::Diagnostic& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::unexpected(std::move(diags_));
  }

 private:
  struct Entry {
    YAML::Node key;
    YAML::Node value;
  };
  using Entries = std::map<std::string, Entry, std::less<>>;

  void diag(Position position, std::string key_path, std::string message) {
    diags_.push_back(
        {file_, position.line, position.column, std::move(key_path), std::move(message)});
  }

  void parse_root(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
      diag({}, "rules", "required key missing");
      return;
    }
    if (!root.IsMap()) {
      diag(position_of(root.Mark()), "", "expected a mapping with the key 'rules'" + got(root));
      return;
    }
    const Entries entries = collect(
        root, "", [](std::string_view key) { return key == "rules"; },
        [](std::string_view) { return std::string("unknown key"); });
    const auto it = entries.find("rules");
    if (it == entries.end()) {
      diag(position_of(root.Mark()), "rules", "required key missing");
      return;
    }
    const YAML::Node& list = it->second.value;
    if (list.IsNull()) return;  // no rules, like `rules: []`
    if (!list.IsSequence()) {
      diag(position_of(list.Mark()), "rules", "expected a list of rules" + got(list));
      return;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node node = list[i];
      const std::string path = "rules[" + std::to_string(i) + "]";
      if (!node.IsMap()) {
        diag(position_of(node.Mark()), path, "expected a mapping" + got(node));
        continue;
      }
      const std::size_t problems_before = diags_.size();
      Rule rule = parse_rule(node, path);
      if (diags_.size() == problems_before) {
        rules_.push_back(std::move(rule));
        rule_sites_.push_back({i, position_of(node.Mark())});
      }
    }
  }

  // The entries of a mapping by key, reporting keys that are not strings, not `known`, or
  // repeated.
  template <typename Known, typename Unknown>
  Entries collect(const YAML::Node& mapping, const std::string& prefix, Known known,
                  Unknown unknown_message) {
    Entries entries;
    for (auto it = mapping.begin(); it != mapping.end(); ++it) {
      // Copies: yaml-cpp's iterator hands out a temporary proxy, so references into it dangle.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const Position where = position_of(key.Mark());
      if (!key.IsScalar()) {
        diag(where, prefix, "keys must be plain strings");
        continue;
      }
      const std::string path = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
      if (!known(key.Scalar())) {
        diag(where, path, unknown_message(key.Scalar()));
      } else if (auto [first, inserted] = entries.emplace(key.Scalar(), Entry{key, value});
                 !inserted) {
        const Position first_at = position_of(first->second.key.Mark());
        diag(where, path,
             "duplicate key, first set at " + std::to_string(first_at.line) + ":" +
                 std::to_string(first_at.column));
      }
    }
    return entries;
  }

  // The scalar text of `entry`, or nullopt after reporting what it is instead.
  std::optional<std::string> scalar(const Entry& entry, const std::string& path,
                                    std::string_view expected) {
    if (entry.value.IsScalar()) return entry.value.Scalar();
    diag(value_position(entry.key, entry.value), path,
         "expected " + std::string(expected) + got(entry.value));
    return std::nullopt;
  }

  void bad_value(const Entry& entry, const std::string& path, std::string message) {
    diag(value_position(entry.key, entry.value), path, std::move(message));
  }

  std::optional<config::Duration> duration(const Entry& entry, const std::string& path) {
    const auto text = scalar(entry, path, "a duration such as '5m'");
    if (!text) return std::nullopt;
    auto parsed = config::parse_duration(*text);
    if (!parsed) {
      bad_value(entry, path, "invalid duration " + quote(*text) + ": " + parsed.error().message());
      return std::nullopt;
    }
    return *parsed;
  }

  std::optional<double> number(const Entry& entry, const std::string& path) {
    const auto text = scalar(entry, path, "a number");
    if (!text) return std::nullopt;
    auto parsed = number_from_text(*text);
    if (!parsed) bad_value(entry, path, "expected a number, got " + quote(*text));
    return parsed;
  }

  Rule parse_rule(const YAML::Node& node, const std::string& prefix) {
    const Entries entries = collect(
        node, prefix,
        [](std::string_view key) { return std::ranges::find(kRuleKeys, key) != kRuleKeys.end(); },
        unknown_key_message);
    const Position rule_position = position_of(node.Mark());
    auto find = [&](std::string_view key) -> const Entry* {
      const auto it = entries.find(key);
      return it == entries.end() ? nullptr : &it->second;
    };
    auto path_of = [&](std::string_view key) { return prefix + "." + std::string(key); };
    auto missing = [&](std::string_view key, std::string message = "required key missing") {
      diag(rule_position, path_of(key), std::move(message));
    };

    Rule rule;
    if (const Entry* e = find("alert")) {
      if (auto text = scalar(*e, path_of("alert"), "an alert name")) {
        if (text->empty()) bad_value(*e, path_of("alert"), "must not be empty");
        rule.alert = std::move(*text);
      }
    } else {
      missing("alert");
    }

    // Which other keys apply depends on the kind; without a valid kind, those checks are
    // skipped rather than guessed.
    std::optional<RuleKind> kind;
    if (const Entry* e = find("kind")) {
      if (auto text = scalar(*e, path_of("kind"), "a kind")) {
        kind = kind_from_name(*text);
        if (kind) {
          rule.kind = *kind;
        } else {
          bad_value(*e, path_of("kind"),
                    "unknown kind " + quote(*text) +
                        ", expected failed_runs, failure_ratio, no_runs or percentile");
        }
      }
    } else {
      missing("kind");
    }

    if (const Entry* e = find("by")) parse_by(*e, path_of("by"), rule);

    if (const Entry* e = find("window")) {
      if (auto window = duration(*e, path_of("window"))) {
        if (*window <= Millis{0}) bad_value(*e, path_of("window"), "must be longer than 0s");
        rule.window = *window;
      }
    } else {
      missing("window");
    }

    // Whether a key that only some kinds use is present and used by this rule's kind; one the
    // kind does not use is reported.
    auto applies = [&](std::string_view key, bool used, std::string_view only_for) {
      const Entry* e = find(key);
      if (e == nullptr) return false;
      if (kind && !used) {
        diag(position_of(e->key.Mark()), path_of(key),
             std::string(only_for) + ", not for kind " + std::string(kind_name(*kind)));
        return false;
      }
      return true;
    };

    const bool compares = kind != RuleKind::kNoRuns;
    if (applies("op", compares, "only for kinds that compare a value")) {
      const Entry& e = *find("op");
      if (auto text = scalar(e, path_of("op"), "a comparison")) {
        if (auto comparison = comparison_from_text(*text)) {
          rule.comparison = *comparison;
        } else {
          bad_value(e, path_of("op"), "expected one of >, >=, <, <=, got " + quote(*text));
        }
      }
    } else if (kind && compares) {
      missing("op", "required key missing for kind " + std::string(kind_name(*kind)));
    }
    if (applies("threshold", compares, "only for kinds that compare a value")) {
      if (auto threshold = number(*find("threshold"), path_of("threshold"))) {
        rule.threshold = *threshold;
      }
    } else if (kind && compares) {
      missing("threshold", "required key missing for kind " + std::string(kind_name(*kind)));
    }

    if (applies("min_runs", kind == RuleKind::kFailureRatio, "only for kind failure_ratio")) {
      const Entry& e = *find("min_runs");
      if (auto text = scalar(e, path_of("min_runs"), "a number of runs")) {
        const auto min_runs = integer_from_text(*text);
        if (!min_runs || *min_runs < 0) {
          bad_value(e, path_of("min_runs"), "expected a non-negative integer, got " + quote(*text));
        } else {
          rule.min_runs = *min_runs;
        }
      }
    }

    const bool percentile = kind == RuleKind::kPercentile;
    if (applies("field", percentile, "only for kind percentile")) {
      const Entry& e = *find("field");
      if (auto text = scalar(e, path_of("field"), "a run field")) {
        if (auto field = field_from_name(*text)) {
          rule.field = *field;
        } else {
          bad_value(e, path_of("field"),
                    "unknown field " + quote(*text) +
                        ", expected duration_seconds, cpu_seconds or memory_bytes");
        }
      }
    } else if (percentile) {
      missing("field", "required key missing for kind percentile");
    }
    if (applies("quantile", percentile, "only for kind percentile")) {
      if (auto quantile = number(*find("quantile"), path_of("quantile"))) {
        if (*quantile <= 0 || *quantile > 1) {
          bad_value(*find("quantile"), path_of("quantile"), "must be in (0, 1]");
        }
        rule.quantile = *quantile;
      }
    }

    if (const Entry* e = find("for")) {
      if (auto d = duration(*e, path_of("for"))) rule.for_duration = *d;
    }
    if (const Entry* e = find("keep_firing_for")) {
      if (auto d = duration(*e, path_of("keep_firing_for"))) rule.keep_firing_for = *d;
    }

    if (const Entry* e = find("labels")) {
      rule.labels = name_value_map(*e, path_of("labels"), /*labels=*/true);
    }
    if (const Entry* e = find("severity")) {
      if (auto text = scalar(*e, path_of("severity"), "a severity")) {
        if (text->empty()) {
          bad_value(*e, path_of("severity"), "must not be empty");
        } else if (std::ranges::find(rule.labels, "severity", &Labels::value_type::first) !=
                   rule.labels.end()) {
          diag(position_of(e->key.Mark()), path_of("severity"),
               "set either 'severity' or 'labels.severity', not both");
        } else {
          rule.labels.emplace_back("severity", std::move(*text));
        }
      }
    }
    std::ranges::sort(rule.labels);
    if (const Entry* e = find("annotations")) {
      rule.annotations = name_value_map(*e, path_of("annotations"), /*labels=*/false);
      std::ranges::sort(rule.annotations);
    }
    return rule;
  }

  void parse_by(const Entry& entry, const std::string& path, Rule& rule) {
    constexpr std::string_view kExpected = "expected [source] or [source, objet]";
    const YAML::Node& value = entry.value;
    if (!value.IsSequence()) {
      bad_value(entry, path, std::string(kExpected) + got(value));
      return;
    }
    bool source = false;
    bool objet = false;
    bool ok = value.size() == 1 || value.size() == 2;
    for (std::size_t i = 0; i < value.size() && ok; ++i) {
      const YAML::Node element = value[i];
      const std::string name = element.IsScalar() ? element.Scalar() : "";
      if (name == "source" && !source) {
        source = true;
      } else if (name == "objet" && !objet) {
        objet = true;
      } else {
        ok = false;
      }
    }
    if (!ok || !source) {
      bad_value(entry, path, std::string(kExpected));
      return;
    }
    rule.group_by = objet ? GroupBy::kSourceObjet : GroupBy::kSource;
  }

  // `labels` or `annotations`: names that are valid label names, string values.
  Labels name_value_map(const Entry& entry, const std::string& path, bool labels) {
    Labels out;
    if (entry.value.IsNull()) return out;  // every entry commented out
    if (!entry.value.IsMap()) {
      bad_value(entry, path, "expected a mapping" + got(entry.value));
      return out;
    }
    const Entries entries = collect(
        entry.value, path, [](std::string_view) { return true; },
        [](std::string_view) { return std::string(); });
    for (const auto& [name, e] : entries) {
      const std::string item_path = path + "." + name;
      if (!is_label_name(name)) {
        diag(position_of(e.key.Mark()), item_path,
             "not a valid name: use letters, digits and '_', not starting with a digit");
        continue;
      }
      if (labels && std::ranges::find(kReservedLabels, name) != kReservedLabels.end()) {
        diag(position_of(e.key.Mark()), item_path,
             "reserved: the evaluator sets alertname, source and objet itself");
        continue;
      }
      auto text = scalar(e, item_path, labels ? "a label value" : "a template");
      if (!text) continue;
      if (labels && text->empty()) {
        // Prometheus and Alertmanager treat an empty label as an absent one.
        bad_value(e, item_path, "must not be empty");
        continue;
      }
      if (!labels) {
        if (std::string problem = check_template(*text); !problem.empty()) {
          bad_value(e, item_path, std::move(problem));
          continue;
        }
      }
      out.emplace_back(name, std::move(*text));
    }
    return out;
  }

  // Rules that would produce alerts with the same labels, hence the same fingerprint. Rule
  // files are short, so comparing every pair is fine.
  void check_duplicate_rules() {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (rules_[i].alert == rules_[j].alert && rules_[i].labels == rules_[j].labels) {
          diag(rule_sites_[i].position, "rules[" + std::to_string(rule_sites_[i].index) + "]",
               "duplicate rule: same alert and labels as rules[" +
                   std::to_string(rule_sites_[j].index) + "]");
          break;
        }
      }
    }
  }

  struct RuleSite {
    std::size_t index = 0;  // in the file's list
    Position position;
  };

  std::string file_;
  std::vector<Rule> rules_;
  std::vector<RuleSite> rule_sites_;  // parallel to rules_
  std::vector<config::Diagnostic> diags_;
};

}  // namespace

std::expected<std::vector<Rule>, std::vector<config::Diagnostic>> parse_rules(
    std::string_view yaml, std::string_view name_for_messages) {
  return RuleParser(name_for_messages).parse(yaml);
}

Millis longest_window(const std::vector<Rule>& rules) {
  Millis longest{0};
  for (const Rule& rule : rules) longest = std::max(longest, rule.window);
  return longest;
}

std::string_view kind_name(RuleKind kind) {
  switch (kind) {
    case RuleKind::kFailedRuns:
      return "failed_runs";
    case RuleKind::kFailureRatio:
      return "failure_ratio";
    case RuleKind::kNoRuns:
      return "no_runs";
    case RuleKind::kPercentile:
      return "percentile";
  }
  return "unknown";
}

}  // namespace iw::alerting
