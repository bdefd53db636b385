#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <sstream>
#include <type_traits>

#include "iw/config/config.h"
#include "test_util.h"

namespace iw::config {
namespace {

using ::testing::ElementsAre;
using testing::env;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;
using testing::texts;

static_assert(!std::is_convertible_v<Secret, std::string>);
static_assert(!std::is_convertible_v<Secret, std::string_view>);
template <typename T>
concept Streamable = requires(std::ostream& os, const T& value) {
  os << value;
};
static_assert(!Streamable<Secret>);

constexpr std::string_view kFileSecret = "s3cr3t-Pa55word";
constexpr std::string_view kPropertySecret = "kafka-Pr0p-secret";
constexpr std::string_view kInlinePropertySecret = "inl1ne-key-pass";
constexpr std::string_view kEnvSecret = "env-0nly-secret";
constexpr std::string_view kDefaultSecret = "def4ult-secret";

// `careless` adds checks that try to echo what they were given, as a hurried service author
// might write them; the library must still keep the values out of its output.
Schema schema_with_secrets(bool careless) {
  Schema schema;
  schema.string("kafka.bootstrap_servers").required();
  auto& password = schema.string("kafka.sasl_password").secret().describe("SASL password.");
  schema.string("loki.token").secret().default_value(std::string(kDefaultSecret));
  schema.string("db.password").secret();
  schema.integer("metrics.port").default_value(9100).min(1);
  if (careless) {
    password.validate([](const Value& value) -> std::optional<std::string> {
      return "'" + std::get<std::string>(value) + "' is too short";
    });
    schema
        .properties("kafka.properties",
                    [](std::string_view key, std::string_view value) -> std::optional<std::string> {
                      return "rejected " + std::string(key) + "=" + std::string(value);
                    })
        .validate([](const Value& value) -> std::optional<std::string> {
          std::string all = "saw";
          for (const auto& [key, text] : std::get<std::map<std::string, std::string>>(value)) {
            all += " " + key + "=" + text;
          }
          return all;
        });
  } else {
    schema.properties("kafka.properties", nullptr);
  }
  return schema;
}

std::string yaml_using(const std::string& password_file, const std::string& property_file) {
  return "kafka:\n"
         "  bootstrap_servers: broker:9092\n"
         "  sasl_password_file: " +
         password_file +
         "\n"
         "  properties:\n"
         "    sasl.password_file: " +
         property_file +
         "\n"
         "    ssl.key.password: " +
         std::string(kInlinePropertySecret) + "\n";
}

void expect_no_secrets(const std::string& text) {
  for (std::string_view secret :
       {kFileSecret, kPropertySecret, kInlinePropertySecret, kEnvSecret, kDefaultSecret}) {
    EXPECT_THAT(text, Not(HasSubstr(std::string(secret))));
  }
}

TEST(Secrets, NeverAppearInDiagnosticsDumpOrHelp) {
  const TempDir dir;
  const std::string password_file = dir.write("sasl_password", std::string(kFileSecret) + "\n");
  const std::string property_file =
      dir.write("kafka_password", std::string(kPropertySecret) + "\r\n");
  const LoadOptions options = env({{"IW_DB_PASSWORD", std::string(kEnvSecret)}});

  // The same secrets next to mistakes, with checks that try to echo them.
  const Schema careless = schema_with_secrets(true);
  auto failed = load_string(careless,
                            yaml_using(password_file, property_file) +
                                "  sasl_pasword: typo\n"
                                "metrics:\n"
                                "  port: 0\n",
                            "enricher.yaml", options);
  ASSERT_FALSE(failed.has_value());
  EXPECT_THAT(texts(failed.error()),
              ElementsAre("enricher.yaml:3:23: kafka.sasl_password: '<redacted>' is too short",
                          "enricher.yaml:5:5: kafka.properties.sasl.password: rejected "
                          "sasl.password=<redacted>",
                          "enricher.yaml:5:5: kafka.properties: saw sasl.password=<redacted> "
                          "ssl.key.password=<redacted>",
                          "enricher.yaml:6:5: kafka.properties.ssl.key.password: rejected "
                          "ssl.key.password=<redacted>",
                          "enricher.yaml:7:3: kafka.sasl_pasword: unknown key, did you mean "
                          "'kafka.sasl_password'?",
                          "enricher.yaml:9:9: metrics.port: must be at least 1, got 0"));
  expect_no_secrets(format_diagnostics(failed.error()));
  expect_no_secrets(careless.help());

  // The same secrets loaded successfully: usable, yet redacted in the dump.
  const Schema schema = schema_with_secrets(false);
  auto config =
      load_string(schema, yaml_using(password_file, property_file), "enricher.yaml", options);
  ASSERT_TRUE(config.has_value()) << format_diagnostics(config.error());
  EXPECT_EQ(config->get_secret("kafka.sasl_password").reveal(), kFileSecret);
  EXPECT_EQ(config->get_secret("db.password").reveal(), kEnvSecret);
  EXPECT_EQ(config->get_secret("loki.token").reveal(), kDefaultSecret);
  EXPECT_EQ(config->get_properties("kafka.properties"),
            (std::map<std::string, std::string>{
                {"sasl.password", std::string(kPropertySecret)},
                {"ssl.key.password", std::string(kInlinePropertySecret)}}));
  const std::string dump = config->dump();
  expect_no_secrets(dump);
  EXPECT_EQ(dump,
            "kafka:\n"
            "  bootstrap_servers: \"broker:9092\"\n"
            "  sasl_password: <redacted>\n"
            "  properties:\n"
            "    sasl.password: <redacted>\n"
            "    ssl.key.password: <redacted>\n"
            "loki:\n"
            "  token: <redacted>  # default\n"
            "db:\n"
            "  password: <redacted>  # env IW_DB_PASSWORD\n"
            "metrics:\n"
            "  port: 9100  # default\n");
  expect_no_secrets(schema.help());
  expect_no_secrets(::testing::PrintToString(config->get_secret("kafka.sasl_password")));
}

TEST(Secrets, PropertiesFromFilesAreRedactedWhateverTheirName) {
  const TempDir dir;
  const std::string file = dir.write("token", "opaque-value\n");
  Schema schema;
  schema.properties("kafka.properties", nullptr);
  auto config = load_string(schema, "kafka:\n  properties:\n    custom.token_file: " + file + "\n",
                            "enricher.yaml", env());
  ASSERT_TRUE(config.has_value()) << format_diagnostics(config.error());
  EXPECT_EQ(config->get_properties("kafka.properties").at("custom.token"), "opaque-value");
  EXPECT_EQ(config->dump(), "kafka:\n  properties:\n    custom.token: <redacted>\n");
}

TEST(Secrets, UnreadableFilesNameThePathOnly) {
  const TempDir dir;
  const std::string missing = dir.path("nope");
  const Schema schema = schema_with_secrets(false);
  auto config = load_string(schema,
                            "kafka:\n"
                            "  bootstrap_servers: b\n"
                            "  sasl_password_file: " +
                                missing +
                                "\n"
                                "  properties:\n"
                                "    sasl.password_file: " +
                                missing + "\n",
                            "enricher.yaml", env({{"IW_DB_PASSWORD_FILE", missing}}));
  ASSERT_FALSE(config.has_value());
  EXPECT_THAT(texts(config.error()),
              ElementsAre("enricher.yaml:3:23: kafka.sasl_password_file: cannot read '" + missing +
                              "': No such file or directory",
                          "enricher.yaml:5:25: kafka.properties.sasl.password_file: cannot read '" +
                              missing + "': No such file or directory",
                          "env:IW_DB_PASSWORD_FILE: db.password: cannot read '" + missing +
                              "': No such file or directory"));
}

TEST(Secrets, EnvFileVariableAndConflicts) {
  const TempDir dir;
  const std::string file = dir.write("db", "from-file\n\n");
  const Schema schema = schema_with_secrets(false);

  auto config = load_string(schema, "kafka:\n  bootstrap_servers: b\n", "enricher.yaml",
                            env({{"IW_DB_PASSWORD_FILE", file}}));
  ASSERT_TRUE(config.has_value()) << format_diagnostics(config.error());
  EXPECT_EQ(config->get_secret("db.password").reveal(), "from-file");
  EXPECT_THAT(config->dump(), HasSubstr("  password: <redacted>  # env IW_DB_PASSWORD_FILE\n"));

  auto conflicting =
      load_string(schema,
                  "kafka:\n"
                  "  bootstrap_servers: b\n"
                  "  sasl_password: inline\n"
                  "  sasl_password_file: " +
                      file +
                      "\n"
                      "  properties:\n"
                      "    sasl.password: inline\n"
                      "    sasl.password_file: " +
                      file + "\n",
                  "enricher.yaml", env({{"IW_DB_PASSWORD_FILE", file}, {"IW_DB_PASSWORD", "x"}}));
  ASSERT_FALSE(conflicting.has_value());
  EXPECT_THAT(texts(conflicting.error()),
              ElementsAre("enricher.yaml:4:3: kafka.sasl_password: set either 'sasl_password' or "
                          "'sasl_password_file', not both",
                          "enricher.yaml:7:5: kafka.properties.sasl.password: set either "
                          "'sasl.password' or 'sasl.password_file', not both",
                          "env:IW_DB_PASSWORD_FILE: db.password: set either IW_DB_PASSWORD or "
                          "IW_DB_PASSWORD_FILE, not both"));
}

TEST(Secrets, EnvWinsOverFileSourcesWithoutConflict) {
  const TempDir dir;
  const std::string file = dir.write("pw", "from-file");
  const Schema schema = schema_with_secrets(false);
  auto config =
      load_string(schema, "kafka:\n  bootstrap_servers: b\n  sasl_password_file: " + file + "\n",
                  "enricher.yaml", env({{"IW_KAFKA_SASL_PASSWORD", "from-env"}}));
  ASSERT_TRUE(config.has_value()) << format_diagnostics(config.error());
  EXPECT_EQ(config->get_secret("kafka.sasl_password").reveal(), "from-env");
}

TEST(Secrets, WrongShapeIsReportedWithoutTheValue) {
  const Schema schema = schema_with_secrets(false);
  auto config = load_string(schema,
                            "kafka:\n"
                            "  bootstrap_servers: b\n"
                            "  sasl_password: {nested: hunter2}\n",
                            "enricher.yaml", env());
  ASSERT_FALSE(config.has_value());
  EXPECT_THAT(texts(config.error()),
              ElementsAre("enricher.yaml:3:18: kafka.sasl_password: expected a string, got a "
                          "mapping"));
}

TEST(Secrets, BuiltInChecksDoNotEchoTheValue) {
  Schema schema;
  schema.string("auth.mode_token").secret().one_of({"alpha-token", "beta-token"});
  EXPECT_THAT(
      texts(load_string(schema, "auth:\n  mode_token: gamma-token\n", "a.yaml", env()).error()),
      ElementsAre("a.yaml:2:15: auth.mode_token: must be one of 'alpha-token', "
                  "'beta-token'"));
  EXPECT_THAT(
      texts(
          load_string(schema, "", "a.yaml", env({{"IW_AUTH_MODE_TOKEN", "gamma-token"}})).error()),
      ElementsAre("env:IW_AUTH_MODE_TOKEN: auth.mode_token: must be one of 'alpha-token', "
                  "'beta-token'"));
}

TEST(Secrets, RequiredSecretCanComeFromAnySource) {
  const TempDir dir;
  Schema schema;
  schema.string("db.password").secret().required();
  EXPECT_THAT(texts(load_string(schema, "db: {}\n", "a.yaml", env()).error()),
              ElementsAre("a.yaml:1:5: db.password: required key missing"));
  const std::string file = dir.write("pw", "x\n");
  EXPECT_TRUE(load_string(schema, "db:\n  password_file: " + file + "\n", "a.yaml", env()));
  EXPECT_TRUE(load_string(schema, "", "a.yaml", env({{"IW_DB_PASSWORD", "x"}})));
}

}  // namespace
}  // namespace iw::config
