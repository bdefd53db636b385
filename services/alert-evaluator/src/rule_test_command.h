#pragma once

#include <string>
#include <vector>

namespace iw::alert_evaluator {

/// `ingest-alert-evaluator test FILE...`: runs rule test files, prints what failed and a
/// summary; 0 when every check passed, 1 when one failed, 2 when a file is unusable.
int run_rule_test_files(const std::vector<std::string>& files);

}  // namespace iw::alert_evaluator
