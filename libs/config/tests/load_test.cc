#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "iw/config/config.h"
#include "test_util.h"

namespace iw::config {
namespace {

using ::testing::ElementsAre;
using testing::env;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TempDir;
using testing::texts;

std::optional<std::string> check_kafka_property(std::string_view key, std::string_view value) {
  static const std::set<std::string_view> kKnown = {"linger.ms",         "enable.idempotence",
                                                    "security.protocol", "sasl.username",
                                                    "sasl.password",     "ssl.key.password"};
  if (!kKnown.contains(key)) return "unknown librdkafka property";
  if (key == "linger.ms" && value.find_first_not_of("0123456789") != std::string_view::npos) {
    return "must be a whole number of milliseconds";
  }
  return std::nullopt;
}

// The shape of a real service's declarations (the enricher's).
Schema enricher_schema() {
  Schema schema;
  schema.string("kafka.bootstrap_servers").required().describe("Brokers.");
  schema.string("kafka.group_id").required().describe("Consumer group.");
  schema.string_list("kafka.topics").default_value(std::vector<std::string>{"ingest"});
  schema.string("kafka.sasl_password").secret();
  schema.properties("kafka.properties", check_kafka_property)
      .default_value(std::map<std::string, std::string>{{"enable.idempotence", "true"}});
  schema.integer("metrics.port").default_value(9100).min(1).max(65535);
  schema.boolean("metrics.enabled").default_value(true);
  schema.number("sampling.ratio").default_value(1.0).min(0.0).max(1.0);
  schema.duration("flush.interval").default_value("5s").min("100ms").max("1h");
  schema.string("log.level").default_value("info").one_of({"debug", "info", "warn", "error"});
  schema.string("service.instance").validate([](const Value& value) -> std::optional<std::string> {
    if (std::get<std::string>(value).contains(' ')) return "must not contain spaces";
    return std::nullopt;
  });
  return schema;
}

std::vector<std::string> errors_of(const Schema& schema, std::string_view yaml,
                                   const LoadOptions& options = env()) {
  auto config = load_string(schema, yaml, "enricher.yaml", options);
  if (config.has_value()) return {"<loaded without errors>"};
  return texts(config.error());
}

constexpr std::string_view kMinimal =
    "kafka:\n"
    "  bootstrap_servers: broker:9092\n"
    "  group_id: enricher\n";

TEST(Load, ReadsEveryTypeFromYaml) {
  const Schema schema = enricher_schema();
  auto config = load_string(schema,
                            "kafka:\n"
                            "  bootstrap_servers: broker:9092\n"
                            "  group_id: enricher\n"
                            "  topics: [a, b]\n"
                            "metrics:\n"
                            "  port: 9200\n"
                            "  enabled: false\n"
                            "sampling:\n"
                            "  ratio: 0.25\n"
                            "flush:\n"
                            "  interval: 1m30s\n"
                            "log: {level: debug}\n"
                            "service:\n"
                            "  instance: enricher-1\n",
                            "enricher.yaml", env());
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  EXPECT_EQ(config->get_string("kafka.bootstrap_servers"), "broker:9092");
  EXPECT_THAT(config->get_string_list("kafka.topics"), ElementsAre("a", "b"));
  EXPECT_EQ(config->get_int("metrics.port"), 9200);
  EXPECT_FALSE(config->get_bool("metrics.enabled"));
  EXPECT_EQ(config->get_number("sampling.ratio"), 0.25);
  EXPECT_EQ(config->get_duration("flush.interval"), std::chrono::seconds(90));
  EXPECT_EQ(config->get_string("log.level"), "debug");
  EXPECT_EQ(config->get_string("service.instance"), "enricher-1");
  EXPECT_EQ(config->source("metrics.port"), Source::kFile);
}

TEST(Load, AppliesDefaults) {
  const Schema schema = enricher_schema();
  auto config = load_string(schema, kMinimal, "enricher.yaml", env());
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  EXPECT_THAT(config->get_string_list("kafka.topics"), ElementsAre("ingest"));
  EXPECT_EQ(config->get_int("metrics.port"), 9100);
  EXPECT_TRUE(config->get_bool("metrics.enabled"));
  EXPECT_EQ(config->get_number("sampling.ratio"), 1.0);
  EXPECT_EQ(config->get_duration("flush.interval"), std::chrono::seconds(5));
  EXPECT_EQ(config->get_string("log.level"), "info");
  EXPECT_EQ(config->source("metrics.port"), Source::kDefault);
  EXPECT_THAT(config->get_properties("kafka.properties"),
              ElementsAre(std::pair<const std::string, std::string>("enable.idempotence", "true")));
  // Optional keys without a default are simply absent.
  EXPECT_FALSE(config->has("service.instance"));
  EXPECT_FALSE(config->has("kafka.sasl_password"));
  EXPECT_TRUE(config->has("metrics.port"));
}

TEST(Load, EmptySectionsAndEmptyFilesAreFine) {
  Schema schema;
  schema.integer("metrics.port").default_value(9100);
  EXPECT_TRUE(load_string(schema, "", "a.yaml", env()).has_value());
  EXPECT_TRUE(load_string(schema, "# nothing yet\n", "a.yaml", env()).has_value());
  EXPECT_TRUE(load_string(schema, "metrics:\n  # port: 1\n", "a.yaml", env()).has_value());
}

TEST(Load, AcceptsDottedShorthandForNesting) {
  const Schema schema = enricher_schema();
  auto config = load_string(schema,
                            "kafka.bootstrap_servers: b:9092\n"
                            "kafka:\n"
                            "  group_id: g\n",
                            "enricher.yaml", env());
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  EXPECT_EQ(config->get_string("kafka.bootstrap_servers"), "b:9092");
}

TEST(Load, RejectsUnknownKeysWithSuggestion) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema,
                        "kafka:\n"
                        "  bootstrap_servers: b:9092\n"
                        "  group_id: g\n"
                        "  bootstrap_server: typo\n"
                        "metrics:\n"
                        "  prot: 1\n"
                        "  group_id: wrong-section\n"
                        "kafak:\n"
                        "  group_id: g\n"
                        "colour: blue\n"),
              ElementsAre("enricher.yaml:4:3: kafka.bootstrap_server: unknown key, did you mean "
                          "'kafka.bootstrap_servers'?",
                          "enricher.yaml:6:3: metrics.prot: unknown key, did you mean "
                          "'metrics.port'?",
                          "enricher.yaml:7:3: metrics.group_id: unknown key, did you mean "
                          "'kafka.group_id'?",
                          "enricher.yaml:8:1: kafak: unknown key, did you mean 'kafka'?",
                          "enricher.yaml:10:1: colour: unknown key"));
}

