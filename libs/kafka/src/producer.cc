#include "iw/kafka/producer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <thread>

#include "consumer_impl.h"
#include "librdkafka_glue.h"

namespace iw::kafka {
namespace {

using std::chrono::milliseconds;

class KafkaProducer final : public Producer, public RdKafka::DeliveryReportCb {
 public:
  KafkaProducer(const ProducerOptions& options, DeliveryHandler& handler)
      : options_(options), handler_(handler), events_(options.client, "producer") {}
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;
  // Topic handles go before the client they belong to.
  ~KafkaProducer() override {
    for (const auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  }

  base::Status init(const ProducerOptions& options) {
    // Every delivery is reported, transactional or not (delivery.report.only.error is managed,
    // off): at least once a report is what lets an offset move; exactly once, librdkafka's flush
    // inside commit_transaction waits for them. Without success reports its flush polls in 10 ms
    // steps for reports that never come, and a transaction's commit waited about twice as long
    // (bench/results/2026-12-06-exactly-once-commit.md).
    auto conf = detail::build_conf(
        options.client,
        {{"enable.idempotence", "true"}, {"acks", "all"}, {"delivery.report.only.error", "false"}},
        events_);
    if (!conf) return std::unexpected(conf.error());
    std::string errstr;
    if (options.transactional_id && (*conf)->set("transactional.id", *options.transactional_id,
                                                 errstr) != RdKafka::Conf::CONF_OK) {
      return base::fail(base::ErrorCode::kInvalidInput, "transactional.id: " + errstr);
    }
    if (auto status =
            detail::set_callback(**conf, "dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this));
        !status) {
      return status;
    }
    producer_.reset(RdKafka::Producer::create(conf->get(), errstr));
    if (!producer_) return base::fail(base::ErrorCode::kInvalidInput, "kafka producer: " + errstr);
    return {};
  }

  base::Status produce(const OutgoingRecord& record, std::uint64_t correlation) override {
    if (fatal()) return base::fail(base::ErrorCode::kFailedPrecondition, fatal_reason());
    auto topic = topic_handle(record.topic);
    if (!topic) return std::unexpected(topic.error());
    const std::int64_t timestamp_ms =
        record.timestamp
            ? std::chrono::duration_cast<milliseconds>(record.timestamp->time_since_epoch()).count()
            : 0;
    // The RD_KAFKA_V_* macros cast their arguments without parentheses; keep them plain.
    const void* key_data = record.key ? record.key->data() : nullptr;
    const std::size_t key_size = record.key ? record.key->size() : 0;
    // Read the clock only once the queue is full: the common case needs no deadline.
    std::optional<std::chrono::steady_clock::time_point> deadline;
    while (true) {
      // The C API: the C++ one would copy every header name into a std::string per record.
      rd_kafka_headers_t* headers = nullptr;
      if (!record.headers.empty()) {
        headers = rd_kafka_headers_new(record.headers.size());
        for (const HeaderView& h : record.headers) {
          rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                              h.value.data(), static_cast<ssize_t>(h.value.size()));
        }
      }
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          handle(), RD_KAFKA_V_RKT(*topic),
          RD_KAFKA_V_PARTITION(record.partition.value_or(RD_KAFKA_PARTITION_UA)),
          // F_COPY: librdkafka copies the bytes, so the caller's views may die on return.
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
          RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(correlation)),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++in_flight_;
        return {};
      }
      // On failure the headers were not taken over.
      if (headers != nullptr) rd_kafka_headers_destroy(headers);
      const auto code = static_cast<RdKafka::ErrorCode>(err);
      if (code == RdKafka::ERR__FATAL) {
        return std::unexpected(with_fatal_reason(
            detail::translate(code, "produce to " + std::string(rd_kafka_topic_name(*topic)))));
      }
      if (code != RdKafka::ERR__QUEUE_FULL) {
        return std::unexpected(
            detail::translate(code, "produce to " + std::string(rd_kafka_topic_name(*topic))));
      }
      const auto now = std::chrono::steady_clock::now();
      if (!deadline) deadline = now + options_.queue_full_timeout;
      if (now >= *deadline) {
        return base::fail(base::ErrorCode::kUnavailable,
                          "produce: local queue stayed full; is the broker reachable?");
      }
      // The queue drains only as delivery reports are served.
      producer_->poll(100);
    }
  }

  int poll(milliseconds timeout) override {
    return producer_->poll(static_cast<int>(timeout.count()));
  }

  base::Status flush(milliseconds timeout) override {
    const RdKafka::ErrorCode err = producer_->flush(static_cast<int>(timeout.count()));
    if (err == RdKafka::ERR_NO_ERROR) return {};
    return base::fail(detail::classify(err),
                      "flush: " + std::to_string(in_flight_) +
                          " records still undelivered: " + RdKafka::err2str(err));
  }

  std::size_t in_flight() const override { return in_flight_; }

