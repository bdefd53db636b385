#include "rule_test_command.h"

#include <iostream>

#include "evaluator_settings.h"
#include "iw/alerting/rule_test.h"

namespace iw::alert_evaluator {

int run_rule_test_files(const std::vector<std::string>& files) {
  if (files.empty()) {
    std::cerr << "ingest-alert-evaluator test: expected one or more rule test files\n";
    return 2;
  }
  bool all_passed = true;
  for (const std::string& file : files) {
    const auto text = read_file(file);
    if (!text) {
      std::cerr << text.error().message() << "\n";
      return 2;
    }
    const auto report = alerting::run_rule_tests(*text, file, read_file);
    if (!report) {
      std::cerr << config::format_diagnostics(report.error());
      return 2;
    }
    std::cout << report->text;
    all_passed = all_passed && report->ok();
  }
  std::cout << (all_passed ? "PASS" : "FAIL") << "\n";
  return all_passed ? 0 : 1;
}

}  // namespace iw::alert_evaluator
