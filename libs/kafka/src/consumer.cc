#include "iw/kafka/consumer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>

#include "consumer_impl.h"
#include "librdkafka_glue.h"

namespace iw::kafka {
namespace {

using std::chrono::milliseconds;

// Holds the librdkafka message the Record's views point into; headers are read in place. It
// owns the C message directly: the C++ API would heap-allocate a wrapper per message on top.
class MessageBacking final : public Record::Backing {
 public:
  explicit MessageBacking(rd_kafka_message_t* message) : message_(message) {
    rd_kafka_message_headers(message_, &headers_);
  }
  ~MessageBacking() override { rd_kafka_message_destroy(message_); }
  MessageBacking(const MessageBacking&) = delete;
  MessageBacking& operator=(const MessageBacking&) = delete;

  std::size_t header_count() const override {
    return headers_ == nullptr ? 0 : rd_kafka_header_cnt(headers_);
  }
  HeaderView header_at(std::size_t index) const override {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    if (headers_ == nullptr || rd_kafka_header_get_all(headers_, index, &name, &value, &size) !=
                                   RD_KAFKA_RESP_ERR_NO_ERROR) {
      return {};
    }
    return {name, std::string_view(static_cast<const char*>(value), value ? size : 0)};
  }
  std::optional<std::string_view> header(std::string_view name) const override {
    // Record::Backing's default would work too; this skips the scan for absent headers.
    if (headers_ == nullptr) return std::nullopt;
    return Record::Backing::header(name);
  }
  const rd_kafka_message_t* raw() const { return message_; }

 private:
  rd_kafka_message_t* message_;
  rd_kafka_headers_t* headers_ = nullptr;
};

Record to_record(rd_kafka_message_t* message) {
  auto backing = std::make_unique<MessageBacking>(message);
  const rd_kafka_message_t* raw = backing->raw();
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const std::int64_t timestamp_ms = rd_kafka_message_timestamp(raw, &type);
  Record::Fields fields{.topic = rd_kafka_topic_name(raw->rkt),
                        .partition = raw->partition,
                        .offset = raw->offset,
                        .key = raw->key ? std::optional<std::string_view>(std::string_view(
                                              static_cast<const char*>(raw->key), raw->key_len))
                                        : std::nullopt,
                        .value = std::string_view(static_cast<const char*>(raw->payload),
                                                  raw->payload ? raw->len : 0),
                        .timestamp = base::TimePoint{std::chrono::milliseconds{
                            type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? 0 : timestamp_ms}}};
  return Record(std::move(backing), fields);
}

std::vector<TopicPartition> partitions_of(const std::vector<RdKafka::TopicPartition*>& list) {
  std::vector<TopicPartition> out;
  out.reserve(list.size());
  for (const auto* p : list) out.push_back({p->topic(), p->partition()});
  return out;
}

class KafkaConsumer final : public Consumer, public RdKafka::RebalanceCb {
 public:
  explicit KafkaConsumer(const ConsumerOptions& options)
      : options_(options), events_(options.client, "consumer") {}

  ~KafkaConsumer() override { close(); }

  base::Status init() {
    const bool auto_commit = options_.commit_mode == CommitMode::kStoredOffsets;
    auto conf = detail::build_conf(
        options_.client,
        {{"group.id", options_.group_id},
         // Offsets are stored by the service only once a record's outcome is durable.
         {"enable.auto.offset.store", "false"},
         {"enable.auto.commit", auto_commit ? "true" : "false"},
         {"isolation.level", options_.read_committed ? "read_committed" : "read_uncommitted"},
         {"auto.offset.reset", options_.auto_offset_reset}},
        events_);
    if (!conf) return std::unexpected(conf.error());
    // Cooperative-sticky unless the user chose otherwise: a rebalance then moves only the
    // partitions that change owner instead of stopping the whole group.
    if (!options_.client.properties.contains("partition.assignment.strategy")) {
      std::string errstr;
      (*conf)->set("partition.assignment.strategy", "cooperative-sticky", errstr);
    }
    if (auto status =
            detail::set_callback(**conf, "rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this));
        !status) {
      return status;
    }
    std::string errstr;
    consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), errstr));
    if (!consumer_) return base::fail(base::ErrorCode::kInvalidInput, "kafka consumer: " + errstr);
    return {};
  }

