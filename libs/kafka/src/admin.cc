#include "iw/kafka/admin.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include "librdkafka_glue.h"

namespace iw::kafka {
namespace {

using std::chrono::milliseconds;

// The C++ API has no admin calls, so this client uses librdkafka's C admin API on the C handle
// of a C++ producer (which also carries the project's logging and error events).
class KafkaAdmin final : public Admin {
 public:
  explicit KafkaAdmin(const ClientOptions& options) : events_(options, "admin") {}

  base::Status init(const ClientOptions& options) {
    auto conf = detail::build_conf(options, {}, events_);
    if (!conf) return std::unexpected(conf.error());
    std::string errstr;
    client_.reset(RdKafka::Producer::create(conf->get(), errstr));
    if (!client_) return base::fail(base::ErrorCode::kInvalidInput, "kafka admin: " + errstr);
    return {};
  }

  base::Status create_topics(std::span<const TopicSpec> topics, milliseconds timeout) override {
    if (topics.empty()) return {};
    rd_kafka_t* rk = client_->c_ptr();
    char errstr[512];
    std::vector<rd_kafka_NewTopic_t*> new_topics;
    const auto cleanup = [&] {
      rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
    };
    for (const TopicSpec& spec : topics) {
      rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
          spec.name.c_str(), spec.partitions, spec.replication_factor, errstr, sizeof errstr);
      if (topic == nullptr) {
        cleanup();
        return base::fail(base::ErrorCode::kInvalidInput, "topic " + spec.name + ": " + errstr);
      }
      new_topics.push_back(topic);
      for (const auto& [key, value] : spec.config) {
        if (rd_kafka_NewTopic_set_config(topic, key.c_str(), value.c_str()) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          cleanup();
          return base::fail(base::ErrorCode::kInvalidInput,
                            "topic " + spec.name + ": bad config " + key);
        }
      }
    }
    rd_kafka_AdminOptions_t* admin_options =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(admin_options, static_cast<int>(timeout.count()),
                                                errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_request_timeout(admin_options, static_cast<int>(timeout.count()),
                                              errstr, sizeof errstr);
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, new_topics.data(), new_topics.size(), admin_options, queue);
    cleanup();
    rd_kafka_AdminOptions_destroy(admin_options);

    // Wait a little longer than the request itself so its own timeout is what we report.
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 5'000);
    rd_kafka_queue_destroy(queue);
    if (event == nullptr) {
      return base::fail(base::ErrorCode::kTimeout, "create_topics: no answer from the cluster");
    }
    base::Status status = collect(event);
    rd_kafka_event_destroy(event);
    return status;
  }

  base::Result<std::int32_t> partition_count(const std::string& topic,
                                             milliseconds timeout) override {
    std::string errstr;
    const std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(client_.get(), topic, nullptr, errstr));
    if (!handle)
      return base::fail(base::ErrorCode::kInvalidInput, "topic " + topic + ": " + errstr);
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode err =
        client_->metadata(false, handle.get(), &raw, static_cast<int>(timeout.count()));
    const std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (err != RdKafka::ERR_NO_ERROR) return std::unexpected(detail::translate(err, "metadata"));
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->topic() != topic) continue;
      if (t->err() != RdKafka::ERR_NO_ERROR) {
        return std::unexpected(detail::translate(t->err(), "topic " + topic));
      }
      return static_cast<std::int32_t>(t->partitions()->size());
    }
    return base::fail(base::ErrorCode::kNotFound, "topic " + topic + " does not exist");
  }

 private:
  static base::Status collect(rd_kafka_event_t* event) {
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::unexpected(
          detail::translate(static_cast<RdKafka::ErrorCode>(rd_kafka_event_error(event)),
                            std::string("create_topics: ") + rd_kafka_event_error_string(event)));
    }
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    std::size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
    std::string problems;
    base::ErrorCode worst = base::ErrorCode::kInternal;
    for (std::size_t i = 0; i < count; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        continue;
      }
      worst = detail::classify(static_cast<RdKafka::ErrorCode>(err));
      if (!problems.empty()) problems += "; ";
      problems += rd_kafka_topic_result_name(results[i]);
      problems += ": ";
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      problems += message != nullptr ? message : rd_kafka_err2str(err);
    }
    if (problems.empty()) return {};
    return base::fail(worst, "create_topics: " + problems);
  }

  detail::ClientEvents events_;
  std::unique_ptr<RdKafka::Producer> client_;
};

}  // namespace

base::Result<std::unique_ptr<Admin>> make_admin(const ClientOptions& options) {
  auto admin = std::make_unique<KafkaAdmin>(options);
  if (auto status = admin->init(options); !status) return std::unexpected(status.error());
  return admin;
}

}  // namespace iw::kafka