TEST(Load, RejectsWrongTypesSayingWhatWasExpected) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema,
                        "kafka:\n"
                        "  bootstrap_servers: [a, b]\n"
                        "  group_id: g\n"
                        "  topics: ingest\n"
                        "metrics:\n"
                        "  port: abc\n"
                        "  enabled: yes\n"
                        "sampling:\n"
                        "  ratio: lots\n"
                        "flush:\n"
                        "  interval: soon\n"
                        "log: debug\n"),
              ElementsAre("enricher.yaml:2:22: kafka.bootstrap_servers: expected a string, got a "
                          "list",
                          "enricher.yaml:4:11: kafka.topics: expected a list of strings, got "
                          "'ingest'",
                          "enricher.yaml:6:9: metrics.port: expected an integer, got 'abc'",
                          "enricher.yaml:7:12: metrics.enabled: expected a boolean (true or "
                          "false), got 'yes'",
                          "enricher.yaml:9:10: sampling.ratio: expected a number, got 'lots'",
                          "enricher.yaml:11:13: flush.interval: expected a duration, got 'soon': "
                          "use digits followed by a unit (ms, s, m, h, d or w), e.g. '1h30m'",
                          "enricher.yaml:12:6: log: expected a mapping, got 'debug'"));
}

TEST(Load, RejectsEmptyValuesAndBadListElements) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema,
                        "kafka:\n"
                        "  bootstrap_servers: b\n"
                        "  group_id:\n"
                        "  topics:\n"
                        "    - a\n"
                        "    - {b: c}\n"),
              ElementsAre("enricher.yaml:3:3: kafka.group_id: expected a string, got an empty "
                          "value",
                          "enricher.yaml:6:7: kafka.topics[1]: expected a string, got a mapping"));
}

