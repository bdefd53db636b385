#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "iw/base/error.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/client_factory.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/producer.h"
#include "iw/runtime/service.h"
#include "iw/stage/stage.h"

namespace iw::trace {
class IdGenerator;
}  // namespace iw::trace

namespace iw::stage {

struct PublisherOptions {
  /// dlq.stage of its dead letters: "producer".
  std::string name;
  /// dlq.topic of its dead letters: the topic their records were meant for.
  std::string topic;
  std::string dlq_topic;
  /// Created when missing before the producer is made. Empty: none.
  std::vector<kafka::TopicSpec> create_topics;
  /// The common kafka.* settings (runtime::kafka_client_options).
  kafka::ClientOptions client;
  /// Added to the producer's librdkafka properties unless client has them: the user's
  /// kafka.properties win.
  std::map<std::string, std::string> producer_properties;
  /// How long Kafka may take to accept a record (message.timeout.ms, whatever kafka.properties
  /// says); drain() waits this plus drain_margin before it gives up on the rest.
  std::chrono::milliseconds delivery_timeout{120'000};
  std::chrono::milliseconds drain_margin{10'000};
  /// serve() waits for reports while this many records are outstanding. 0: no bound.
  std::size_t max_in_flight = 0;
  /// How much of an oversized record its dead letter keeps.
  std::size_t dead_letter_head_bytes = kafka::kDefaultDeadLetterHeadBytes;
  /// The name of each record's span (docs/TRACING.md).
  std::string span_name = "publish";
};

/// The output side of a stage whose input is not Kafka (ingest-producer reads a file): it owns
/// the producer, creates the topics, writes records and dead letters, hands every delivery
/// report to the caller's handler, and drains so that every record written gets exactly one
/// report. The caller makes no Kafka call of its own. docs/ARCHITECTURE.md, "The stage layer".
class Publisher final : private kafka::DeliveryHandler {
 public:
  /// `handler` hears every delivery report, from serve() and drain(); it and `factory` must
  /// outlive the publisher.
  Publisher(runtime::Context& ctx, PublisherOptions options, kafka::DeliveryHandler& handler,
            kafka::ClientFactory& factory = kafka::librdkafka_clients());
  ~Publisher() override;
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  /// Creates the topics, then the producer; readiness "kafka" says which went wrong, or ready.
  base::Status start();
  /// Whether start() made the producer.
  [[nodiscard]] bool started() const { return producer_ != nullptr; }

  /// Opens the span of the next record (docs/TRACING.md): a new trace whose root span (kind
  /// PRODUCER) is sampled by the tracing's Sampler, the decision in the flags of its
  /// traceparent(), which the record carries. The next write() or dead_letter() takes it: it
  /// ends at the record's delivery report (status ERROR when not delivered or not queued); a
  /// record Kafka refused outright keeps it open for its dead letter. A span still open when the
  /// next opens is ended then.
  RecordSpan& open_span();

  /// Queues a record; `correlation` comes back in its report. The producer's error when it was
  /// not queued (no report will come): kInvalidInput for a record Kafka refuses outright,
  /// kUnavailable when the queue stayed full, kFailedPrecondition once the producer is fatal.
  base::Status write(const kafka::OutgoingRecord& record, std::uint64_t correlation);

  /// Queues `content` for the dead-letter topic with the dlq.* headers (partition and offset
  /// -1, `position` as dlq.file, dlq.line and dlq.byte_offset). Its traceparent is the open
  /// span's (one is opened when none is and the content carries no traceparent), marked with
  /// the reason and status ERROR; otherwise a child of the content's. With `oversized`,
  /// content.value is the record's head (cut to dead_letter_head_bytes here) and the headers name
  /// the whole. When Kafka refuses the whole record as too large, its head, size and hash go
  /// instead, as oversized_record. Returns the reason written; errors as write().
  base::Result<std::string_view> dead_letter(
      const DeadLetterContent& content, std::string_view reason, std::string_view error,
      const std::optional<kafka::FilePosition>& position, std::uint64_t correlation,
      const std::optional<kafka::Oversized>& oversized = std::nullopt);

  /// Serves the reports ready, waiting up to `timeout` for one; then, while max_in_flight
  /// records are outstanding, waits for more. No-op before start().
  void serve(std::chrono::milliseconds timeout);

  /// Waits for every outstanding report up to delivery_timeout + drain_margin (at once when the
  /// producer is fatal), then gives up on the rest: each is reported as failed.
  void drain();

  /// Records queued and not yet reported.
  [[nodiscard]] std::uint64_t outstanding() const { return written_ - reported_; }
  /// True once the producer hit a fatal error: nothing more will be delivered.
  [[nodiscard]] bool fatal() const;

 private:
  void on_delivery(const kafka::DeliveryReport& report) override;

  runtime::Context& ctx_;
  PublisherOptions options_;
  kafka::DeliveryHandler& handler_;
  kafka::ClientFactory& factory_;
  std::unique_ptr<trace::IdGenerator> ids_;
  RecordSpan span_;
  // Recorded spans of records queued, by correlation, until their report.
  std::unordered_map<std::uint64_t, otlp::Span> spans_in_flight_;
  std::uint64_t written_ = 0;
  std::uint64_t reported_ = 0;
  std::unique_ptr<kafka::Producer> producer_;
};

}  // namespace iw::stage
