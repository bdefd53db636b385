#pragma once

#include <optional>
#include <string>

#include "iw/config/binder.h"
#include "iw/stage/stage.h"

namespace iw::stage {

/// Declares a stage's poison-record keys under `prefix` ("enricher"): <prefix>.max_attempts,
/// <prefix>.retry_backoff_min and <prefix>.retry_backoff_max, bound to the PoisonPolicy field
/// `policy` of the service's settings, and the check that the maximum is not below the minimum.
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
