#pragma once

#include <simdjson.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/clock.h"

namespace iw::loggen::testing {

/// A record in exactly the generator's format, read back.
struct ParsedRecord {
  std::int64_t id = 0;
  std::string source, objet, transformation, etat;
  base::TimePoint debut, fin;
  double duree_secondes = 0;
  double cpu_time = 0;
  std::int64_t memory_used = 0;
  std::string description, zone, entreprise;
};

/// "2025-09-15 10:30:00.000" exactly, read as UTC.
std::optional<base::TimePoint> parse_connector_timestamp(std::string_view text);

/// Accepts only what the generator writes: exactly the 13 fields of BRIEF §2, each with its
/// type, timestamps in the connector format. The error names the offending field.
std::expected<ParsedRecord, std::string> parse_strict(simdjson::dom::element record);
std::expected<ParsedRecord, std::string> parse_strict(std::string_view json);

/// A test-side reading of BRIEF §2's validity rules, lenient where the brief is (ISO 8601 with
/// or without T, fraction and offset; numbers as numeric strings, decimal comma). Returns why a
/// record must be dead-lettered, or nothing if a conforming enricher must accept it.
std::optional<std::string> brief_violation(simdjson::dom::element record);

}  // namespace iw::loggen::testing
