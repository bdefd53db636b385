#include "iw/stage/stage.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "iw/base/check.h"
#include "iw/kafka/dead_letter.h"
#include "iw/kafka/offset_tracker.h"
#include "iw/kafka/stage_clients.h"
#include "iw/log/logger.h"
#include "iw/metrics/record_flow.h"
#include "iw/stage/consumer_lag.h"
#include "iw/trace/trace_context.h"

namespace iw::stage {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// While the processor takes no input, the consumer is still polled this often: rebalances are
// served in time (max.poll.interval.ms is 5 minutes by default); each such poll may take records.
constexpr std::chrono::seconds kLongestHold{5};
// A transaction's commit is tried this often when Kafka answers "retriable".
constexpr int kCommitAttempts = 5;

std::vector<std::string> all_reasons(const StageOptions& options) {
  std::vector<std::string> reasons = options.dead_letter_reasons;
  for (const std::string_view own :
       {kKafkaRejected, kProcessingFailed, kDeliveryFailed, kOversizedRecord}) {
    if (std::ranges::find(reasons, own) == reasons.end()) reasons.emplace_back(own);
  }
  return reasons;
}

// What a record adds to its transaction's size: its key, value and headers.
std::size_t record_bytes(const kafka::OutgoingRecord& record) {
  std::size_t bytes = record.value.size() + (record.key ? record.key->size() : 0);
  for (const kafka::HeaderView& header : record.headers) {
    bytes += header.key.size() + header.value.size();
  }
  return bytes;
}

kafka::ClientOptions with_properties(kafka::ClientOptions client,
                                     const std::map<std::string, std::string>& extra) {
  for (const auto& [name, value] : extra) client.properties.try_emplace(name, value);
  return client;
}

}  // namespace

std::vector<kafka::TopicSpec> with_size_limit(std::vector<kafka::TopicSpec> topics) {
  for (kafka::TopicSpec& topic : topics) {
    topic.config.try_emplace("max.message.bytes", std::string(kTopicMaxMessageBytes));
  }
  return topics;
}

DeadLetterContent content_of(const kafka::Record& record) {
  return {.value = record.value(),
          .key = record.key(),
          .execution_id = record.header("execution_id").value_or(""),
          .traceparent = record.header("traceparent").value_or(""),
          .arrived = record.timestamp()};
}

std::optional<std::uint64_t> pack(const InputRef& ref) {
  if (ref.topic < 0 || ref.topic >= (1 << 8) || ref.partition < 0 || ref.partition >= (1 << 16) ||
      ref.offset < 0 || ref.offset >= (std::int64_t{1} << 40)) {
    return std::nullopt;
  }
  return (static_cast<std::uint64_t>(ref.topic) << 56) |
         (static_cast<std::uint64_t>(ref.partition) << 40) | static_cast<std::uint64_t>(ref.offset);
}

InputRef unpack(std::uint64_t packed) {
  return {.topic = static_cast<std::int32_t>(packed >> 56),
          .partition = static_cast<std::int32_t>((packed >> 40) & 0xFFFF),
          .offset = static_cast<std::int64_t>(packed & ((std::uint64_t{1} << 40) - 1))};
}

