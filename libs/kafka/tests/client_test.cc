#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "iw/kafka/consumer.h"
#include "iw/kafka/producer.h"
#include "iw/kafka/record.h"

namespace iw::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(ValidatePropertyTest, AcceptsWhatLibrdkafkaAccepts) {
  EXPECT_EQ(validate_property("linger.ms", "5"), std::nullopt);
  EXPECT_EQ(validate_property("compression.type", "zstd"), std::nullopt);
  EXPECT_EQ(validate_property("security.protocol", "plaintext"), std::nullopt);
}

TEST(ValidatePropertyTest, RejectsUnknownKeysAndBadValuesWithLibrdkafkasReason) {
  EXPECT_THAT(validate_property("linger.msec", "5"), Optional(HasSubstr("No such configuration")));
  // linger.ms is an alias; librdkafka names the canonical property in its answer.
  EXPECT_THAT(validate_property("linger.ms", "soon"), Optional(HasSubstr("Invalid value")));
  EXPECT_THAT(validate_property("compression.type", "rar"), Optional(HasSubstr("rar")));
}

TEST(ValidatePropertyTest, RejectsSettingsThatCarryTheDeliveryGuarantees) {
  for (const char* key :
       {"enable.auto.offset.store", "enable.auto.commit", "transactional.id", "enable.idempotence",
        "group.id", "isolation.level", "acks", "delivery.report.only.error"}) {
    EXPECT_THAT(validate_property(key, "true"), Optional(HasSubstr("managed by ingestwatch")))
        << key;
  }
}

TEST(RecordTest, OwnedRecordAnswersLikeAConsumedOne) {
  Record record =
      Record::owned("ingestion-logs", 2, 41, "PowerBI", "{}",
                    {{"execution_id", "a"}, {"traceparent", "t"}, {"execution_id", "b"}});
  EXPECT_EQ(record.topic(), "ingestion-logs");
  EXPECT_EQ(record.partition(), 2);
  EXPECT_THAT(record.key(), Optional(std::string_view("PowerBI")));
  EXPECT_EQ(record.header_count(), 3u);
  // Repeated headers resolve to the last one, as Kafka clients conventionally do.
  EXPECT_THAT(record.header("execution_id"), Optional(std::string_view("b")));
  EXPECT_EQ(record.header("missing"), std::nullopt);
  EXPECT_EQ(record.offset(), 41);
}

TEST(RecordTest, KeylessRecordHasNoKey) {
  Record record = Record::owned("t", 0, 0, std::nullopt, "v");
  EXPECT_EQ(record.key(), std::nullopt);
  EXPECT_EQ(record.header_count(), 0u);
}

class NoDeliveries : public DeliveryHandler {
 public:
  void on_delivery(const DeliveryReport&) override {}
};

TEST(FactoryTest, BadPropertyIsAConfigErrorNamingTheKey) {
  log::MemorySink sink;
  log::Logger logger("test", sink);
  NoDeliveries handler;
  ProducerOptions options;
  options.client.bootstrap_servers = "127.0.0.1:1";
  options.client.logger = &logger;
  options.client.properties = {{"linger.ms", "soon"}, {"no.such.thing", "1"}};
  auto producer = make_producer(options, handler);
  ASSERT_FALSE(producer.has_value());
  EXPECT_EQ(producer.error().code(), base::ErrorCode::kInvalidInput);
  EXPECT_THAT(producer.error().message(), HasSubstr("kafka.properties.linger.ms"));
  EXPECT_THAT(producer.error().message(), HasSubstr("kafka.properties.no.such.thing"));

  ConsumerOptions consumer_options;
  consumer_options.client = options.client;
  consumer_options.group_id = "g";
  auto consumer = make_consumer(consumer_options);
  ASSERT_FALSE(consumer.has_value());
  EXPECT_THAT(consumer.error().message(), HasSubstr("kafka.properties.linger.ms"));
}

class CountingHandler : public DeliveryHandler {
 public:
  void on_delivery(const DeliveryReport& report) override {
    reports.push_back({report.correlation, report.error.has_value(), report.possibly_persisted});
  }
  struct Seen {
    std::uint64_t correlation;
    bool failed;
    bool possibly_persisted;
  };
  std::vector<Seen> reports;
};

TEST(ProducerTest, PurgeReportsEveryQueuedRecordAsNotDelivered) {
  log::MemorySink sink;
  log::Logger logger("test", sink);
  CountingHandler handler;
  ProducerOptions options;
  options.client.bootstrap_servers = "127.0.0.1:1";  // nothing listens there
  options.client.logger = &logger;
  auto producer = make_producer(options, handler);
  ASSERT_TRUE(producer.has_value()) << producer.error().to_string();
  for (std::uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE((*producer)->produce({.topic = "t", .value = "v"}, i).has_value());
  }
  EXPECT_EQ((*producer)->in_flight(), 5u);
  (*producer)->purge();
  for (int i = 0; i < 50 && handler.reports.size() < 5; ++i) {
    (*producer)->poll(std::chrono::milliseconds{20});
  }
  ASSERT_EQ(handler.reports.size(), 5u);
  for (const auto& seen : handler.reports) {
    EXPECT_TRUE(seen.failed);
    EXPECT_FALSE(seen.possibly_persisted) << "never sent, so certainly not persisted";
  }
  EXPECT_EQ((*producer)->in_flight(), 0u);
}

}  // namespace
}  // namespace iw::kafka