  void purge() override {
    rd_kafka_purge(handle(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }

  // Asks librdkafka, not only the error events: those are served by poll(), so a call that
  // meets the fatal error first would otherwise see a producer that still looks healthy.
  bool fatal() const override {
    return events_.fatal() ||
           rd_kafka_fatal_error(handle(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  base::Status init_transactions(milliseconds timeout) override {
    return transaction_status(producer_->init_transactions(static_cast<int>(timeout.count())),
                              "init_transactions");
  }
  base::Status begin_transaction() override {
    return transaction_status(producer_->begin_transaction(), "begin_transaction");
  }
  base::Status send_offsets_to_transaction(std::span<const TopicPartitionOffset> offsets,
                                           const GroupMetadata& group,
                                           milliseconds timeout) override {
    const auto* metadata = dynamic_cast<const detail::KafkaGroupMetadata*>(&group);
    if (metadata == nullptr) {
      return base::fail(base::ErrorCode::kInternal,
                        "send_offsets_to_transaction: group metadata is not from a KafkaConsumer");
    }
    detail::PartitionList list(detail::to_rdkafka(offsets));
    return transaction_status(producer_->send_offsets_to_transaction(
                                  list.get(), metadata->get(), static_cast<int>(timeout.count())),
                              "send_offsets_to_transaction");
  }
  // A commit's flush serves every record's report, so nothing is left in flight after it.
  base::Status commit_transaction(milliseconds timeout) override {
    return transaction_status(producer_->commit_transaction(static_cast<int>(timeout.count())),
                              "commit_transaction");
  }
  // Those purged by an abort are reported failed later, counted down only to zero.
  base::Status abort_transaction(milliseconds timeout) override {
    auto status = transaction_status(
        producer_->abort_transaction(static_cast<int>(timeout.count())), "abort_transaction");
    if (status) in_flight_ = 0;
    return status;
  }

  void dr_cb(RdKafka::Message& message) override {
    const auto* raw = static_cast<const rd_kafka_message_t*>(message.c_ptr());
    DeliveryReport report;
    // The C accessor returns the topic's interned name; the C++ one would copy it per record.
    report.topic = raw->rkt ? rd_kafka_topic_name(raw->rkt) : std::string_view();
    report.partition = message.partition();
    report.offset = message.offset();
    report.correlation = reinterpret_cast<std::uint64_t>(message.msg_opaque());
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      report.error = detail::translate(message.err(), "delivery");
      report.possibly_persisted = rd_kafka_message_status(raw) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
    }
    if (in_flight_ > 0) --in_flight_;
    handler_.on_delivery(report);
  }

 private:
  // A topic handle per topic produced to, kept for the producer's life: producing by name
  // would look the topic up under librdkafka's client-wide write lock for every record, which
  // its broker threads then wait on. Services produce to one or two topics.
  base::Result<rd_kafka_topic_t*> topic_handle(std::string_view name) {
    for (const auto& [known, rkt] : topics_) {
      if (known == name) return rkt;
    }
    const std::string owned(name);
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(handle(), owned.c_str(), nullptr);
    if (rkt == nullptr) {
      return std::unexpected(detail::translate(
          static_cast<RdKafka::ErrorCode>(rd_kafka_last_error()), "topic " + owned));
    }
    topics_.emplace_back(owned, rkt);
    return rkt;
  }

  // A producer that hit a fatal error answers later calls with librdkafka's generic "Local:
  // Fatal error"; what the caller must log is why (a fence: another instance took the
  // transactional id over).
  base::Error with_fatal_reason(base::Error error) const {
    const std::string reason = fatal_reason();
    if (error.message().find(reason) != std::string::npos) return error;
    return base::Error(base::ErrorCode::kFailedPrecondition, error.message() + ": " + reason);
  }

  base::Status transaction_status(RdKafka::Error* error, std::string_view context) const {
    auto status = detail::translate_and_free(error, context);
    if (status || !fatal()) return status;
    return std::unexpected(with_fatal_reason(status.error()));
  }

  std::string fatal_reason() const override {
    std::string reason;
    const RdKafka::ErrorCode code = producer_->fatal_error(reason);
    return "producer hit a fatal error (" + std::string(RdKafka::err2str(code)) + "): " + reason;
  }

  base::Status wait_for_topics(std::span<const std::string> topics,
                               std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const std::string& name : topics) {
      auto rkt = topic_handle(name);
      if (!rkt) return std::unexpected(rkt.error());
      while (!known_with_leaders(*rkt, deadline)) {
        if (std::chrono::steady_clock::now() >= deadline) {
          return base::fail(base::ErrorCode::kUnavailable,
                            "topic " + name + ": no leader known for every partition after " +
                                std::to_string(timeout.count()) + " ms");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
      }
    }
    return {};
  }

  // One metadata request for `rkt`; true when it names the topic with a leader per partition.
  bool known_with_leaders(rd_kafka_topic_t* rkt, std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(
        handle(), 0, rkt, &metadata, static_cast<int>(std::max<std::int64_t>(left.count(), 1)));
    bool ready = err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata != nullptr &&
                 metadata->topic_cnt == 1 &&
                 metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                 metadata->topics[0].partition_cnt > 0;
    if (ready) {
      for (int i = 0; i < metadata->topics[0].partition_cnt; ++i) {
        if (metadata->topics[0].partitions[i].leader < 0) ready = false;
      }
    }
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    return ready;
  }

  rd_kafka_t* handle() const { return static_cast<rd_kafka_t*>(producer_->c_ptr()); }

  ProducerOptions options_;
  std::vector<std::pair<std::string, rd_kafka_topic_t*>> topics_;
  // Counted here rather than read from outq_len(), which also counts librdkafka's own
  // requests. Delivery reports run inside poll()/flush() on the producing thread, so no
  // synchronisation is needed.
  std::size_t in_flight_ = 0;
  DeliveryHandler& handler_;
  detail::ClientEvents events_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace

base::Result<std::unique_ptr<Producer>> make_producer(const ProducerOptions& options,
                                                      DeliveryHandler& handler) {
  auto producer = std::make_unique<KafkaProducer>(options, handler);
  if (auto status = producer->init(options); !status) return std::unexpected(status.error());
  return producer;
}

}  // namespace iw::kafka
