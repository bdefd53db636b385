// One declaration per key (config::Binder): type, flag, argument, default, checks and the field
// it fills; and the checks that span several keys.
#include "iw/config/binder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace iw::config {
namespace {

using ::testing::ElementsAre;
using testing::env;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::texts;

enum class Mode { kFast, kSafe };

struct Backoff {
  std::chrono::milliseconds min{0};
  std::chrono::milliseconds max{0};
};

struct Settings {
  std::string topic;
  std::int32_t partitions = 0;
  std::size_t batch = 0;
  double ratio = 0;
  bool loop = false;
  std::chrono::nanoseconds max_age{0};
  std::vector<std::string> sources;
  Secret token;
  std::string user;
  Mode mode = Mode::kFast;
  int zone_offset = 0;
  Backoff backoff;
  std::string input = "from the initialiser";
};

constexpr std::string_view kToken = "t0ps3cr3t-value";

// "+02" -> 2; anything else is a problem of the key.
std::expected<int, std::string> parse_offset(const std::string& text) {
  if (text.size() == 3 && text[0] == '+') return (text[1] - '0') * 10 + (text[2] - '0');
  return std::unexpected("expected an offset like +02, got '" + text + "'");
}

Schema declare() {
  Schema schema;
  Binder<Settings> keys(schema);
  keys.key("app.topic", &Settings::topic)
      .describe("Where records go.")
      .default_value("logs")
      .flag("--topic", "TOPIC");
  keys.key("app.partitions", &Settings::partitions).default_value(std::int64_t{3}).min(1);
  keys.key("app.batch", &Settings::batch).default_value(std::int64_t{100});
  keys.key("app.ratio", &Settings::ratio).default_value(0.5);
  keys.key("app.loop", &Settings::loop).default_value(false).flag("--loop");
  keys.key("app.max_age", &Settings::max_age).default_value("1h");
  keys.key("app.sources", &Settings::sources).default_value(std::vector<std::string>{});
  keys.key("app.token", &Settings::token).describe("A credential.");
  keys.key("app.user", &Settings::user);
  keys.choice("app.mode", {{"fast", Mode::kFast}, {"safe", Mode::kSafe}}, &Settings::mode)
      .default_value("safe")
      .flag("--mode", "MODE");
  keys.parsed("app.zone", parse_offset, &Settings::zone_offset).default_value("+00");
  keys.key("app.backoff.min", &Settings::backoff, &Backoff::min).default_value("1s");
  keys.key("app.backoff.max", &Settings::backoff, &Backoff::max).default_value("30s");
  keys.check({"app.backoff.max", "app.backoff.min"},
             [](const Settings& s) -> std::optional<std::string> {
               if (s.backoff.max < s.backoff.min) return "app.backoff.max is below app.backoff.min";
               return std::nullopt;
             });
  keys.check({"app.token", "app.user"}, [](const Settings& s) -> std::optional<std::string> {
    if (!s.token.empty() && !s.user.empty()) {
      return "set together with app.user (token " + std::string(s.token.reveal()) + ")";
    }
    return std::nullopt;
  });
  keys.key("app.input", &Settings::input).flag("--input", "FILE").argument("FILE");
  return schema;
}

std::vector<std::string> errors_of(std::string_view yaml, const LoadOptions& options = env()) {
  auto config = load_string(declare(), yaml, "app.yaml", options);
  if (config.has_value()) return {"<loaded without errors>"};
  return texts(config.error());
}

TEST(Binder, DeclaresTheKeyTypeFromTheField) {
  const Schema schema = declare();
  EXPECT_EQ(schema.find("app.topic")->type, Type::kString);
  EXPECT_EQ(schema.find("app.partitions")->type, Type::kInteger);
  EXPECT_EQ(schema.find("app.batch")->type, Type::kInteger);
  EXPECT_EQ(schema.find("app.ratio")->type, Type::kNumber);
  EXPECT_EQ(schema.find("app.loop")->type, Type::kBoolean);
  EXPECT_EQ(schema.find("app.max_age")->type, Type::kDuration);
  EXPECT_EQ(schema.find("app.sources")->type, Type::kStringList);
  EXPECT_TRUE(schema.find("app.token")->secret);
  EXPECT_THAT(schema.find("app.mode")->one_of, ElementsAre("fast", "safe"));
  EXPECT_EQ(schema.find("app.topic")->flag, "--topic");
  EXPECT_EQ(schema.find("app.topic")->flag_value_name, "TOPIC");
  EXPECT_EQ(schema.find("app.loop")->flag_value_name, "");
  EXPECT_EQ(schema.find("app.input")->argument, "FILE");
  EXPECT_EQ(schema.checks().size(), 2u);
}

TEST(Binder, ReadFillsEveryBoundFieldAndLeavesUnsetOnesAlone) {
  auto config = load_string(declare(),
                            "app:\n"
                            "  topic: runs\n"
                            "  partitions: 6\n"
                            "  batch: 7\n"
                            "  ratio: 0.25\n"
                            "  loop: true\n"
                            "  max_age: 2m\n"
                            "  sources: [a, b]\n"
                            "  token: " +
                                std::string(kToken) +
                                "\n"
                                "  mode: fast\n"
                                "  zone: '+02'\n"
                                "  backoff:\n"
                                "    min: 250ms\n",
                            "app.yaml", env());
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  const auto s = config->read<Settings>();
  EXPECT_EQ(s.topic, "runs");
  EXPECT_EQ(s.partitions, 6);
  EXPECT_EQ(s.batch, 7u);
  EXPECT_EQ(s.ratio, 0.25);
  EXPECT_TRUE(s.loop);
  EXPECT_EQ(s.max_age, std::chrono::minutes(2));
  EXPECT_THAT(s.sources, ElementsAre("a", "b"));
  EXPECT_EQ(s.token.reveal(), kToken);
  EXPECT_EQ(s.mode, Mode::kFast);
  EXPECT_EQ(s.zone_offset, 2);
  EXPECT_EQ(s.backoff.min, std::chrono::milliseconds(250));
  EXPECT_EQ(s.backoff.max, std::chrono::seconds(30));  // the default
  EXPECT_EQ(s.user, "");                               // optional, unset
  EXPECT_EQ(s.input, "from the initialiser");
}

TEST(Binder, FlagWinsOverEnvWhichWinsOverFileWhichWinsOverDefault) {
  const std::string yaml = "app:\n  topic: from-file\n  mode: fast\n  batch: 5\n";
  LoadOptions options = env({{"IW_APP_TOPIC", "from-env"}, {"IW_APP_MODE", "safe"}});
  options.overrides = {{"--topic", "app.topic", "from-flag"}, {"FILE", "app.input", "in.json"}};
  auto config = load_string(declare(), yaml, "app.yaml", options);
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  const auto s = config->read<Settings>();
  EXPECT_EQ(s.topic, "from-flag");
  EXPECT_EQ(s.mode, Mode::kSafe);
  EXPECT_EQ(s.batch, 5u);
  EXPECT_EQ(s.ratio, 0.5);
  EXPECT_EQ(s.input, "in.json");
  EXPECT_THAT(config->dump(), HasSubstr("topic: \"from-flag\"  # flag --topic"));
  EXPECT_THAT(config->dump(), HasSubstr("mode: \"safe\"  # env IW_APP_MODE"));
  EXPECT_THAT(config->dump(), HasSubstr("input: \"in.json\"  # argument FILE"));
}

TEST(Binder, TypeErrorsValidatorErrorsAndNarrowFieldsAreReportedAtTheValue) {
  EXPECT_THAT(errors_of("app:\n"
                        "  batch: many\n"
                        "  zone: Europe/Paris\n"
                        "  partitions: 3000000000\n"
                        "  mode: slow\n"
                        "  bach: 1\n"),
              ElementsAre("app.yaml:2:10: app.batch: expected an integer, got 'many'",
                          "app.yaml:3:9: app.zone: expected an offset like +02, got "
                          "'Europe/Paris'",
                          "app.yaml:4:15: app.partitions: must be at most 2147483647",
                          "app.yaml:5:9: app.mode: must be one of 'fast', 'safe', got 'slow'",
                          "app.yaml:6:3: app.bach: unknown key, did you mean 'app.batch'?"));
  EXPECT_THAT(errors_of("app.batch: -1\n"), ElementsAre("app.yaml:1:12: app.batch: must be at "
                                                        "least 0"));
}

TEST(CrossKeyCheck, IsReportedAtTheFirstOfItsKeysThatWasSet) {
  // max is first in the check's list: blamed where the file set it.
  EXPECT_THAT(errors_of("app:\n"
                        "  backoff:\n"
                        "    min: 2s\n"
                        "    max: 1s\n"),
              ElementsAre("app.yaml:4:10: app.backoff.max: app.backoff.max is below "
                          "app.backoff.min"));
  // max keeps its default (30s): blamed is min, the key that was set.
  EXPECT_THAT(errors_of("app:\n  backoff:\n    min: 1m\n"),
              ElementsAre("app.yaml:3:10: app.backoff.min: app.backoff.max is below "
                          "app.backoff.min"));
  // Set by an env var or a flag: named like their own problems.
  EXPECT_THAT(errors_of("", env({{"IW_APP_BACKOFF_MIN", "1m"}})),
              ElementsAre("env:IW_APP_BACKOFF_MIN: app.backoff.min: app.backoff.max is below "
                          "app.backoff.min"));
  LoadOptions flag = env();
  flag.overrides = {{"--max", "app.backoff.max", "1ms"}};
  EXPECT_THAT(errors_of("", flag),
              ElementsAre("--max: app.backoff.max: app.backoff.max is below app.backoff.min"));
}

TEST(CrossKeyCheck, RunsOnlyOnceItsKeysHaveNoProblemOfTheirOwn) {
  EXPECT_THAT(errors_of("app:\n"
                        "  backoff:\n"
                        "    min: 2s\n"
                        "    max: soon\n"),
              ElementsAre("app.yaml:4:10: app.backoff.max: expected a duration, got 'soon': use "
                          "digits followed by a unit (ms, s, m, h, d or w), e.g. '1h30m'"));
  // Problems elsewhere do not stop it: every problem is reported at once. (The check reads
  // every field; those whose value has a problem hold their default meanwhile.)
  EXPECT_THAT(errors_of("app:\n"
                        "  batch: many\n"
                        "  zone: nowhere\n"
                        "  partitions: 3000000000\n"
                        "  backoff: {min: 2s, max: 1s}\n"),
              ElementsAre("app.yaml:2:10: app.batch: expected an integer, got 'many'",
                          "app.yaml:3:9: app.zone: expected an offset like +02, got 'nowhere'",
                          "app.yaml:4:15: app.partitions: must be at most 2147483647",
                          "app.yaml:5:27: app.backoff.max: app.backoff.max is below "
                          "app.backoff.min"));
}

TEST(CrossKeyCheck, NeverShowsASecret) {
  testing::TempDir dir;
  const std::string token_file = dir.write("token", std::string(kToken) + "\n");
  const auto errors = errors_of("app:\n  user: bob\n  token_file: " + token_file + "\n");
  EXPECT_THAT(errors, ElementsAre("app.yaml:3:15: app.token: set together with app.user (token "
                                  "<redacted>)"));
}

TEST(Binder, HelpNeverShowsASecretDefault) {
  Schema schema;
  Binder<Settings> keys(schema);
  keys.key("app.token", &Settings::token)
      .describe("A credential.")
      .default_value(std::string(kToken));
  const std::string help = schema.help();
  EXPECT_THAT(help, HasSubstr("app.token  string, secret  <secret>"));
  EXPECT_THAT(help, Not(HasSubstr(kToken)));
}

using BinderDeathTest = ::testing::Test;

TEST_F(BinderDeathTest, BadFlagsAndChecksAreProgrammingErrors) {
  EXPECT_DEATH(
      {
        Schema schema;
        schema.integer("a.n").flag("--n");  // only a boolean's flag can be a switch
      },
      "switch");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("a.x").flag("-x", "X");
      },
      "flag '-x'");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("a.x").flag("--x", "X");
        schema.string("a.y").flag("--x", "Y");
        (void)schema.help();
      },
      "same flag --x");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("a.token").secret().flag("--token", "T");
        (void)schema.help();
      },
      "secret and cannot have a flag");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("a.x").argument("X");
        schema.string("a.y").argument("Y");
        (void)schema.help();
      },
      "both arguments");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.check({"a.nope"}, [](const Config&) { return std::nullopt; });
      },
      "undeclared config key 'a.nope'");
}

}  // namespace
}  // namespace iw::config