  base::Status subscribe(const std::vector<std::string>& topics) override {
    const RdKafka::ErrorCode err = consumer_->subscribe(topics);
    if (err != RdKafka::ERR_NO_ERROR) return std::unexpected(detail::translate(err, "subscribe"));
    return {};
  }

  base::Result<std::optional<Record>> poll(milliseconds timeout) override {
    rd_kafka_message_t* message =
        rd_kafka_consumer_poll(consumer_->c_ptr(), static_cast<int>(timeout.count()));
    if (message == nullptr) return std::nullopt;  // nothing within the timeout
    const auto err = static_cast<RdKafka::ErrorCode>(message->err);
    if (err == RdKafka::ERR_NO_ERROR) return to_record(message);
    std::string detail = rd_kafka_message_errstr(message);
    rd_kafka_message_destroy(message);
    if (err == RdKafka::ERR__PARTITION_EOF || err == RdKafka::ERR__TIMED_OUT) {
      return std::nullopt;
    }
    base::Error error = detail::translate(err, "consume: " + detail);
    if (err == RdKafka::ERR__FATAL || events_.fatal()) {
      events_.mark_fatal();
      return base::fail(base::ErrorCode::kFailedPrecondition, error.message());
    }
    return std::unexpected(std::move(error));
  }

  base::Status store_offsets(std::span<const TopicPartitionOffset> positions) override {
    detail::PartitionList list(detail::to_rdkafka(positions));
    const RdKafka::ErrorCode err = consumer_->offsets_store(list.get());
    if (err != RdKafka::ERR_NO_ERROR) {
      return std::unexpected(detail::translate(err, "offsets_store"));
    }
    return {};
  }

  base::Status commit() override {
    const RdKafka::ErrorCode err = consumer_->commitSync();
    // Nothing stored since the last commit is not a failure.
    if (err == RdKafka::ERR_NO_ERROR || err == RdKafka::ERR__NO_OFFSET) return {};
    return std::unexpected(detail::translate(err, "commit"));
  }

  base::Result<std::vector<TopicPartitionOffset>> committed(std::span<const TopicPartition> parts,
                                                            milliseconds timeout) override {
    detail::PartitionList list(detail::to_rdkafka(parts));
    const RdKafka::ErrorCode err =
        consumer_->committed(list.get(), static_cast<int>(timeout.count()));
    if (err != RdKafka::ERR_NO_ERROR) return std::unexpected(detail::translate(err, "committed"));
    return detail::from_rdkafka(list.get());
  }

  base::Result<std::vector<TopicPartitionOffset>> offsets_for_times(
      std::span<const TopicPartition> parts, base::TimePoint time, milliseconds timeout) override {
    detail::PartitionList list(detail::to_rdkafka(parts));
    const auto ms = std::chrono::duration_cast<milliseconds>(time.time_since_epoch()).count();
    for (auto* p : list.get()) p->set_offset(ms);
    const RdKafka::ErrorCode err =
        consumer_->offsetsForTimes(list.get(), static_cast<int>(timeout.count()));
    if (err != RdKafka::ERR_NO_ERROR) {
      return std::unexpected(detail::translate(err, "offsets_for_times"));
    }
    return detail::from_rdkafka(list.get());
  }

