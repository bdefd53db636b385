#include "command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dlq_tool.h"

namespace iw::dlq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::expected<Command, std::string> command(std::vector<std::string> args) {
  return parse_command(args);
}

CommandLineScan scan(std::vector<std::string_view> args) {
  return scan_command_line(runtime::declare_keys(dlq_info(), DlqTool(stdout)), args);
}

TEST(ParseCommandTest, NamesOneOfThreeCommands) {
  EXPECT_EQ(command({"list"}), Command::kList);
  EXPECT_EQ(command({"summary"}), Command::kSummary);
  EXPECT_EQ(command({"replay"}), Command::kReplay);
  EXPECT_EQ(command_name(Command::kReplay), "replay");
}

TEST(ParseCommandTest, SaysWhatIsWrong) {
  EXPECT_THAT(command({}).error(), HasSubstr("name a command: list, summary or replay"));
  EXPECT_THAT(command({"purge"}).error(), HasSubstr("unknown command 'purge'"));
  EXPECT_THAT(command({"list", "invalid_json"}).error(),
              HasSubstr("'list' takes no arguments, got 'invalid_json'"));
}

TEST(ScanCommandLineTest, FindsTheCommandAmongFlagsAndTheirValues) {
  EXPECT_THAT(scan({"list"}).positionals, ElementsAre("list"));
  // "summary" here is the value of --reason, not a command.
  EXPECT_THAT(scan({"--reason", "summary", "list"}).positionals, ElementsAre("list"));
  EXPECT_THAT(scan({"--topic=t", "--dry-run", "replay", "--limit", "5"}).positionals,
              ElementsAre("replay"));
  EXPECT_THAT(scan({"--config", "dlq.yaml", "summary"}).positionals, ElementsAre("summary"));
  EXPECT_THAT(scan({"-c", "dlq.yaml", "--", "--list"}).positionals, ElementsAre("--list"));
  EXPECT_THAT(scan({"--no-such-option", "list"}).positionals, ElementsAre("list"));
  EXPECT_THAT(scan({"--reason"}).positionals, IsEmpty());
  EXPECT_FALSE(scan({"list"}).informational);
}

TEST(ScanCommandLineTest, HelpVersionAndCheckConfigNeedNoCommand) {
  EXPECT_TRUE(scan({"--help"}).informational);
  EXPECT_TRUE(scan({"-h"}).informational);
  EXPECT_TRUE(scan({"--version"}).informational);
  EXPECT_TRUE(scan({"--topic", "t", "--check-config"}).informational);
  EXPECT_FALSE(scan({"--", "--help"}).informational);
}

}  // namespace
}  // namespace iw::dlq
