#include "command_line.h"

#include <algorithm>

namespace iw::dlq {

std::string_view command_name(Command command) {
  switch (command) {
    case Command::kList:
      return "list";
    case Command::kSummary:
      return "summary";
    case Command::kReplay:
      return "replay";
  }
  return "?";
}

std::expected<Command, std::string> parse_command(std::span<const std::string> positionals) {
  if (positionals.empty()) return std::unexpected("name a command: list, summary or replay");
  Command command{};
  if (positionals[0] == "list") {
    command = Command::kList;
  } else if (positionals[0] == "summary") {
    command = Command::kSummary;
  } else if (positionals[0] == "replay") {
    command = Command::kReplay;
  } else {
    return std::unexpected("unknown command '" + positionals[0] +
                           "': expected list, summary or replay");
  }
  if (positionals.size() > 1) {
    return std::unexpected("'" + positionals[0] + "' takes no arguments, got '" + positionals[1] +
                           "' (filters are flags: --reason, --stage, --since, --limit)");
  }
  return command;
}

CommandLineScan scan_command_line(const config::Schema& schema,
                                  std::span<const std::string_view> args) {
  CommandLineScan scan;
  bool only_positional = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (only_positional || arg.empty() || arg[0] != '-' || arg == "-") {
      scan.positionals.emplace_back(arg);
    } else if (arg == "--") {
      only_positional = true;
    } else if (arg == "--help" || arg == "-h" || arg == "--version" || arg == "--check-config") {
      scan.informational = true;
    } else if (arg == "--config" || arg == "-c") {
      ++i;
    } else if (!arg.contains('=')) {
      const bool takes_value = std::ranges::any_of(schema.keys(), [&](const config::KeySpec& key) {
        return key.flag == arg && !key.flag_value_name.empty();
      });
      if (takes_value) ++i;
    }
  }
  return scan;
}

}  // namespace iw::dlq
