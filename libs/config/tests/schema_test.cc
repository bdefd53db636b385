#include "iw/config/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::config {
namespace {

TEST(EnvVarName, UppercasesAndReplacesDotsAndDashes) {
  EXPECT_EQ(env_var_name("IW_", "kafka.bootstrap_servers"), "IW_KAFKA_BOOTSTRAP_SERVERS");
  EXPECT_EQ(env_var_name("IW_", "loki.push-url"), "IW_LOKI_PUSH_URL");
  EXPECT_EQ(env_var_name("", "metrics.port"), "METRICS_PORT");
}

TEST(IsSensitiveProperty, CoversLibrdkafkaCredentials) {
  for (std::string_view key : {"sasl.password", "ssl.key.password", "ssl.keystore.password",
                               "ssl.key.pem", "sasl.oauthbearer.client.secret",
                               "sasl.oauthbearer.config", "my.Secret.thing", "PASSWORD"}) {
    EXPECT_TRUE(is_sensitive_property(key)) << key;
  }
  for (std::string_view key : {"sasl.username", "linger.ms", "ssl.key.location"}) {
    EXPECT_FALSE(is_sensitive_property(key)) << key;
  }
}

TEST(Schema, RecordsDeclarations) {
  Schema schema;
  schema.integer("metrics.port").describe("Port.").default_value(9100).min(1).max(65535);
  schema.number("sampling.ratio").default_value(1);  // integers are accepted for numbers
  schema.duration("flush.interval").default_value("5s").min("100ms");

  const KeySpec* port = schema.find("metrics.port");
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(port->type, Type::kInteger);
  EXPECT_EQ(port->description, "Port.");
  EXPECT_EQ(port->default_value, Value(std::int64_t{9100}));
  EXPECT_EQ(port->min, Value(std::int64_t{1}));
  EXPECT_EQ(schema.find("sampling.ratio")->default_value, Value(1.0));
  EXPECT_EQ(schema.find("flush.interval")->default_value, Value(Duration(5000)));
  EXPECT_EQ(schema.find("flush.interval")->min, Value(Duration(100)));
  EXPECT_EQ(schema.find("nope"), nullptr);
  EXPECT_EQ(schema.keys().size(), 3u);
}

TEST(Schema, HelpListsEveryKeyAndHidesSecretDefaults) {
  Schema schema;
  schema.string("kafka.bootstrap_servers").required().describe("Brokers, host:port,...");
  schema.string("kafka.sasl_password")
      .secret()
      .default_value("hunter2-default")
      .describe("SASL password.");
  schema.properties("kafka.properties", nullptr)
      .default_value(std::map<std::string, std::string>{{"linger.ms", "5"}})
      .describe("librdkafka settings.");
  schema.integer("metrics.port").default_value(9100).min(1).max(65535).describe("Port.");
  schema.duration("flush.interval").default_value("1h30m").min("1s");
  schema.string("log.level").default_value("info").one_of({"debug", "info"});
  schema.string_list("kafka.topics");

  const std::string help = schema.help("ENRICHER_");
  // Golden text: the table users see with --help.
  EXPECT_EQ(
      help,
      R"(KEY                      TYPE            DEFAULT             ENV                               DESCRIPTION
kafka.bootstrap_servers  string          (required)          ENRICHER_KAFKA_BOOTSTRAP_SERVERS  Brokers, host:port,...
kafka.sasl_password      string, secret  <secret>            ENRICHER_KAFKA_SASL_PASSWORD      SASL password. Secret: prefer 'sasl_password_file: <path>' or ENRICHER_KAFKA_SASL_PASSWORD_FILE.
kafka.properties         properties      {"linger.ms": "5"}  -                                 librdkafka settings. An entry '<key>_file: <path>' reads <key> from a file.
metrics.port             integer         9100                ENRICHER_METRICS_PORT             Port. Range: 1..65535.
flush.interval           duration        1h30m               ENRICHER_FLUSH_INTERVAL           At least 1s.
log.level                string          "info"              ENRICHER_LOG_LEVEL                One of: debug, info.
kafka.topics             string list     -                   ENRICHER_KAFKA_TOPICS
)");
  EXPECT_THAT(help, ::testing::Not(::testing::HasSubstr("hunter2")));
}

using SchemaDeathTest = ::testing::Test;

TEST_F(SchemaDeathTest, BadDefaultsAreProgrammingErrors) {
  EXPECT_DEATH(
      {
        Schema schema;
        schema.integer("metrics.port").default_value(0).min(1);
      },
      "config key 'metrics.port': default value is invalid: must be at least 1, got 0");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("log.level").one_of({"info"}).default_value("loud");
      },
      "config key 'log.level': default value is invalid: must be one of 'info', got 'loud'");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.integer("metrics.port").default_value("9100");
      },
      "config key 'metrics.port': default value is not of type integer");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.duration("flush.interval").default_value("soon");
      },
      "default value is not a duration");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("name")
            .validate([](const Value&) { return std::optional<std::string>("always wrong"); })
            .default_value("x");
      },
      "config key 'name': default value is invalid: always wrong");
}

TEST_F(SchemaDeathTest, ConflictingDeclarationsAreProgrammingErrors) {
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("a.b");
        schema.integer("a.b");
      },
      "config key 'a.b' is declared twice");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("kafka");
        schema.string("kafka.group_id");
      },
      "config keys 'kafka' and 'kafka.group_id': one is inside the other");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("a.b_c");
        schema.string("a_b.c");
        (void)schema.help();
      },
      "config keys 'a.b_c' and 'a_b.c' map to the same env var suffix A_B_C");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("bad..path");
      },
      "config key 'bad..path': use dot-separated segments");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.integer("port").secret();
      },
      "only string keys can be secret");
  EXPECT_DEATH(
      {
        Schema schema;
        schema.string("x").required().default_value("y");
      },
      "cannot be both required and defaulted");
}

}  // namespace
}  // namespace iw::config
