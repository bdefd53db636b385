#include "iw/stage/publisher.h"

#include "iw/base/check.h"
#include "iw/trace/trace_context.h"

namespace iw::stage {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

Publisher::Publisher(runtime::Context& ctx, PublisherOptions options,
                     kafka::DeliveryHandler& handler, kafka::ClientFactory& factory)
    : ctx_(ctx),
      options_(std::move(options)),
      handler_(handler),
      factory_(factory),
      ids_(std::make_unique<trace::IdGenerator>()) {}

Publisher::~Publisher() { span_.end(ctx_.clock); }

RecordSpan& Publisher::open_span() {
  if (span_.is_open()) span_.end(ctx_.clock);
  span_.open_root(ctx_.tracing, *ids_, options_.span_name, otlp::SpanKind::kProducer, ctx_.clock);
  return span_;
}

base::Status Publisher::start() {
  kafka::ClientOptions client = options_.client;
  for (const auto& [name, value] : options_.producer_properties) {
    client.properties.try_emplace(name, value);
  }
  client.properties["message.timeout.ms"] = std::to_string(options_.delivery_timeout.count());
  client.properties.try_emplace("message.max.bytes", std::string(kClientMessageMaxBytes));
  if (!options_.create_topics.empty()) {
    auto admin = factory_.admin(client);
    if (!admin) return std::unexpected(admin.error());
    if (auto status = (*admin)->create_topics(with_size_limit(options_.create_topics), 30s);
        !status) {
      ctx_.readiness.set_not_ready("kafka", "cannot create topics");
      return std::unexpected(status.error().with_context("creating topics"));
    }
  }
  auto producer = factory_.producer({.client = client}, *this);
  if (!producer) return std::unexpected(producer.error());
  producer_ = std::move(*producer);
  // Nothing is produced before the client knows both topics (Producer::wait_for_topics).
  const std::vector<std::string> topics = {options_.topic, options_.dlq_topic};
  if (auto status = producer_->wait_for_topics(topics, 10s); !status) {
    ctx_.logger.warn("producing before the topics are known",
                     {{"detail", status.error().message()}});
  }
  ctx_.readiness.set_ready("kafka");
  return {};
}

base::Status Publisher::write(const kafka::OutgoingRecord& record, std::uint64_t correlation) {
  IW_CHECK(producer_ != nullptr, "Publisher::write() before start()");
  if (span_.recording()) {
    span_.set("messaging.system", "kafka");
    span_.set("messaging.destination.name", record.topic);
  }
  if (auto status = producer_->produce(record, correlation); !status) {
    span_.failed(status.error().message());
    // Refused outright: the caller dead-letters the record, under this span.
    if (status.error().code() != base::ErrorCode::kInvalidInput) span_.end(ctx_.clock);
    return status;
  }
  ++written_;
  if (auto recorded = span_.take())
    spans_in_flight_.insert_or_assign(correlation, std::move(*recorded));
  return {};
}

base::Result<std::string_view> Publisher::dead_letter(
    const DeadLetterContent& content, std::string_view reason, std::string_view error,
    const std::optional<kafka::FilePosition>& position, std::uint64_t correlation,
    const std::optional<kafka::Oversized>& oversized) {
  if (!span_.is_open() && content.traceparent.empty()) open_span();
  std::optional<trace::TraceParent> own = span_.context();
  if (!own) own = trace::TraceParent::child_of_or_start(content.traceparent, *ids_);
  const trace::TraceParent traceparent = *own;
  const std::size_t head_bytes = options_.dead_letter_head_bytes;
  // A record that never was in Kafka has no partition or offset: -1, and its position in the
  // file travels instead.
  auto write_letter = [&](std::string_view value, std::string_view why, std::string_view text,
                          const std::optional<kafka::Oversized>& whole) {
    const kafka::DeadLetterHeaders headers({.reason = why,
                                            .error = text,
                                            .stage = options_.name,
                                            .topic = options_.topic,
                                            .partition = -1,
                                            .offset = -1,
                                            .at = ctx_.clock.now(),
                                            .file = position,
                                            .oversized = whole,
                                            .execution_id = content.execution_id,
                                            .traceparent = traceparent.text()});
    span_.dead_lettered(why, text);
    std::optional<std::string_view> key = content.key;
    if (whole && key && key->size() > head_bytes) key = key->substr(0, head_bytes);
    return write(
        {.topic = options_.dlq_topic, .key = key, .value = value, .headers = headers.view()},
        correlation);
  };
  if (oversized) {
    auto status = write_letter(content.value.substr(0, head_bytes), reason, error, oversized);
    if (!status) return std::unexpected(status.error());
    return reason;
  }
  auto status = write_letter(content.value, reason, error, std::nullopt);
  if (status) return reason;
  if (status.error().code() != base::ErrorCode::kInvalidInput) {
    return std::unexpected(status.error());
  }
  // Kafka will never take the whole record as a dead letter: its head, size and hash instead.
  const kafka::OversizedValue whole = kafka::oversized_value(content.value, head_bytes);
  const std::string text = std::string(reason) + ": " + std::string(error) +
                           "; the whole record was refused as a dead letter (" +
                           status.error().message() + ")";
  auto fallback = write_letter(whole.head, kafka::kOversizedRecord, text, whole.headers());
  if (!fallback) return std::unexpected(fallback.error());
  return kafka::kOversizedRecord;
}

void Publisher::serve(milliseconds timeout) {
  if (!producer_) return;
  producer_->poll(timeout);
  if (options_.max_in_flight == 0) return;
  while (outstanding() >= options_.max_in_flight) producer_->poll(100ms);
}

void Publisher::drain() {
  if (!producer_) return;
  if (producer_->fatal()) {
    ctx_.logger.warn("producer failed, purging", {{"in_flight", producer_->in_flight()}});
  } else if (auto status = producer_->flush(options_.delivery_timeout + options_.drain_margin);
             status) {
    return;
  } else {
    ctx_.logger.warn("flush timed out, purging", {{"in_flight", producer_->in_flight()}});
  }
  producer_->purge();
  for (int i = 0; i < 100 && producer_->in_flight() > 0; ++i) producer_->poll(100ms);
}

bool Publisher::fatal() const { return producer_ != nullptr && producer_->fatal(); }

void Publisher::on_delivery(const kafka::DeliveryReport& report) {
  ++reported_;
  if (!spans_in_flight_.empty()) {
    if (auto it = spans_in_flight_.find(report.correlation); it != spans_in_flight_.end()) {
      otlp::Span span = std::move(it->second);
      spans_in_flight_.erase(it);
      if (report.partition >= 0) {
        set_attribute(span, "messaging.destination.partition.id", std::to_string(report.partition));
      }
      if (report.offset >= 0) set_attribute(span, "messaging.kafka.offset", report.offset);
      if (report.error) {
        span.status = otlp::SpanStatus::kError;
        span.status_message = report.error->message();
      }
      if (otlp::SpanSink* sink = ctx_.tracing.sink()) {
        end_span(std::move(span), *sink, ctx_.clock.now());
      }
    }
  }
  handler_.on_delivery(report);
}

}  // namespace iw::stage