TEST(Load, ReportsMissingRequiredKeysAtTheParentMapping) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema,
                        "metrics:\n"
                        "  port: 9100\n"
                        "kafka:\n"
                        "    bootstrap_servers: b\n"),
              ElementsAre("enricher.yaml:4:5: kafka.group_id: required key missing"));
}

TEST(Load, MissingKeyWithoutParentPointsAtNearestAncestorOrStart) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema, "metrics:\n  port: 9100\n"),
              ElementsAre("enricher.yaml:1:1: kafka.bootstrap_servers: required key missing",
                          "enricher.yaml:1:1: kafka.group_id: required key missing"));
  EXPECT_THAT(errors_of(schema, ""),
              ElementsAre("enricher.yaml:1:1: kafka.bootstrap_servers: required key missing",
                          "enricher.yaml:1:1: kafka.group_id: required key missing"));
  EXPECT_THAT(errors_of(schema, "\n\nmetrics:\n  port: 9100\n"),
              ElementsAre("enricher.yaml:3:1: kafka.bootstrap_servers: required key missing",
                          "enricher.yaml:3:1: kafka.group_id: required key missing"));
}

TEST(Load, RunsValidators) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema,
                        "kafka:\n"
                        "  bootstrap_servers: b\n"
                        "  group_id: g\n"
                        "metrics:\n"
                        "  port: 70000\n"
                        "sampling:\n"
                        "  ratio: -0.5\n"
                        "flush:\n"
                        "  interval: 50ms\n"
                        "log:\n"
                        "  level: verbose\n"
                        "service:\n"
                        "  instance: enricher 1\n"),
              ElementsAre("enricher.yaml:5:9: metrics.port: must be at most 65535, got 70000",
                          "enricher.yaml:7:10: sampling.ratio: must be at least 0, got -0.5",
                          "enricher.yaml:9:13: flush.interval: must be at least 100ms, got 50ms",
                          "enricher.yaml:11:10: log.level: must be one of 'debug', 'info', "
                          "'warn', 'error', got 'verbose'",
                          "enricher.yaml:13:13: service.instance: must not contain spaces"));
}

TEST(Load, OneOfAppliesToEachListElement) {
  Schema schema;
  schema.string_list("outputs").one_of({"loki", "stdout"});
  EXPECT_THAT(errors_of(schema, "outputs: [loki, kafka, stdout]\n"),
              ElementsAre("enricher.yaml:1:17: outputs[1]: must be one of 'loki', 'stdout', got "
                          "'kafka'"));
}

TEST(Load, ReportsEveryProblemAtOnceInFileOrder) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema,
                        "log:\n"
                        "  level: verbose\n"
                        "kafka:\n"
                        "  bootstrap_servers: broker:9092\n"
                        "  grup_id: enricher\n"
                        "metrics:\n"
                        "  port: abc\n"
                        "  port: 1\n"
                        "flush:\n"
                        "  interval: -5s\n"),
              ElementsAre("enricher.yaml:2:10: log.level: must be one of 'debug', 'info', 'warn', "
                          "'error', got 'verbose'",
                          "enricher.yaml:4:3: kafka.group_id: required key missing",
                          "enricher.yaml:5:3: kafka.grup_id: unknown key, did you mean "
                          "'kafka.group_id'?",
                          "enricher.yaml:7:9: metrics.port: expected an integer, got 'abc'",
                          "enricher.yaml:8:3: metrics.port: duplicate key, first set at 7:3",
                          "enricher.yaml:10:13: flush.interval: expected a duration, got '-5s': "
                          "durations cannot be negative"));
}

