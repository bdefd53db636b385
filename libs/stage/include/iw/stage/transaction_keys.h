#pragma once

#include <cstdint>
#include <string>

#include "iw/config/binder.h"
#include "iw/stage/stage.h"

namespace iw::stage {

/// The bounds of <stage>.commit_interval: at most half of librdkafka's transaction.timeout.ms
/// (60 s), past which the broker aborts a transaction still open.
inline constexpr std::string_view kMinCommitInterval = "1ms";
inline constexpr std::string_view kMaxCommitInterval = "30s";
/// The bounds of <stage>.transaction_max_bytes. Above 1 GiB a transaction would outgrow
/// librdkafka's whole producer queue (queue.buffering.max.kbytes) before committing.
inline constexpr std::int64_t kMaxTransactionBytes = std::int64_t{1} << 30;

/// Declares an exactly-once stage's transaction keys under `prefix` ("enricher"):
/// <prefix>.commit_interval (a transaction commits once it is this old) and
/// <prefix>.transaction_max_bytes (or once it wrote this many bytes), bound to the
/// TransactionPolicy field `policy` of the service's settings. Defaults: TransactionPolicy's.
template <class S>
void declare_transaction_keys(config::Binder<S>& keys, const std::string& prefix,
                              TransactionPolicy S::*policy) {
  const TransactionPolicy defaults;
  keys.key(prefix + ".commit_interval", policy, &TransactionPolicy::interval)
      .describe(
          "A transaction (the outputs, dead letters and input positions of a stretch of input) "
          "commits once it is this old: the longest a record's outcome waits before it starts "
          "committing. Lower: downstream sees records sooner; higher: fewer commits. Keep it "
          "well below kafka.properties' transaction.timeout.ms (60 s).")
      .default_value(defaults.interval)
      .min(std::string(kMinCommitInterval))
      .max(std::string(kMaxCommitInterval));
  keys.key(prefix + ".transaction_max_bytes", policy, &TransactionPolicy::max_bytes)
      .describe(
          "A transaction also commits once its records and dead letters (keys, values, headers) "
          "reach this many bytes: what an abort re-does, whatever the speed of the stream.")
      .default_value(static_cast<std::int64_t>(defaults.max_bytes))
      .min(std::int64_t{1})
      .max(kMaxTransactionBytes);
}

}  // namespace iw::stage
