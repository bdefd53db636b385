#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace iw::metrics {

/// Whether a service can do its work right now, as a set of named checks ("kafka", "loki", ...).
/// The service is ready exactly when every check passes; a service with no checks is ready.
///
/// Declare the checks a service depends on up front: a declared check starts failing with
/// reason "pending", so /readyz answers 503 until the code that owns the dependency has said
/// otherwise, and forgetting to wire one up leaves the service unready, never falsely ready.
/// A check first named in set_ready()/set_not_ready() is added then, after the declared ones.
///
/// Thread-safe; cheap enough to update on every state change (e.g. each rebalance callback).
class Readiness {
 public:
  /// The answer /readyz gives: its status follows `ready`, its body is `text`.
  struct Report {
    bool ready = false;
    /// "ready", or "not ready: kafka: partitions not assigned; loki: connection refused", the
    /// failing checks in declaration order.
    std::string text;
  };

  /// `checks` start failing with reason "pending". Names must be unique and non-empty.
  explicit Readiness(std::vector<std::string> checks = {});

  void set_ready(std::string_view check);
  /// `reason` is short, constant-ish text for an operator ("connection refused"), never
  /// unbounded data; control characters (line breaks, tabs) become single spaces so the body stays
  /// one line.
  void set_not_ready(std::string_view check, std::string_view reason);

  [[nodiscard]] bool ready() const;
  /// One consistent view of all checks, for /readyz.
  [[nodiscard]] Report report() const;

 private:
  struct Check {
    std::string name;
    bool ok = false;
    std::string reason;
  };

  void set(std::string_view check, bool ok, std::string_view reason);

  mutable std::mutex mu_;
  std::vector<Check> checks_;  // Few entries; a vector keeps the declaration order for reports.
};

}  // namespace iw::metrics