TEST(Load, ReportsYamlSyntaxErrorsWithPosition) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema, "kafka:\n  topics: [a, b\n"),
              ElementsAre("enricher.yaml:3:1: end of sequence flow not found"));
  EXPECT_THAT(errors_of(schema, "kafka: group_id: g\n"),
              ElementsAre("enricher.yaml:1:16: illegal map value"));
  EXPECT_THAT(errors_of(schema, "- a\n- b\n"),
              ElementsAre("enricher.yaml:1:1: expected a mapping of keys at the top level, got a "
                          "list"));
  EXPECT_THAT(errors_of(schema, std::string(kMinimal) + "---\nmetrics: {port: 1}\n"),
              ElementsAre("enricher.yaml:5:1: only one YAML document is allowed"));
}

TEST(Load, EnvOverridesWinOverTheFile) {
  const Schema schema = enricher_schema();
  auto config = load_string(schema,
                            "kafka:\n"
                            "  bootstrap_servers: file:9092\n"
                            "metrics:\n"
                            "  port: 9100\n",
                            "enricher.yaml",
                            env({{"IW_KAFKA_BOOTSTRAP_SERVERS", "env:9092"},
                                 {"IW_KAFKA_GROUP_ID", "from-env"},
                                 {"IW_KAFKA_TOPICS", " a, b ,,c"},
                                 {"IW_METRICS_PORT", "9300"},
                                 {"IW_FLUSH_INTERVAL", "2m"},
                                 {"IW_KAFKA_PROPERTIES", "ignored"},
                                 {"IW_SOMETHING_ELSE", "ignored too"},
                                 {"KAFKA_GROUP_ID", "no prefix, ignored"}}));
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  EXPECT_EQ(config->get_string("kafka.bootstrap_servers"), "env:9092");
  EXPECT_EQ(config->get_string("kafka.group_id"), "from-env");
  EXPECT_THAT(config->get_string_list("kafka.topics"), ElementsAre("a", "b", "c"));
  EXPECT_EQ(config->get_int("metrics.port"), 9300);
  EXPECT_EQ(config->get_duration("flush.interval"), std::chrono::minutes(2));
  EXPECT_EQ(config->source("metrics.port"), Source::kEnv);
}

TEST(Load, CommandLineOverridesWinOverEnvAndFile) {
  const Schema schema = enricher_schema();
  LoadOptions options = env({{"IW_METRICS_PORT", "9300"}});
  options.overrides = {{"--port", "metrics.port", "9400"}, {"--topic", "kafka.topics", "x,y"}};
  auto config = load_string(schema, std::string(kMinimal) + "metrics:\n  port: 9100\n",
                            "enricher.yaml", options);
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  EXPECT_EQ(config->get_int("metrics.port"), 9400);
  EXPECT_EQ(config->source("metrics.port"), Source::kCommandLine);
  EXPECT_THAT(config->get_string_list("kafka.topics"), ElementsAre("x", "y"));
  EXPECT_THAT(config->dump(), HasSubstr("port: 9400  # flag --port"));
}

TEST(Load, CommandLineProblemsNameTheFlagAndSecretsAreRefused) {
  const Schema schema = enricher_schema();
  LoadOptions options = env();
  options.overrides = {{"--port", "metrics.port", "many"},
                       {"--ratio", "sampling.ratio", "2"},
                       {"--password", "kafka.sasl_password", "hunter2"},
                       {"--props", "kafka.properties", "a=b"}};
  EXPECT_THAT(errors_of(schema, kMinimal, options),
              ElementsAre("--port: metrics.port: expected an integer, got 'many'",
                          "--ratio: sampling.ratio: must be at most 1, got 2",
                          "--password: kafka.sasl_password: secrets cannot be given on the "
                          "command line",
                          "--props: kafka.properties: not a key that can be set from the command "
                          "line"));
}

TEST(Load, EnvPrefixIsConfigurable) {
  const Schema schema = enricher_schema();
  LoadOptions options = env({{"ENRICHER_METRICS_PORT", "1234"}, {"IW_METRICS_PORT", "1"}});
  options.env_prefix = "ENRICHER_";
  auto config = load_string(schema, kMinimal, "enricher.yaml", options);
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->get_int("metrics.port"), 1234);
}

