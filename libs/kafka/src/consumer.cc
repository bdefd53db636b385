#include "iw/kafka/consumer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "consumer_impl.h"
#include "iw/kafka/prefetch_watch.h"
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
    // A crashed member keeps its partitions until its session times out, and its restart waits
    // that long for them: 10 s (Kafka's default before 3.0) rather than 45 s, unless the user
    // chose otherwise. These services do not pause for garbage collection, so a 3 s heartbeat
    // does not miss.
    if (!options_.client.properties.contains("session.timeout.ms")) {
      std::string errstr;
      (*conf)->set("session.timeout.ms", "10000", errstr);
      if (!options_.client.properties.contains("heartbeat.interval.ms")) {
        (*conf)->set("heartbeat.interval.ms", "3000", errstr);
      }
    }
    if (auto status =
            detail::set_callback(**conf, "rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this));
        !status) {
      return status;
    }
    prefetch_.emplace(conf_number(**conf, "queued.min.messages"),
                      conf_number(**conf, "queued.max.messages.kbytes") * 1024);
    std::string errstr;
    consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), errstr));
    if (!consumer_) return base::fail(base::ErrorCode::kInvalidInput, "kafka consumer: " + errstr);
    queue_ = rd_kafka_queue_get_consumer(consumer_->c_ptr());
    return {};
  }

  ~KafkaConsumer() override {
    close();
    if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
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
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return to_record(message);
    if (auto error = consume_error(message)) return std::unexpected(std::move(*error));
    return std::nullopt;
  }

  base::Status poll_batch(std::vector<Record>& out, std::size_t max,
                          milliseconds timeout) override {
    out.clear();
    if (max == 0) return {};
    if (messages_.size() < max) messages_.resize(max);
    in_batch_ = true;
    // librdkafka's batch call waits until `max` messages came or the timeout passed, however many
    // are queued: a stream's last records (and any that arrive below `max` at a time) were held
    // back by up to the whole timeout. What is queued is taken at once; with nothing queued, the
    // wait is for the first message only.
    ssize_t count = rd_kafka_consume_batch_queue(queue_, 0, messages_.data(), max);
    if (count == 0 && timeout > milliseconds::zero()) {
      count = rd_kafka_consume_batch_queue(queue_, static_cast<int>(timeout.count()),
                                           messages_.data(), 1);
      if (count == 1 && max > 1) {
        const ssize_t more = rd_kafka_consume_batch_queue(queue_, 0, messages_.data() + 1, max - 1);
        if (more > 0) count += more;
      }
    }
    in_batch_ = false;
    if (count < 0) {
      return std::unexpected(detail::translate(
          static_cast<RdKafka::ErrorCode>(rd_kafka_last_error()), "consume_batch"));
    }
    std::optional<base::Error> first_error;
    std::size_t taken_bytes = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
      rd_kafka_message_t* message = messages_[i];
      taken_bytes += message->len + message->key_len;
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        auto error = consume_error(message);
        // A fatal error outranks whatever came before it.
        if (error && (!first_error || error->code() == base::ErrorCode::kFailedPrecondition)) {
          first_error = std::move(error);
        }
        continue;
      }
      if ((!left_out_.empty() || !deferred_seeks_.empty()) && leaves_out(message)) {
        rd_kafka_message_destroy(message);
        continue;
      }
      out.push_back(to_record(message));
    }
    left_out_.clear();
    if (!deferred_seeks_.empty()) apply_deferred_seeks();
    if (count > 0) {
      const std::size_t queued = rd_kafka_queue_length(queue_);
      if (prefetch_->after_poll(queued, static_cast<std::size_t>(count), taken_bytes)) {
        wake_fetchers(queued);
      }
    }
    if (first_error) return std::unexpected(std::move(*first_error));
    return {};
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
    if (in_batch_) {
      // From a rebalance callback inside poll_batch(): librdkafka's batch call may already
      // hold records of this partition from before the seek, so the seek waits until the call
      // returns and those records are left out.
      deferred_seeks_.push_back({position, timeout});
      return {};
    }
    const std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(position.topic, position.partition, position.offset));
    const RdKafka::ErrorCode err = consumer_->seek(*tp, static_cast<int>(timeout.count()));
    if (err == RdKafka::ERR__STATE) {
      // A partition assigned a moment ago whose fetcher has not started yet: librdkafka answers
      // __STATE, and the same seek works once it has. Worth a retry, not a broken consumer
      // (make test saw the evaluator stop on it right after its assignment).
      return base::fail(base::ErrorCode::kUnavailable,
                        "seek: " + RdKafka::err2str(err) + " (partition not fetching yet)");
    }
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

  base::Result<std::vector<Watermarks>> watermarks(std::span<const TopicPartition> parts,
                                                   milliseconds timeout) override {
    std::vector<Watermarks> out;
    out.reserve(parts.size());
    for (const auto& p : parts) {
      Watermarks entry{p, 0, 0};
      // A ListOffsets request; librdkafka asks with the consumer's isolation level, so a
      // read_committed consumer is answered the last stable offset.
      const RdKafka::ErrorCode err = consumer_->query_watermark_offsets(
          p.topic, p.partition, &entry.low, &entry.high, static_cast<int>(timeout.count()));
      if (err != RdKafka::ERR_NO_ERROR) {
        return std::unexpected(detail::translate(err, "query_watermark_offsets"));
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

  std::vector<std::optional<std::int64_t>> positions_of(
      std::span<const TopicPartition> parts) override {
    detail::PartitionList list(detail::to_rdkafka(parts));
    std::vector<std::optional<std::int64_t>> out(parts.size());
    if (consumer_->position(list.get()) != RdKafka::ERR_NO_ERROR) return out;
    for (std::size_t i = 0; i < parts.size() && i < list.get().size(); ++i) {
      const std::int64_t offset = list.get()[i]->offset();
      if (offset >= 0) out[i] = offset;
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
      if (in_batch_) {
        // Revoked and assigned again within one batch call: its records gathered before the
        // revocation are stale (librdkafka drops them by version), those after are current.
        std::erase_if(left_out_, [&](const TopicPartition& left) {
          return std::any_of(partitions.begin(), partitions.end(), [&](const auto* p) {
            return p->partition() == left.partition && p->topic() == left.topic;
          });
        });
      }
      if (cooperative) {
        report(consumer->incremental_assign(partitions), "incremental_assign");
      } else {
        report_code(consumer->assign(partitions), "assign");
      }
      return;
    }
    // Revocation: let the service finish (commit) while it still owns the partitions.
    if (in_batch_) {
      // librdkafka drops the records it gathered for them in this batch call; leaving them out
      // here as well costs nothing and does not depend on that.
      for (const auto* p : partitions) left_out_.push_back({p->topic(), p->partition()});
    }
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
  struct DeferredSeek {
    TopicPartitionOffset position;
    milliseconds timeout;
  };

  // Translates an error delivered as a message and destroys the message; nullopt for the
  // events that are not errors (end of partition, timeout).
  std::optional<base::Error> consume_error(rd_kafka_message_t* message) {
    const auto err = static_cast<RdKafka::ErrorCode>(message->err);
    std::string detail = rd_kafka_message_errstr(message);
    rd_kafka_message_destroy(message);
    if (err == RdKafka::ERR__PARTITION_EOF || err == RdKafka::ERR__TIMED_OUT) return std::nullopt;
    base::Error error = detail::translate(err, "consume: " + detail);
    if (err == RdKafka::ERR__FATAL || events_.fatal()) {
      events_.mark_fatal();
      return base::Error(base::ErrorCode::kFailedPrecondition, error.message());
    }
    return error;
  }

  static std::size_t conf_number(const RdKafka::Conf& conf, const std::string& name) {
    std::string value;
    if (conf.get(name, value) != RdKafka::Conf::CONF_OK) return 0;
    return static_cast<std::size_t>(std::strtoull(value.c_str(), nullptr, 10));
  }

  // librdkafka 2.0 fetches again, after its queue reached a limit, only once its broker thread
  // wakes up (PrefetchWatch): an operation queued for that thread wakes it. A ListOffsets request
  // for the assigned partitions is one for each partition's leader, whose thread fetches it, with
  // no side effect on the consumer (a resume of a partition that is not paused would bump its
  // version and drop what was prefetched, librdkafka #4637). It waits for the answers, a round
  // trip, about once per half a queue read; 200 ms at most (the request, once queued, has woken
  // the thread: the answer itself is not needed).
  void wake_fetchers(std::size_t queued) {
    options_.client.logger->debug("kafka fetcher woken", {{"queued_records", queued}});
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_assignment(consumer_->c_ptr(), &parts) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    for (int i = 0; i < parts->cnt; ++i) parts->elems[i].offset = RD_KAFKA_OFFSET_END;
    if (parts->cnt > 0) (void)rd_kafka_offsets_for_times(consumer_->c_ptr(), parts, 200);
    rd_kafka_topic_partition_list_destroy(parts);
  }

  bool leaves_out(const rd_kafka_message_t* message) const {
    const std::string_view topic = rd_kafka_topic_name(message->rkt);
    return std::any_of(left_out_.begin(), left_out_.end(),
                       [&](const TopicPartition& left) {
                         return left.partition == message->partition && left.topic == topic;
                       }) ||
           std::any_of(deferred_seeks_.begin(), deferred_seeks_.end(), [&](const DeferredSeek& s) {
             return s.position.partition == message->partition && s.position.topic == topic;
           });
  }

  void apply_deferred_seeks() {
    std::vector<DeferredSeek> seeks;
    seeks.swap(deferred_seeks_);
    for (const DeferredSeek& s : seeks) {
      if (auto status = seek(s.position, s.timeout); !status) {
        options_.client.logger->warn(
            "kafka seek after rebalance failed",
            {{"partition", s.position.partition}, {"detail", status.error().message()}});
      }
    }
  }

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
  // The consumer queue poll_batch() reads, and its reused message array.
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_message_t*> messages_;
  // Inside poll_batch(): partitions whose gathered records must be left out, and seeks made
  // from rebalance callbacks, applied when the call returns.
  bool in_batch_ = false;
  std::vector<TopicPartition> left_out_;
  std::vector<DeferredSeek> deferred_seeks_;
  // poll_batch(): when to wake librdkafka's fetcher after its queue filled.
  std::optional<PrefetchWatch> prefetch_;
  bool closed_ = false;
};

}  // namespace

base::Result<std::vector<Consumer::Watermarks>> Consumer::watermarks(
    std::span<const TopicPartition>, milliseconds) {
  return base::fail(base::ErrorCode::kFailedPrecondition, "watermarks: not supported");
}

std::vector<std::optional<std::int64_t>> Consumer::positions_of(
    std::span<const TopicPartition> partitions) {
  return std::vector<std::optional<std::int64_t>>(partitions.size());
}

base::Status Consumer::poll_batch(std::vector<Record>& out, std::size_t max, milliseconds timeout) {
  out.clear();
  while (out.size() < max) {
    auto polled = poll(out.empty() ? timeout : milliseconds{0});
    if (!polled) return std::unexpected(polled.error());
    if (!*polled) break;
    out.push_back(std::move(**polled));
  }
  return {};
}

base::Result<std::unique_ptr<Consumer>> make_consumer(const ConsumerOptions& options) {
  auto consumer = std::make_unique<KafkaConsumer>(options);
  if (auto status = consumer->init(); !status) return std::unexpected(status.error());
  return consumer;
}

}  // namespace iw::kafka
