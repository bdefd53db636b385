#pragma once

#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/error.h"
#include "iw/config/config.h"

namespace iw::alerting {

/// Reads a file named by a rule test file (rule_files, runs_file), relative to the test file.
/// The caller does the I/O, so the runner stays pure.
using ReadFile = std::function<base::Result<std::string>(const std::string& path)>;

struct RuleTestReport {
  int checks_passed = 0;
  int checks_failed = 0;
  /// One line per failed check saying what was expected and what fired, then a summary line.
  std::string text;
  [[nodiscard]] bool ok() const { return checks_failed == 0; }
};

/// Runs a rule test file (docs/ALERTING.md, "Rule test files"). Diagnostics for a file that
/// cannot be read or is malformed; otherwise the report.
[[nodiscard]] std::expected<RuleTestReport, std::vector<config::Diagnostic>> run_rule_tests(
    std::string_view yaml, std::string_view file_name, const ReadFile& read_file);

}  // namespace iw::alerting
