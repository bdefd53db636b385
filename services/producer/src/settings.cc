#include "settings.h"

#include "iw/config/binder.h"

namespace iw::producer {

void declare_settings(config::Schema& schema) {
  using S = Settings;
  config::Binder<S> keys(schema);
  keys.key("producer.input", &S::input)
      .describe("The logs file to publish ('-' for stdin); the FILE argument wins over it.")
      .required()
      .flag("--input", "FILE")
      .argument("FILE");
  keys.choice("producer.format",
              {{"auto", logfile::Format::kAuto},
               {"ndjson", logfile::Format::kNdjson},
               {"json_array", logfile::Format::kJsonArray}},
              &S::format)
      .describe("Layout of the input: auto (detect), ndjson or json_array.")
      .default_value("auto")
      .flag("--format", "FORMAT");
  keys.key("producer.topic", &S::topic)
      .describe("Topic the raw run records go to.")
      .default_value("ingestion-logs")
      .flag("--topic", "TOPIC");
  keys.key("producer.dlq_topic", &S::dlq_topic)
      .describe("Topic rejected records go to, with dlq.* headers.")
      .default_value("ingestion-logs-dlq")
      .flag("--dlq-topic", "TOPIC");
  keys.key("producer.rate", &S::rate)
      .describe("Records per second at most; 0 for as fast as possible.")
      .default_value(0.0)
      .min(0.0)
      .flag("--rate", "N");
  keys.key("producer.realtime", &S::realtime)
      .describe(
          "Replay at the records' own pace (by when each job wrote its record: Fin, else "
          "Debut), with Debut and Fin moved to the present.")
      .default_value(false)
      .flag("--realtime");
  keys.key("producer.speed", &S::speed)
      .describe("With realtime, how many times faster than the records' own pace.")
      .default_value(1.0)
      .min(0.001)
      .flag("--speed", "F");
  keys.key("producer.loop", &S::loop)
      .describe("At the end of the input, start it again, until stopped.")
      .default_value(false)
      .flag("--loop");
  keys.key("producer.dry_run", &S::dry_run)
      .describe("Read and check every record; publish nothing.")
      .default_value(false)
      .flag("--dry-run");
  keys.choice(
          "producer.on_invalid",
          {{"dlq", OnInvalid::kDeadLetter}, {"skip", OnInvalid::kSkip}, {"fail", OnInvalid::kFail}},
          &S::on_invalid)
      .describe(
          "What to do with a record that is not a JSON object with a Source string: dlq "
          "(publish it to the dead-letter topic), skip, or fail (stop with an error).")
      .default_value("dlq")
      .flag("--on-invalid", "MODE");
  keys.key("producer.max_record_bytes", &S::max_record_bytes)
      .describe(
          "Records longer than this are dead-lettered as oversized_record (their first "
          "dead_letter_head_bytes, size and SHA-256), whatever their size; below Kafka's "
          "message.max.bytes (1000000) with room for the enricher's additions and the dead-letter "
          "headers (docs/DLQ.md, \"Oversized records\").")
      .default_value(std::int64_t{900'000})
      .min(std::int64_t{1024})
      .max(std::int64_t{100'000'000});
  keys.key("producer.dead_letter_head_bytes", &S::dead_letter_head_bytes)
      .describe(
          "How many of an oversized record's first bytes its dead letter keeps; "
          "dlq.original_size and dlq.sha256 name the whole.")
      .default_value(std::int64_t{4096})
      .min(std::int64_t{0})
      .max(std::int64_t{100'000});
  keys.parsed("producer.time_zone", events::TimeZone::from_name, &S::time_zone)
      .describe("Zone of timestamps without an offset (UTC, +02:00, Europe/Paris): realtime only.")
      .default_value("UTC")
      .flag("--time-zone", "TZ");
  keys.key("producer.progress_interval", &S::progress_interval)
      .describe("How often a progress line is logged when stderr is not a terminal.")
      .default_value("5s")
      .min("100ms");
  keys.key("producer.delivery_timeout", &S::delivery_timeout)
      .describe(
          "How long Kafka may take to accept a record (message.timeout.ms) before it counts as not "
          "delivered.")
      .default_value("2m")
      .min("1s")
      .flag("--delivery-timeout", "D");
  keys.key("producer.create_topics", &S::create_topics)
      .describe("Create the topics when they do not exist.")
      .default_value(true);
  keys.key("producer.partitions", &S::partitions)
      .describe("Partitions of the topic when the producer creates it.")
      .default_value(std::int64_t{3})
      .min(std::int64_t{1});
  keys.key("producer.checkpoint", &S::checkpoint)
      .describe(
          "File that records how far the input was delivered (written atomically after Kafka "
          "acknowledged the records, never before); empty for none. Not for stdin.")
      .default_value("")
      .flag("--checkpoint", "FILE");
  keys.key("producer.checkpoint_interval", &S::checkpoint_interval)
      .describe(
          "How often the checkpoint is written while records are acknowledged (and at the end).")
      .default_value("1s")
      .min("10ms");
  keys.key("producer.resume", &S::resume)
      .describe(
          "Continue from the checkpoint: skip the records it covers (checking the input still "
          "holds them) and publish the rest; without a checkpoint file yet, start at the "
          "beginning.")
      .default_value(false)
      .flag("--resume");
  keys.check({"producer.resume", "producer.checkpoint"},
             [](const S& s) -> std::optional<std::string> {
               if (s.resume && s.checkpoint.empty()) {
                 return "--resume needs a checkpoint file (producer.checkpoint, --checkpoint FILE)";
               }
               return std::nullopt;
             });
  keys.check({"producer.checkpoint", "producer.input"},
             [](const S& s) -> std::optional<std::string> {
               if (!s.checkpoint.empty() && s.input == "-") {
                 return "a checkpoint needs a file to resume in, not stdin";
               }
               return std::nullopt;
             });
}

}  // namespace iw::producer
