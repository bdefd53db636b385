#pragma once

#include <optional>
#include <string>

#include "iw/config/binder.h"
#include "iw/stage/stage.h"

namespace iw::stage {

/// The default of <stage>.max_record_bytes: the producer's client limit (message.max.bytes,
/// kClientMessageMaxBytes). A larger record was written by another client, under the topic's
/// limit; the stage would not be able to write it again, nor to dead-letter it whole.
inline constexpr std::int64_t kDefaultMaxRecordBytes = 1'000'000;

/// Declares a stage's poison-record keys under `prefix` ("enricher"): <prefix>.max_attempts,
/// <prefix>.retry_backoff_min and <prefix>.retry_backoff_max, bound to the PoisonPolicy field
/// `policy` of the service's settings, and the check that the maximum is not below the minimum;
/// and the oversized-record keys <prefix>.max_record_bytes and <prefix>.dead_letter_head_bytes.
template <class S>
void declare_poison_keys(config::Binder<S>& keys, const std::string& prefix,
                         PoisonPolicy S::*policy) {
  keys.key(prefix + ".max_attempts", policy, &PoisonPolicy::max_attempts)
      .describe(
          "A record whose processing or output fails this many times in a row is dead-lettered "
          "(processing_failed, delivery_failed) and the stream goes on.")
      .default_value(std::int64_t{3})
      .min(std::int64_t{1});
  keys.key(prefix + ".retry_backoff_min", policy, &PoisonPolicy::backoff_min)
      .describe("The wait after a record's first failure; it doubles with each failure in a row.")
      .default_value("100ms")
      .min("1ms");
  keys.key(prefix + ".retry_backoff_max", policy, &PoisonPolicy::backoff_max)
      .describe("The longest wait between two attempts of a failing record.")
      .default_value("5s")
      .min("1ms");
  keys.key(prefix + ".max_record_bytes", policy, &PoisonPolicy::max_record_bytes)
      .describe(
          "An input record whose value is longer is dead-lettered as oversized_record (its first "
          "dead_letter_head_bytes, its size and SHA-256) without being processed. 0: no maximum "
          "(Kafka's limits still apply: docs/DLQ.md, \"Oversized records\").")
      .default_value(std::int64_t{kDefaultMaxRecordBytes})
      .min(std::int64_t{0})
      .max(std::int64_t{100'000'000});
  keys.key(prefix + ".dead_letter_head_bytes", policy, &PoisonPolicy::dead_letter_head_bytes)
      .describe(
          "How many of an oversized record's first bytes its dead letter keeps; "
          "dlq.original_size and dlq.sha256 name the whole.")
      .default_value(std::int64_t{kafka::kDefaultDeadLetterHeadBytes})
      .min(std::int64_t{0})
      .max(std::int64_t{100'000});
  keys.check({prefix + ".retry_backoff_max", prefix + ".retry_backoff_min"},
             [policy, prefix](const S& s) -> std::optional<std::string> {
               const PoisonPolicy& poison = s.*policy;
               if (poison.backoff_max >= poison.backoff_min) return std::nullopt;
               return prefix + ".retry_backoff_max (" +
                      config::format_duration(poison.backoff_max) + ") is below " + prefix +
                      ".retry_backoff_min (" + config::format_duration(poison.backoff_min) + ")";
             });
}

}  // namespace iw::stage