  base::Status seek(const TopicPartitionOffset& position, milliseconds timeout) override {
    const std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(position.topic, position.partition, position.offset));
    const RdKafka::ErrorCode err = consumer_->seek(*tp, static_cast<int>(timeout.count()));
    if (err != RdKafka::ERR_NO_ERROR) return std::unexpected(detail::translate(err, "seek"));
    return {};
  }

  base::Status pause(std::span<const TopicPartition> parts) override {
    detail::PartitionList list(detail::to_rdkafka(parts));
    const RdKafka::ErrorCode err = consumer_->pause(list.get());
    if (err != RdKafka::ERR_NO_ERROR) return std::unexpected(detail::translate(err, "pause"));
    return {};
  }

  base::Status resume(std::span<const TopicPartition> parts) override {
    detail::PartitionList list(detail::to_rdkafka(parts));
    const RdKafka::ErrorCode err = consumer_->resume(list.get());
    if (err != RdKafka::ERR_NO_ERROR) return std::unexpected(detail::translate(err, "resume"));
    return {};
  }

  std::vector<TopicPartition> assignment() override {
    std::vector<RdKafka::TopicPartition*> raw;
    consumer_->assignment(raw);
    detail::PartitionList list(std::move(raw));
    return partitions_of(list.get());
  }

  std::vector<PartitionLag> lag() override {
    std::vector<RdKafka::TopicPartition*> raw;
    consumer_->assignment(raw);
    detail::PartitionList list(std::move(raw));
    consumer_->position(list.get());
    std::vector<PartitionLag> out;
    out.reserve(list.get().size());
    for (const auto* p : list.get()) {
      PartitionLag entry{{p->topic(), p->partition()}, std::nullopt};
      std::int64_t low = 0;
      std::int64_t high = 0;
      const bool known = consumer_->get_watermark_offsets(p->topic(), p->partition(), &low,
                                                          &high) == RdKafka::ERR_NO_ERROR &&
                         high >= 0;
      if (known && p->offset() >= 0) {
        entry.records = std::max<std::int64_t>(0, high - p->offset());
      } else if (known && low == high) {
        // Nothing consumed yet, so no position, but the partition is empty: nothing behind.
        entry.records = 0;
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

  std::unique_ptr<GroupMetadata> group_metadata() override {
    return std::make_unique<detail::KafkaGroupMetadata>(consumer_->groupMetadata());
  }

  bool fatal() const override { return events_.fatal(); }

  void close() override {
    if (consumer_ && !closed_) {
      closed_ = true;
      consumer_->close();
    }
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    RebalanceListener* listener = options_.listener;
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      if (listener != nullptr) {
        std::vector<TopicPartitionOffset> positions = detail::from_rdkafka(partitions);
        listener->on_assigned(positions);
        for (std::size_t i = 0; i < partitions.size(); ++i) {
          partitions[i]->set_offset(positions[i].offset == kOffsetStored
                                        ? RdKafka::Topic::OFFSET_STORED
                                        : positions[i].offset);
        }
      }
      if (cooperative) {
        report(consumer->incremental_assign(partitions), "incremental_assign");
      } else {
        report_code(consumer->assign(partitions), "assign");
      }
      return;
    }
    // Revocation: let the service finish (commit) while it still owns the partitions.
    if (listener != nullptr) {
      const std::vector<TopicPartition> parts = partitions_of(partitions);
      if (consumer->assignment_lost()) {
        listener->on_lost(parts);
      } else {
        listener->on_revoked(parts);
      }
    }
    if (cooperative) {
      report(consumer->incremental_unassign(partitions), "incremental_unassign");
    } else {
      report_code(consumer->unassign(), "unassign");
    }
  }

 private:
  void report(RdKafka::Error* error, std::string_view what) {
    if (auto status = detail::translate_and_free(error, what); !status) {
      options_.client.logger->error("kafka rebalance step failed",
                                    {{"step", what}, {"detail", status.error().message()}});
    }
  }
  void report_code(RdKafka::ErrorCode err, std::string_view what) {
    if (err != RdKafka::ERR_NO_ERROR) {
      options_.client.logger->error("kafka rebalance step failed",
                                    {{"step", what}, {"detail", RdKafka::err2str(err)}});
    }
  }

  ConsumerOptions options_;
  detail::ClientEvents events_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool closed_ = false;
};

}  // namespace

base::Result<std::unique_ptr<Consumer>> make_consumer(const ConsumerOptions& options) {
  auto consumer = std::make_unique<KafkaConsumer>(options);
  if (auto status = consumer->init(); !status) return std::unexpected(status.error());
  return consumer;
}

}  // namespace iw::kafka
