#pragma once

#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "iw/runtime/service.h"

namespace iw::dlq {

enum class Command { kList, kSummary, kReplay };

/// "list", "summary", "replay".
[[nodiscard]] std::string_view command_name(Command command);

/// The command named by the positional arguments; the error is one line for the operator.
[[nodiscard]] std::expected<Command, std::string> parse_command(
    std::span<const std::string> positionals);

/// What a command line holds, found before run_service parses it.
struct CommandLineScan {
  /// --help, --version or --check-config: the runtime answers and no command runs.
  bool informational = false;
  std::vector<std::string> positionals;
};

/// Splits `args` (argv without the program name) the way run_service does — `--` ends the
/// options, --config and each flag of `schema` with a value name take the next argument unless
/// written `--flag=value` — so a missing or unknown command is a command-line error (exit 2)
/// before anything connects. Unknown options are left for run_service to report.
[[nodiscard]] CommandLineScan scan_command_line(const config::Schema& schema,
                                                std::span<const std::string_view> args);

}  // namespace iw::dlq