class Stage::Impl final : public kafka::DeliveryHandler,
                          public kafka::RebalanceListener,
                          public Output,
                          public Input {
 public:
  Impl(runtime::Context& ctx, StageOptions options, Processor& processor,
       kafka::ClientFactory& factory)
      : ctx_(ctx),
        options_(std::move(options)),
        processor_(processor),
        reasons_(all_reasons(options_)),
        reason_views_(reasons_.begin(), reasons_.end()),
        flow_(ctx.metrics.registry(), options_.output_label, reason_views_),
        latency_(metrics::record_latency_histogram(ctx.metrics.registry())),
        transactions_(prometheus::BuildCounter()
                          .Name("ingestwatch_transactions_total")
                          .Help("Kafka transactions ended, by outcome (committed, aborted).")
                          .Register(ctx.metrics.registry())),
        committed_(transactions_.Add({{"outcome", "committed"}})),
        aborted_(transactions_.Add({{"outcome", "aborted"}})),
        lag_(ctx.metrics.registry(), options_.input_topics),
        problems_(ctx.logger, 20, 10s),
        clients_(factory) {
    IW_CHECK(!options_.input_topics.empty(), "a stage reads at least one topic");
    IW_CHECK(options_.input_topics.size() <= 256, "a stage reads at most 256 topics");
    staged_dead_letters_.assign(reasons_.size(), 0);
    partitions_.resize(options_.input_topics.size());
  }

  base::Status run() {
    if (auto status = connect(); !status) return status;
    processor_.started(*this);
    records_.reserve(options_.poll_batch);
    auto next_lag_update = ctx_.clock.monotonic_now();
    auto last_poll = ctx_.clock.monotonic_now();
    while (!ctx_.shutdown.requested()) {
      rewound_.clear();
      const auto mono = ctx_.clock.monotonic_now();
      if (!processor_.wants_input() && mono - last_poll < kLongestHold) {
        processor_.wait(std::min<milliseconds>(50ms, until_due()));
        if (auto status = tick(); !status) return status;
        if (auto status = settle(false); !status) return status;
        continue;
      }
      last_poll = mono;
      if (paused_) pause_new_partitions();
      // An open transaction commits on time even when no record comes.
      const milliseconds timeout =
          std::clamp(std::min(processor_.poll_timeout(), until_due()), 0ms, options_.poll_timeout);
      auto polled = clients_.consumer().poll_batch(records_, options_.poll_batch, timeout);
      if (!polled) {
        if (polled.error().code() == base::ErrorCode::kFailedPrecondition) {
          return std::unexpected(polled.error().with_context("consuming"));
        }
        problems_.warn("consume error", {{"detail", polled.error().message()}});
      }
      if (auto status = tick(); !status) return status;
      for (const kafka::Record& record : records_) {
        if (!rewound_.empty() && rewound_.contains(partition_of(record))) continue;
        if (auto status = take(record); !status) return status;
        if (transactional() && in_transaction_ && due()) {
          if (auto status = commit(); !status) return status;
        }
      }
      records_.clear();  // the librdkafka messages are freed here
      flow_.records_in.Increment(static_cast<double>(std::exchange(taken_, 0)));
      if (auto status = settle(false); !status) return status;
      if (ctx_.clock.monotonic_now() >= next_lag_update) {
        lag_.update(clients_.consumer(), ctx_.clock.now());
        next_lag_update = ctx_.clock.monotonic_now() + 1s;
      }
    }
    ctx_.logger.info("draining", {{"stage", options_.name}});
    auto drained = processor_.drain(*this, *this);
    if (held_span_.is_open()) held_span_.end(ctx_.clock);
    if (!drained) return drained;
    if (auto status = settle(true); !status) return status;
    clients_.close();
    if (delivery_failures_.size() > 0) {
      return base::fail(base::ErrorCode::kUnavailable,
                        "records not delivered at shutdown; the restart reads them again");
    }
    return {};
  }

  // --- kafka::DeliveryHandler ---

  void on_delivery(const kafka::DeliveryReport& report) override {
    const std::uint64_t correlation = report.correlation;
    std::optional<std::size_t> reason;
    if (!dead_letters_in_flight_.empty()) {  // the common case: no lookup
      if (const auto letter = dead_letters_in_flight_.find(correlation);
          letter != dead_letters_in_flight_.end()) {
        reason = letter->second;
        dead_letters_in_flight_.erase(letter);
      }
    }
    if (correlation == 0) return;  // a tick's write: its transaction or nothing tracks it
    const InputRef ref = unpack(correlation - 1);
    if (report.error) {
      // The broker refused it for good (larger than the topic takes): the same would be refused
      // again, so the record's next attempt goes straight to the next fallback.
      Refusal refusal = Refusal::kNone;
      if (report.error->code() == base::ErrorCode::kInvalidInput) {
        if (!reason) {
          refusal = Refusal::kOutput;
        } else if (*reason == reason_index(kOversizedRecord)) {
          refusal = Refusal::kHead;  // even the oversized dead letter: nothing smaller to send
        } else {
          refusal = Refusal::kDeadLetter;
        }
      }
      delivery_failures_.push_back({ref, report.error->message(), refusal});
      return;
    }
    if (transactional()) return;  // durable with its transaction
    if (reason) {
      flow_.dead_lettered(*reason).Increment();
    } else {
      ++delivered_;  // counted at the next settle, as the offsets move
    }
    finish(ref);
  }

  // --- kafka::RebalanceListener ---

  void on_assigned(std::vector<kafka::TopicPartitionOffset>& partitions) override {
    ctx_.logger.info("partitions assigned", {{"count", partitions.size()}});
    processor_.assigned(partitions);
  }

  // Still the owner: finish the work for these partitions so the next owner starts after it.
  void on_revoked(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.info("partitions revoked", {{"count", partitions.size()}});
    if (auto status = processor_.revoking(partitions, *this); !status) {
      ctx_.logger.error("could not settle before revocation",
                        {{"detail", status.error().message()}});
    }
    if (auto status = settle(true); !status) {
      ctx_.logger.error("could not commit before revocation",
                        {{"detail", status.error().message()}});
    }
    forget(partitions);
    processor_.revoked(partitions);
  }

  // Already taken away: their work will be redone by their new owner, so it must not be
  // committed here.
  void on_lost(const std::vector<kafka::TopicPartition>& partitions) override {
    ctx_.logger.warn("partitions lost", {{"count", partitions.size()}});
    if (transactional() && in_transaction_) abort_and_rewind("partitions lost");
    forget(partitions);
    processor_.lost(partitions);
  }

  // --- Output ---

  base::Status write(const kafka::OutgoingRecord& record) override {
    if (auto status = begin(); !status) return status;
    const std::uint64_t correlation = current_ ? correlation_of(*current_) : 0;
    auto status = clients_.producer().produce(record, correlation);
    if (!status) {
      if (status.error().code() == base::ErrorCode::kInvalidInput && current_ &&
          current_record_ != nullptr) {
        // Kafka will never take it (too large): the input record goes to the dead letters.
        return dead_letter(*current_, content_of(*current_record_), kKafkaRejected,
                           status.error().message());
      }
      return status;
    }
    if (transactional()) {
      ++staged_out_;
      transaction_bytes_ += record_bytes(record);
    } else if (current_) {
      outcome_ = Outcome::kWritten;
    }
    return {};
  }

  base::Status dead_letter(const InputRef& ref, const DeadLetterContent& content,
                           std::string_view reason, std::string_view error) override {
    if (auto status = begin(); !status) return status;
    auto status = produce_dead_letter(ref, content, reason, error, std::nullopt);
    if (status || status.error().code() != base::ErrorCode::kInvalidInput) return status;
    // Kafka will never take this dead letter (the record and its headers are larger than it
    // takes): the record's head, size and hash go instead.
    return dead_letter_oversized(ref, content,
                                 std::string(reason) + ": " + std::string(error) +
                                     "; the whole record was refused as a dead letter (" +
                                     status.error().message() + ")");
  }

  InputRef defer() override {
    IW_CHECK(!transactional(), "only a stage storing offsets defers a record's outcome");
    IW_CHECK(current_.has_value(), "defer() outside process()");
    outcome_ = Outcome::kDeferred;
    deferred_ = true;
    return *current_;
  }

  void complete(const InputRef& ref, base::TimePoint arrived) override {
    if (!owns(ref)) return;
    end_deferred_span(ref, nullptr);
    flow_.records_out.Increment();
    if (sampled()) latency_.Observe(seconds_since(arrived));
    finish(ref);
  }

  bool owns(const InputRef& ref) const override { return tracker_.tracks(partition_of(ref)); }

  const std::string& topic(const InputRef& ref) const override {
    return options_.input_topics[static_cast<std::size_t>(ref.topic)];
  }

  RecordSpan& span() override { return current_ ? span_ : held_span_; }

  void hold_span() override { hold_ = current_.has_value(); }

  // --- Input ---

  std::vector<kafka::TopicPartition> assignment() override {
    return clients_.consumer().assignment();
  }

  std::vector<kafka::Consumer::PartitionLag> lag() override { return clients_.consumer().lag(); }

  base::Result<std::vector<kafka::TopicPartitionOffset>> offsets_for_times(
      std::span<const kafka::TopicPartition> partitions, base::TimePoint time) override {
    return clients_.consumer().offsets_for_times(partitions, time, 30s);
  }

  base::Status seek(const kafka::TopicPartitionOffset& position) override {
    // The open transaction holds positions read before; it commits first, so the positions
    // of one transaction only move forward.
    if (transactional() && in_transaction_) {
      if (auto status = commit(); !status) return status;
    }
    const kafka::TopicPartition partition{position.topic, position.partition};
    if (!transactional()) tracker_.forget(partition);
    rewound_.insert(partition);
    if (auto status = clients_.consumer().seek(position, 10s); !status) {
      return std::unexpected(status.error().with_context("seek"));
    }
    return {};
  }

  void pause_input() override {
    if (paused_) return;
    paused_ = true;
    pause_new_partitions();
  }

  void resume_input() override {
    if (!paused_) return;
    paused_ = false;
    const auto assigned = clients_.consumer().assignment();
    std::vector<kafka::TopicPartition> resume;
    for (const auto& p : paused_partitions_) {
      if (std::ranges::find(assigned, p) != assigned.end()) resume.push_back(p);
    }
    if (auto status = clients_.consumer().resume(resume); !status) {
      problems_.warn("resume failed", {{"detail", status.error().message()}});
    }
    paused_partitions_.clear();
  }

  bool input_paused() const override { return paused_; }
  std::size_t paused_partitions() const override { return paused_partitions_.size(); }
  kafka::ClientFactory& factory() override { return clients_.factory(); }
  const kafka::ClientOptions& client_options() const override { return options_.client; }

 private:
  enum class Outcome { kNone, kWritten, kDeferred };
  // What Kafka refused for good (as too large) for a record: the next attempt skips it.
  // What Kafka refused as too large, in the order of the fallbacks (a later one wins).
  enum class Refusal { kNone, kOutput, kDeadLetter, kHead };

  struct Failure {
    int attempts = 0;
    std::string reason;
    std::string error;
    Refusal refusal = Refusal::kNone;
  };

  bool transactional() const { return options_.delivery == Delivery::kTransactional; }

  base::Status connect() {
    if (!options_.create_topics.empty()) {
      auto admin = clients_.factory().admin(options_.client);
      if (!admin) return std::unexpected(admin.error());
      if (auto status = (*admin)->create_topics(with_size_limit(options_.create_topics), 30s);
          !status) {
        return std::unexpected(status.error().with_context("creating topics"));
      }
    }
    kafka::ProducerOptions producer{
        .client = with_properties(with_properties(options_.client, options_.producer_properties),
                                  {{"message.max.bytes", std::string(kClientMessageMaxBytes)}})};
    if (transactional()) producer.transactional_id = options_.transactional_id;
    if (auto status = clients_.start_producer(producer, *this); !status) return status;
    if (transactional()) {
      // Also fences a previous instance with the same id and aborts what it left open, so
      // read_committed readers are not held back until its transaction times out.
      if (auto status = clients_.producer().init_transactions(60s); !status) {
        return std::unexpected(status.error().with_context("init_transactions"));
      }
    }
    kafka::ClientOptions consumer = with_properties(options_.client, options_.consumer_properties);
    if (!transactional()) {
      consumer.properties.try_emplace("auto.commit.interval.ms",
                                      std::to_string(options_.store_interval.count()));
    }
    if (auto status = clients_.start_consumer(
            {.client = consumer,
             .group_id = options_.group_id,
             .commit_mode = transactional() ? kafka::CommitMode::kTransactional
                                            : kafka::CommitMode::kStoredOffsets,
             .listener = this});
        !status) {
      return status;
    }
    if (auto status = clients_.consumer().subscribe(options_.input_topics); !status) {
      return std::unexpected(status.error());
    }
    ctx_.logger.info("stage connected",
                     {{"stage", options_.name},
                      {"group", options_.group_id},
                      {"delivery", transactional() ? "exactly_once" : "at_least_once"}});
    return {};
  }

  base::Status tick() {
    auto status = processor_.tick(*this, *this);
    if (held_span_.is_open()) held_span_.end(ctx_.clock);
    if (status) return {};
    if (status.error().code() == base::ErrorCode::kFailedPrecondition) return status;
    problems_.warn("stage tick failed", {{"detail", status.error().message()}});
    if (transactional() && in_transaction_) abort_and_rewind(status.error().message());
    back_off();
    return {};
  }

  // One record taken from the consumer: processed, or dead-lettered when it failed too often.
  base::Status take(const kafka::Record& record) {
    const InputRef ref = ref_of(record);
    const kafka::TopicPartition& partition = partition_of(ref);
    if (auto status = begin(); !status) return failed_to_begin(status, partition, ref.offset);
    if (transactional()) {
      batch_.add(partition, ref.offset);
    } else {
      tracker_.started(partition, ref.offset);
    }
    ++taken_;
    lag_.taken(static_cast<std::size_t>(ref.topic), ref.partition, record.timestamp());
    // The latency of a deferred record is observed when it is completed.
    const bool sample = sampled();
    if (sample && transactional()) staged_arrivals_.push_back(record.timestamp());

    current_ = ref;
    current_record_ = &record;
    outcome_ = Outcome::kNone;
    deferred_ = false;
    hold_ = false;
    open_span(record, ref);
    auto status = process_or_dead_letter(record, ref);
    const Outcome outcome = outcome_;
    current_.reset();
    current_record_ = nullptr;
    if (!status) span_.failed(status.error().message());
    close_span(ref);
    if (!status) return status;
    if (transactional()) return {};
    if (sample && outcome != Outcome::kDeferred) {
      latency_.Observe(seconds_since(record.timestamp()));
    }
    if (outcome == Outcome::kNone) finish(ref);
    return {};
  }

  base::Status process_or_dead_letter(const kafka::Record& record, const InputRef& ref) {
    const auto known = failures_.find(ref);
    if (known != failures_.end() && known->second.refusal == Refusal::kHead) {
      // The broker refused even the oversized dead letter (a dead-letter topic taking less than
      // dead_letter_head_bytes): sending it again would be refused again.
      const Failure failure = known->second;
      if (!transactional()) failures_.erase(known);
      skip_oversized(ref,
                     kafka::oversized_value(record.value(), options_.poison.dead_letter_head_bytes),
                     failure.error);
      return {};
    }
    if (options_.poison.max_record_bytes > 0 &&
        record.value().size() > options_.poison.max_record_bytes) {
      return dead_letter_oversized(ref, content_of(record),
                                   "the record is " + std::to_string(record.value().size()) +
                                       " bytes, above the stage's max_record_bytes (" +
                                       std::to_string(options_.poison.max_record_bytes) + ")");
    }
    if (known != failures_.end() && known->second.refusal != Refusal::kNone) {
      // Kafka refused its output (or its dead letter) as too large: the same would be refused
      // again. The output's refusal makes it a kafka_rejected dead letter (its head only if
      // that is refused too); the dead letter's, an oversized one at once.
      // Exactly once, the refusal is remembered until the record's outcome commits: another
      // record's refusal may roll this one's dead letter back.
      const Failure failure = known->second;
      if (!transactional()) failures_.erase(known);
      if (failure.refusal == Refusal::kDeadLetter) {
        return dead_letter_oversized(
            ref, content_of(record),
            "the dead letter was refused by Kafka as too large (" + failure.error + ")");
      }
      return dead_letter(ref, content_of(record), kKafkaRejected, failure.error);
    }
    if (known != failures_.end() && known->second.attempts >= options_.poison.max_attempts) {
      const Failure failure = std::move(known->second);
      failures_.erase(known);
      ctx_.logger.warn("poison record dead-lettered", {{"reason", failure.reason},
                                                       {"attempts", failure.attempts},
                                                       {"topic", topic(ref)},
                                                       {"partition", ref.partition},
                                                       {"offset", ref.offset}});
      return dead_letter(ref, content_of(record), failure.reason,
                         failure.error + " (" + std::to_string(failure.attempts) + " attempts)");
    }
    while (true) {
      auto status = processor_.process(record, *this);
      if (status) return {};
      if (status.error().code() == base::ErrorCode::kFailedPrecondition) return status;
      const int attempts = failed(ref, kProcessingFailed, status.error().message());
      if (span_.recording()) {
        span_.add_event("processing failed", ctx_.clock.now(),
                        {{"error", status.error().message()}});
      }
      if (transactional()) {
        // What the record wrote is in the open transaction: roll it back and read again.
        abort_and_rewind(status.error().message());
        back_off();
        return {};
      }
      back_off();
      if (ctx_.shutdown.requested()) {
        // Left in flight: its offset is not stored, the restart reads it again.
        outcome_ = Outcome::kDeferred;
        return {};
      }
      if (attempts >= options_.poison.max_attempts) {
        failures_.erase(ref);
        return dead_letter(
            ref, content_of(record), kProcessingFailed,
            status.error().message() + " (" + std::to_string(attempts) + " attempts)");
      }
    }
  }

  // Writes one dead letter (whole, or with `oversized` its head) and books it with the
  // delivery policy. kInvalidInput when Kafka refuses it outright.
  base::Status produce_dead_letter(const InputRef& ref, const DeadLetterContent& content,
                                   std::string_view reason, std::string_view error,
                                   const std::optional<kafka::Oversized>& oversized) {
    const std::size_t index = reason_index(reason);
    const std::string& topic_name = topic(ref);
    // The record's span is the dead letter's parent: the record being processed, or a
    // deferred one being recorded; otherwise a child of the record's own traceparent.
    const bool current = current_ && *current_ == ref && span_.is_open();
    const auto deferred = current ? deferred_spans_.end() : deferred_spans_.find(ref);
    std::optional<trace::TraceParent> own = current ? span_.context()
                                            : deferred != deferred_spans_.end()
                                                ? context_of(deferred->second)
                                                : std::nullopt;
    if (!own) own = trace::TraceParent::child_of_or_start(content.traceparent, ids_);
    const trace::TraceParent& traceparent = *own;
    const kafka::DeadLetterHeaders headers({.reason = reason,
                                            .error = error,
                                            .stage = options_.name,
                                            .topic = topic_name,
                                            .partition = ref.partition,
                                            .offset = ref.offset,
                                            .at = ctx_.clock.now(),
                                            .oversized = oversized,
                                            .execution_id = content.execution_id,
                                            .traceparent = traceparent.text()});
    const std::uint64_t correlation = correlation_of(ref);
    const kafka::OutgoingRecord letter{.topic = options_.dlq_topic,
                                       .key = content.key,
                                       .value = content.value,
                                       .headers = headers.view()};
    auto status = clients_.producer().produce(letter, correlation);
    if (!status) return std::unexpected(status.error().with_context("dead-lettering"));
    if (current) span_.dead_lettered(reason, error);
    if (deferred != deferred_spans_.end()) end_deferred_span(ref, &reason, error);
    flow_.rejected(index).Increment();
    problems_.warn("record dead-lettered", {{"reason", reason},
                                            {"error", error},
                                            {"topic", topic_name},
                                            {"partition", ref.partition},
                                            {"offset", ref.offset}});
    // Its report says whether it was a dead letter (refused as too large: the next attempt
    // keeps only the head).
    dead_letters_in_flight_[correlation] = index;
    if (transactional()) {
      ++staged_dead_letters_[index];
      transaction_bytes_ += record_bytes(letter);
    } else if (current_ && *current_ == ref) {
      outcome_ = Outcome::kWritten;
    }
    return {};
  }

  // A record too large to pass or to dead-letter whole: its first dead_letter_head_bytes, its
  // size and the SHA-256 of the whole (docs/DLQ.md). The key and the carried headers are the
  // record's; a key longer than the head is cut like the value.
  base::Status dead_letter_oversized(const InputRef& ref, const DeadLetterContent& content,
                                     std::string_view error) {
    const std::size_t head_bytes = options_.poison.dead_letter_head_bytes;
    const kafka::OversizedValue oversized = kafka::oversized_value(content.value, head_bytes);
    DeadLetterContent head = content;
    head.value = oversized.head;
    if (head.key && head.key->size() > head_bytes) head.key = head.key->substr(0, head_bytes);
    if (head.execution_id.size() > head_bytes) head.execution_id = {};
    if (head.traceparent.size() > head_bytes) head.traceparent = {};
    auto status = produce_dead_letter(ref, head, kOversizedRecord, error, oversized.headers());
    if (status || status.error().code() != base::ErrorCode::kInvalidInput) return status;
    skip_oversized(ref, oversized, status.error().message());
    return {};
  }

  // Not even the head is taken (dead_letter_head_bytes above what the client or the broker
  // takes): the record is counted and logged with its position, and the stream goes on without
  // it. It is still in its input topic until retention removes it.
  void skip_oversized(const InputRef& ref, const kafka::OversizedValue& oversized,
                      std::string_view detail) {
    flow_.rejected(reason_index(kOversizedRecord)).Increment();
    if (current_ && *current_ == ref) {
      span_.dead_lettered(kOversizedRecord, detail);
    } else {
      end_deferred_span(ref, &kOversizedRecord, detail);
    }
    ctx_.logger.error("oversized record could not be dead-lettered; skipped",
                      {{"topic", topic(ref)},
                       {"partition", ref.partition},
                       {"offset", ref.offset},
                       {"original_size", oversized.original_size},
                       {"sha256", oversized.sha256},
                       {"detail", detail}});
    if (!transactional() && !(current_ && *current_ == ref)) finish(ref);  // a deferred record
  }

  int failed(const InputRef& ref, std::string_view reason, std::string_view error,
             Refusal refusal = Refusal::kNone) {
    Failure& failure = failures_[ref];
    ++failure.attempts;
    failure.reason = reason;
    failure.error = error;
    failure.refusal = std::max(failure.refusal, refusal);
    problems_.warn("record failed", {{"reason", reason},
                                     {"error", error},
                                     {"attempts", failure.attempts},
                                     {"topic", topic(ref)},
                                     {"partition", ref.partition},
                                     {"offset", ref.offset}});
    return failure.attempts;
  }

  // Waits before trying again, longer after each failure in a row; polling stops meanwhile
  // (the longest wait is well inside max.poll.interval.ms), a shutdown cuts it short.
  void back_off() {
    ++failures_in_a_row_;
    auto wait = options_.poison.backoff_min;
    for (int i = 1; i < failures_in_a_row_ && wait < options_.poison.backoff_max; ++i) wait *= 2;
    wait = std::min(wait, options_.poison.backoff_max);
    const auto until = ctx_.clock.monotonic_now() + wait;
    while (!ctx_.shutdown.requested() && ctx_.clock.monotonic_now() < until) {
      ctx_.shutdown.wait_for(std::min<milliseconds>(
          50ms, std::chrono::duration_cast<milliseconds>(until - ctx_.clock.monotonic_now())));
    }
  }

  base::Status begin() {
    if (!transactional() || in_transaction_) return {};
    if (auto status = clients_.producer().begin_transaction(); !status) return status;
    in_transaction_ = true;
    transaction_opened_ = ctx_.clock.monotonic_now();
    transaction_bytes_ = 0;
    return {};
  }

  // kTransactional: whether the open transaction is old enough or large enough to commit.
  bool due() const {
    return transaction_bytes_ >= options_.transaction.max_bytes ||
           ctx_.clock.monotonic_now() - transaction_opened_ >= options_.transaction.interval;
  }

  // How long until the open transaction is due by age; the longest wait when none is open.
  milliseconds until_due() const {
    if (!transactional() || !in_transaction_) return milliseconds::max();
    const auto left =
        transaction_opened_ + options_.transaction.interval - ctx_.clock.monotonic_now();
    return std::max(0ms, std::chrono::ceil<milliseconds>(left));
  }

  // The record is read again once a transaction can begin.
  base::Status failed_to_begin(const base::Status& status, const kafka::TopicPartition& partition,
                               std::int64_t offset) {
    if (status.error().code() == base::ErrorCode::kFailedPrecondition) {
      return std::unexpected(status.error().with_context("transaction"));
    }
    problems_.warn("could not begin a transaction", {{"detail", status.error().message()}});
    rewound_.insert(partition);
    if (auto sought = clients_.consumer().seek({partition.topic, partition.partition, offset}, 10s);
        !sought) {
      return std::unexpected(sought.error().with_context("rewinding after a failed begin"));
    }
    back_off();
    return {};
  }

  // Makes finished work durable. kTransactional: commits the open transaction when it is full,
  // old enough, or `force`d. kStoredOffsets: stores the offsets whose records are done, and
  // rewinds to a record whose output was not delivered.
  base::Status settle(bool force) {
    clients_.producer().poll(0ms);
    if (clients_.producer().fatal()) {
      const std::string reason = clients_.producer().fatal_reason();
      return base::fail(base::ErrorCode::kFailedPrecondition,
                        "the producer hit a fatal error: the stage stops" +
                            (reason.empty() ? std::string() : ": " + reason));
    }
    if (transactional()) {
      if (!in_transaction_ || (!force && !due())) return {};
      return commit();
    }
    if (force) (void)clients_.producer().flush(30s);
    if (!delivery_failures_.empty() && !force) rewind_undelivered();
    store_offsets();
    flow_.records_out.Increment(static_cast<double>(std::exchange(delivered_, 0)));
    // At least once there is no commit to wait for: what was staged is applied as the offsets
    // move (a record read again after a crash is counted again, as its output is written again).
    processor_.committed();
    if (force) {
      if (auto status = clients_.consumer().commit(); !status) {
        problems_.warn("offset commit failed", {{"detail", status.error().message()}});
      }
    }
    if (!force && failures_in_a_row_ > 0 && delivery_failures_.empty()) failures_in_a_row_ = 0;
    return {};
  }

  void store_offsets() {
    auto positions = tracker_.take_committable();
    if (positions.empty()) return;
    if (auto status = clients_.consumer().store_offsets(positions); !status) {
      problems_.warn("offset store failed", {{"detail", status.error().message()}});
    }
  }

  // At least once, Kafka gave up on an output after its retries: every report still owed is
  // served, then each partition concerned is read again from its first record without a
  // durable outcome. What was delivered after it is written again (at least once); a record
  // whose output fails max_attempts times in a row is dead-lettered instead.
  void rewind_undelivered() {
    (void)clients_.producer().flush(30s);
    std::map<kafka::TopicPartition, std::int64_t> from;
    for (const auto& [ref, error, refusal] : delivery_failures_) {
      const kafka::TopicPartition& partition = partition_of(ref);
      if (!tracker_.tracks(partition)) continue;  // revoked meanwhile
      failed(ref, kDeliveryFailed, error, refusal);
      const std::int64_t first = tracker_.first_unfinished(partition).value_or(ref.offset);
      auto [it, inserted] = from.try_emplace(partition, std::min(first, ref.offset));
      if (!inserted) it->second = std::min({it->second, first, ref.offset});
    }
    delivery_failures_.clear();
    for (const auto& [partition, offset] : from) {
      ctx_.logger.warn(
          "output not delivered: reading again",
          {{"topic", partition.topic}, {"partition", partition.partition}, {"offset", offset}});
      if (auto status = seek({partition.topic, partition.partition, offset}); !status) {
        problems_.warn("rewind failed", {{"detail", status.error().message()}});
      }
    }
    if (!from.empty()) back_off();
  }

  base::Status commit() {
    // The reports already in: a record Kafka refused is known by name if the commit fails.
    clients_.producer().poll(0ms);
    const auto positions = batch_.commit_positions();
    base::Status status;
    if (!positions.empty()) {
      auto group = clients_.consumer().group_metadata();
      status = clients_.producer().send_offsets_to_transaction(positions, *group, 30s);
    }
    // A retriable commit error means "try the commit again", not "abort".
    for (int attempt = 0; status && attempt < kCommitAttempts; ++attempt) {
      status = clients_.producer().commit_transaction(60s);
      if (status || !status.error().retryable() ||
          status.error().code() == base::ErrorCode::kAborted) {
        break;
      }
    }
    if (status) {
      in_transaction_ = false;
      batch_.clear();
      committed_.Increment();
      apply_staged();
      processor_.committed();
      delivery_failures_.clear();
      forget_failures_before(positions);
      failures_in_a_row_ = 0;
      return {};
    }
    if (status.error().code() == base::ErrorCode::kFailedPrecondition) {
      return std::unexpected(status.error().with_context("transaction"));  // fenced: stop
    }
    // A record whose output was not delivered fails the commit: it counts against that record.
    for (const auto& [ref, error, refusal] : delivery_failures_) {
      failed(ref, kDeliveryFailed, error, refusal);
    }
    delivery_failures_.clear();
    abort_and_rewind(status.error().message());
    back_off();
    return {};
  }

  // Records committed are through: their failures in a row are over. A record failing still
  // (beyond the positions) keeps its count, whatever else committed meanwhile.
  void forget_failures_before(const std::vector<kafka::TopicPartitionOffset>& positions) {
    std::erase_if(failures_, [&](const auto& entry) {
      const kafka::TopicPartition& partition = partition_of(entry.first);
      return std::ranges::any_of(positions, [&](const kafka::TopicPartitionOffset& position) {
        return position.partition == partition.partition && position.topic == partition.topic &&
               entry.first.offset < position.offset;
      });
    });
  }

  // Rolls the open transaction back and rewinds the consumer to its first record, so the same
  // records are processed again into a new transaction.
  void abort_and_rewind(std::string_view why) {
    ctx_.logger.warn("aborting transaction", {{"records", batch_.records()}, {"reason", why}});
    if (auto status = clients_.producer().abort_transaction(60s); !status) {
      ctx_.logger.error("abort failed", {{"detail", status.error().message()}});
    }
    const auto rewind = batch_.rewind_positions();
    for (const auto& position : rewind) {
      rewound_.insert({position.topic, position.partition});
      if (auto status = clients_.consumer().seek(position, 10s); !status) {
        problems_.warn("rewind failed",
                       {{"detail", status.error().message()}, {"partition", position.partition}});
      }
    }
    in_transaction_ = false;
    batch_.clear();
    staged_out_ = 0;
    std::ranges::fill(staged_dead_letters_, 0);
    staged_arrivals_.clear();
    aborted_.Increment();
    processor_.rolled_back(rewind);
  }

  void apply_staged() {
    flow_.records_out.Increment(static_cast<double>(staged_out_));
    staged_out_ = 0;
    for (std::size_t i = 0; i < staged_dead_letters_.size(); ++i) {
      if (staged_dead_letters_[i] > 0) {
        flow_.dead_lettered(i).Increment(static_cast<double>(staged_dead_letters_[i]));
        staged_dead_letters_[i] = 0;
      }
    }
    for (const auto arrived : staged_arrivals_) latency_.Observe(seconds_since(arrived));
    staged_arrivals_.clear();
  }

  void finish(const InputRef& ref) { tracker_.finished(partition_of(ref), ref.offset); }

  void forget(const std::vector<kafka::TopicPartition>& partitions) {
    for (const auto& p : partitions) {
      tracker_.forget(p);
      paused_partitions_.erase(p);
    }
    // The spans of deferred records whose partitions left end here: their new owner reads the
    // records again, each in a span of its own.
    for (auto it = deferred_spans_.begin(); it != deferred_spans_.end();) {
      if (std::ranges::find(partitions, partition_of(it->first)) == partitions.end()) {
        ++it;
        continue;
      }
      it->second.events.push_back(
          {.name = "partition revoked", .time = ctx_.clock.now(), .attributes = {}});
      if (otlp::SpanSink* sink = ctx_.tracing.sink()) {
        end_span(std::move(it->second), *sink, ctx_.clock.now());
      }
      it = deferred_spans_.erase(it);
    }
  }

  // The record's span (docs/TRACING.md): the stage's Kafka attributes when it is recorded.
  void open_span(const kafka::Record& record, const InputRef& ref) {
    span_.open(ctx_.tracing, ids_, &record, span_name_, otlp::SpanKind::kConsumer, ctx_.clock);
    if (!span_.recording()) return;
    span_.set("messaging.system", "kafka");
    span_.set("messaging.destination.name", topic(ref));
    span_.set("messaging.destination.partition.id", std::to_string(ref.partition));
    span_.set("messaging.kafka.offset", ref.offset);
  }

  // When process() returns: the span ends, unless the processor deferred the record.
  void close_span(const InputRef& ref) {
    if (hold_ && !deferred_) {
      if (held_span_.is_open()) held_span_.end(ctx_.clock);
      (void)span_.context();  // worked out while the record is still there
      held_span_ = std::move(span_);
      span_.close();
      return;
    }
    if (!deferred_) {
      span_.end(ctx_.clock);
      return;
    }
    if (auto recorded = span_.take()) deferred_spans_.insert_or_assign(ref, std::move(*recorded));
  }

  // A deferred record's outcome: its span ends (with `reason`, dead-lettered).
  void end_deferred_span(const InputRef& ref, const std::string_view* reason,
                         std::string_view error = {}) {
    const auto it = deferred_spans_.find(ref);
    if (it == deferred_spans_.end()) return;
    otlp::Span& span = it->second;
    if (reason != nullptr) {
      set_attribute(span, "ingestwatch.dead_letter.reason", std::string(*reason));
      span.status = otlp::SpanStatus::kError;
      span.status_message = error;
    }
    if (otlp::SpanSink* sink = ctx_.tracing.sink()) {
      end_span(std::move(span), *sink, ctx_.clock.now());
    }
    deferred_spans_.erase(it);
  }

  void pause_new_partitions() {
    std::vector<kafka::TopicPartition> fresh;
    for (auto& p : clients_.consumer().assignment()) {
      if (!paused_partitions_.contains(p)) fresh.push_back(std::move(p));
    }
    if (fresh.empty()) return;
    if (auto status = clients_.consumer().pause(fresh); !status) {
      problems_.warn("pause failed", {{"detail", status.error().message()}});
      return;
    }
    paused_partitions_.insert(fresh.begin(), fresh.end());
  }

  std::size_t reason_index(std::string_view reason) const {
    const auto it = std::ranges::find(reasons_, reason);
    IW_CHECK(it != reasons_.end(), "dead-letter reason missing from the stage's declared set");
    return static_cast<std::size_t>(it - reasons_.begin());
  }

  // Correlations are the packed InputRef plus one: 0 names no input record.
  std::uint64_t correlation_of(const InputRef& ref) const {
    const auto packed = pack(ref);
    return packed ? *packed + 1 : 0;
  }

  // The latency histogram needs a sample, not every record.
  bool sampled() {
    return options_.latency_sample_every > 0 &&
           ++records_seen_ % options_.latency_sample_every == 0;
  }

  double seconds_since(base::TimePoint arrived) const {
    return std::chrono::duration<double>(ctx_.clock.now() - arrived).count();
  }

  InputRef ref_of(const kafka::Record& record) const {
    std::int32_t topic = 0;
    if (options_.input_topics.size() > 1) {
      const auto it = std::ranges::find(options_.input_topics, record.topic());
      IW_CHECK(it != options_.input_topics.end(), "a record from a topic not subscribed to");
      topic = static_cast<std::int32_t>(it - options_.input_topics.begin());
    }
    return {.topic = topic, .partition = record.partition(), .offset = record.offset()};
  }

  const kafka::TopicPartition& partition_of(const kafka::Record& record) {
    return partition_of(ref_of(record));
  }

  // A TopicPartition (a heap-allocated topic name) per record would cost an allocation each:
  // they are made once per partition.
  const kafka::TopicPartition& partition_of(const InputRef& ref) const {
    auto& partitions = partitions_[static_cast<std::size_t>(ref.topic)];
    const auto index = static_cast<std::size_t>(ref.partition);
    for (std::size_t i = partitions.size(); i <= index; ++i) {
      partitions.push_back({options_.input_topics[static_cast<std::size_t>(ref.topic)],
                            static_cast<std::int32_t>(i)});
    }
    return partitions[index];
  }

  runtime::Context& ctx_;
  StageOptions options_;
  Processor& processor_;
  std::vector<std::string> reasons_;
  std::vector<std::string_view> reason_views_;
  metrics::RecordFlowMetrics flow_;
  prometheus::Histogram& latency_;
  prometheus::Family<prometheus::Counter>& transactions_;
  prometheus::Counter& committed_;
  prometheus::Counter& aborted_;
  ConsumerLagMetrics lag_;
  log::RateLimitedLog problems_;
  trace::IdGenerator ids_;
  mutable std::vector<std::vector<kafka::TopicPartition>> partitions_;  // by topic index
  kafka::StageClients clients_;
  // The batch being processed; declared after the clients so that its records, which hold
  // librdkafka messages, are destroyed first even when run() returns in the middle of it.
  std::vector<kafka::Record> records_;
  // Partitions sought (rewound) while the current batch is processed: the rest of the batch's
  // records of them come again from the new position.
  std::set<kafka::TopicPartition> rewound_;

  std::optional<InputRef> current_;
  const kafka::Record* current_record_ = nullptr;
  // The current record's span, and those of deferred records being recorded.
  std::string span_name_ = options_.span_name.empty() ? options_.name : options_.span_name;
  RecordSpan span_;
  bool deferred_ = false;  // the processor called defer() for the current record
  bool hold_ = false;      // ... or hold_span()
  RecordSpan held_span_;
  std::map<InputRef, otlp::Span> deferred_spans_;
  Outcome outcome_ = Outcome::kNone;
  std::uint64_t records_seen_ = 0;
  // Counted per record, added to ingestwatch_records_in_total after each poll's batch and to
  // ingestwatch_records_out_total (kStoredOffsets) at each settle: a counter's update is an
  // atomic read-modify-write, too much for every record.
  std::uint64_t taken_ = 0;
  std::uint64_t delivered_ = 0;

  // kTransactional
  bool in_transaction_ = false;
  base::MonotonicTime transaction_opened_{};
  std::size_t transaction_bytes_ = 0;  // keys, values and headers written in it
  kafka::BatchPositions batch_;
  std::uint64_t staged_out_ = 0;
  std::vector<std::uint64_t> staged_dead_letters_;  // by reason index
  std::vector<base::TimePoint> staged_arrivals_;

  // kStoredOffsets
  kafka::OffsetTracker tracker_;
  // Both policies: a failed report of a dead letter is a refused dead letter.
  std::unordered_map<std::uint64_t, std::size_t> dead_letters_in_flight_;  // correlation → reason

  struct DeliveryFailure {
    InputRef ref;
    std::string error;
    Refusal refusal = Refusal::kNone;
  };
  std::vector<DeliveryFailure> delivery_failures_;
  std::map<InputRef, Failure> failures_;
  int failures_in_a_row_ = 0;

  bool paused_ = false;
  std::set<kafka::TopicPartition> paused_partitions_;
};

Stage::Stage(runtime::Context& ctx, StageOptions options, Processor& processor,
             kafka::ClientFactory& factory)
    : impl_(std::make_unique<Impl>(ctx, std::move(options), processor, factory)) {}

Stage::~Stage() = default;

base::Status Stage::run() { return impl_->run(); }

}  // namespace iw::stage