TEST(Load, ReportsEnvErrorsNamingTheVariable) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema,
                        "kafka:\n"
                        "  bootstrap_servers: b\n"
                        "  group_id: g\n"
                        "  bogus: 1\n",
                        env({{"IW_METRICS_PORT", "x"},
                             {"IW_METRICS_ENABLED", "1"},
                             {"IW_LOG_LEVEL", "loud"},
                             {"IW_FLUSH_INTERVAL", "3h"}})),
              ElementsAre("enricher.yaml:4:3: kafka.bogus: unknown key",
                          "env:IW_METRICS_PORT: metrics.port: expected an integer, got 'x'",
                          "env:IW_METRICS_ENABLED: metrics.enabled: expected a boolean (true or "
                          "false), got '1'",
                          "env:IW_FLUSH_INTERVAL: flush.interval: must be at most 1h, got 3h",
                          "env:IW_LOG_LEVEL: log.level: must be one of 'debug', 'info', 'warn', "
                          "'error', got 'loud'"));
}

TEST(Load, EnvSatisfiesRequiredKeysAndFileErrorsStillCount) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema, "metrics:\n  port: abc\n",
                        env({{"IW_KAFKA_BOOTSTRAP_SERVERS", "b"},
                             {"IW_KAFKA_GROUP_ID", "g"},
                             {"IW_METRICS_PORT", "9100"}})),
              ElementsAre("enricher.yaml:2:9: metrics.port: expected an integer, got 'abc'"));
}

TEST(Load, PropertiesAreFlatAndCheckedPerEntry) {
  const Schema schema = enricher_schema();
  auto config = load_string(schema,
                            std::string(kMinimal) +
                                "  properties:\n"
                                "    linger.ms: 5\n"
                                "    enable.idempotence: false\n"
                                "    security.protocol: SASL_SSL\n",
                            "enricher.yaml", env());
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  EXPECT_EQ(
      config->get_properties("kafka.properties"),
      (std::map<std::string, std::string>{
          {"enable.idempotence", "false"}, {"linger.ms", "5"}, {"security.protocol", "SASL_SSL"}}));
}

TEST(Load, PropertiesCheckFailuresNameTheEntry) {
  const Schema schema = enricher_schema();
  EXPECT_THAT(errors_of(schema, std::string(kMinimal) + "  properties:\n"
                                                        "    linger.ms: soon\n"
                                                        "    queue.buffering.max.kbytes: 1024\n"
                                                        "    linger.ms: 5\n"
                                                        "    security:\n"
                                                        "      protocol: SASL_SSL\n"
                                                        "    sasl.username: [a]\n"),
              ElementsAre("enricher.yaml:5:5: kafka.properties.linger.ms: must be a whole number "
                          "of milliseconds",
                          "enricher.yaml:6:5: kafka.properties.queue.buffering.max.kbytes: "
                          "unknown librdkafka property",
                          "enricher.yaml:7:5: kafka.properties.linger.ms: duplicate key, first "
                          "set at 5:5",
                          "enricher.yaml:9:7: kafka.properties.security: expected a scalar value, "
                          "got a mapping (librdkafka keys are written flat, e.g. 'linger.ms: 5')",
                          "enricher.yaml:10:20: kafka.properties.sasl.username: expected a scalar "
                          "value, got a list"));
}

