#include <string_view>

#include "evaluator_service.h"
#include "rule_test_command.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "test") {
    return iw::alert_evaluator::run_rule_test_files({argv + 2, argv + argc});
  }
  iw::alert_evaluator::EvaluatorService service(iw::kafka::librdkafka_clients());
  return iw::runtime::run_service(iw::alert_evaluator::evaluator_info(), service, argc, argv);
}
