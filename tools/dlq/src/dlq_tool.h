#pragma once

#include <cstdio>

#include "iw/runtime/service.h"

namespace iw::dlq {

/// ingest-dlq: lists, counts and replays the records of the dead-letter topic
/// (docs/DLQ.md). The command (list, summary or replay) is the first positional argument.
class DlqTool final : public runtime::Service {
 public:
  /// `report` receives what the command prints for the operator (rows, counts, replay
  /// results); log lines go wherever the runtime sends them.
  explicit DlqTool(std::FILE* report) : report_(report) {}

  void declare(config::Schema& schema) const override;
  base::Status run(runtime::Context& ctx) override;

 private:
  std::FILE* report_;
};

/// How ingest-dlq presents itself on the command line.
[[nodiscard]] runtime::ServiceInfo dlq_info();

/// The whole program: rejects a missing or unknown command (exit 2), gives stdout to the
/// report and the runtime's log lines to stderr, and runs DlqTool through run_service.
int run_tool(int argc, char** argv);

}  // namespace iw::dlq