TEST(Load, DumpShowsEffectiveConfigWithSources) {
  const Schema schema = enricher_schema();
  auto config = load_string(schema,
                            std::string(kMinimal) +
                                "  properties:\n"
                                "    linger.ms: 5\n"
                                "    sasl.password: inline-pass\n"
                                "    ssl.key.password: other-pass\n"
                                "  sasl_password: top-secret-inline\n",
                            "enricher.yaml", env({{"IW_METRICS_PORT", "9300"}}));
  ASSERT_TRUE(config.has_value()) << ::testing::PrintToString(texts(config.error()));
  EXPECT_EQ(config->get_secret("kafka.sasl_password").reveal(), "top-secret-inline");
  EXPECT_EQ(config->get_properties("kafka.properties").at("sasl.password"), "inline-pass");
  EXPECT_EQ(config->dump(),
            "kafka:\n"
            "  bootstrap_servers: \"broker:9092\"\n"
            "  group_id: \"enricher\"\n"
            "  topics: [\"ingest\"]  # default\n"
            "  sasl_password: <redacted>\n"
            "  properties:\n"
            "    enable.idempotence: \"true\"\n"
            "    linger.ms: \"5\"\n"
            "    sasl.password: <redacted>\n"
            "    ssl.key.password: <redacted>\n"
            "metrics:\n"
            "  port: 9300  # env IW_METRICS_PORT\n"
            "  enabled: true  # default\n"
            "sampling:\n"
            "  ratio: 1  # default\n"
            "flush:\n"
            "  interval: 5s  # default\n"
            "log:\n"
            "  level: \"info\"  # default\n"
            "service:\n"
            "  instance: ~  # not set\n");
}

TEST(Load, ReadsFiles) {
  const TempDir dir;
  const std::string path =
      dir.write("enricher.yaml", std::string(kMinimal) + "metrics:\n  port: x\n");
  auto config = load_file(enricher_schema(), path, env());
  ASSERT_FALSE(config.has_value());
  EXPECT_THAT(texts(config.error()),
              ElementsAre(path + ":5:9: metrics.port: expected an integer, got 'x'"));

  dir.write("ok.yaml", kMinimal);
  EXPECT_TRUE(load_file(enricher_schema(), dir.path("ok.yaml"), env()).has_value());
}

TEST(Load, UnreadableFileIsOneDiagnostic) {
  const TempDir dir;
  auto config = load_file(enricher_schema(), dir.path("missing.yaml"), env());
  ASSERT_FALSE(config.has_value());
  EXPECT_THAT(texts(config.error()),
              ElementsAre(dir.path("missing.yaml") +
                          ": cannot read config file: No such file or directory"));
  EXPECT_EQ(config.error()[0].line, 0);
  EXPECT_EQ(config.error()[0].key_path, "");
}

TEST(Diagnostic, FormatsWithAndWithoutPositionAndKey) {
  EXPECT_EQ(
      (Diagnostic{"enricher.yaml", 12, 5, "kafka.group_id", "required key missing"}).to_string(),
      "enricher.yaml:12:5: kafka.group_id: required key missing");
  EXPECT_EQ((Diagnostic{"env:IW_METRICS_PORT", 0, 0, "metrics.port", "bad"}).to_string(),
            "env:IW_METRICS_PORT: metrics.port: bad");
  EXPECT_EQ((Diagnostic{"a.yaml", 0, 0, "", "cannot read config file: x"}).to_string(),
            "a.yaml: cannot read config file: x");
  EXPECT_EQ(format_diagnostics({{"a.yaml", 1, 2, "k", "m"}, {"b.yaml", 3, 4, "", "n"}}),
            "a.yaml:1:2: k: m\nb.yaml:3:4: n\n");
}

using ConfigDeathTest = ::testing::Test;

TEST_F(ConfigDeathTest, MisusingGettersIsAProgrammingError) {
  const Schema schema = enricher_schema();
  auto config = load_string(schema, kMinimal, "enricher.yaml", env());
  ASSERT_TRUE(config.has_value());
  EXPECT_DEATH((void)config->get_string("kafka.nope"), "config key 'kafka.nope' is not declared");
  EXPECT_DEATH((void)config->get_string("metrics.port"),
               "config key 'metrics.port' has type integer, not string");
  EXPECT_DEATH((void)config->get_string("service.instance"),
               "config key 'service.instance' has no value; check has\\(\\) first");
  EXPECT_DEATH((void)config->get_string("kafka.sasl_password"),
               "config key 'kafka.sasl_password' is secret; use get_secret\\(\\)");
  EXPECT_DEATH((void)config->get_secret("kafka.group_id"),
               "config key 'kafka.group_id' is not secret");
}

}  // namespace
}  // namespace iw::config
