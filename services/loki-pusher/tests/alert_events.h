#pragma once

#include <string>

namespace iw::loki_pusher {

/// Alert event `n` (n < 10) as the evaluator writes it, firing, on the `source="Zoho"` stream;
/// events a minute apart in event time.
inline std::string alert_event(int n) {
  return R"({"status":"firing","labels":{"alertname":"IngestionFailureDetected","objet":"o)" +
         std::to_string(n) +
         R"(","severity":"critical","source":"Zoho"},"annotations":{"summary":"s"},)"
         R"("startsAt":"2025-09-21T08:3)" +
         std::to_string(n) +
         R"(:00.000Z","endsAt":"0001-01-01T00:00:00.000Z","value":1,"fingerprint":"a95330)" +
         std::to_string(n) + R"(a7ebe300"})";
}

}  // namespace iw::loki_pusher
