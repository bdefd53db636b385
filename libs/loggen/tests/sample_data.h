#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace iw::loggen::sample {

/// A file under data/, as the builder writes it.
struct DataFile {
  std::string path;  // relative to data/
  std::string content;
};

/// A record of data/logs.json that departs from the connector format on purpose.
struct Special {
  std::int64_t id;
  std::string_view what;
};

/// data/logs.json: three days of hourly runs of the five connectors as one JSON array, one
/// record per line, with the records below mixed in.
std::string build_logs_json();
inline constexpr std::size_t kLogsRecords = 3600;
/// Records that every stage must dead-letter (BRIEF §2 "bad records").
std::span<const Special> bad_records();
/// Unusual but valid records (other Etat values, numeric strings, offsets, derived fields).
std::span<const Special> unusual_records();

/// One alert episode the scenarios must produce, with the BRIEF §4 defaults.
struct ExpectedAlert {
  std::string_view scenario;
  std::string_view alertname;
  std::string_view source;
  std::string_view key_name;  // "objet", "resource", or empty when keyed by source alone
  std::string_view key_value;
  std::string_view starts_at;    // RFC 3339 UTC, milliseconds
  std::string_view resolved_at;  // empty: still firing when the input ends, and forever after
};

/// data/scenarios/*.ndjson, one timeline per rule.
std::vector<DataFile> build_scenarios();
/// Every alert the scenarios raise, computed by hand (see data/scenarios/README.md).
std::span<const ExpectedAlert> expected_alerts();
/// data/scenarios/expected.yaml, written from expected_alerts().
std::string build_expected_yaml();

/// Everything above, for the golden-file test.
std::vector<DataFile> build_all();

}  // namespace iw::loggen::sample
