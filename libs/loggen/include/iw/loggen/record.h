#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "iw/base/clock.h"

namespace iw::loggen {

/// One run record as the connector jobs write it (BRIEF §2). The views are not owned: they must
/// stay valid while the record is used.
struct RunRecord {
  std::int64_t id = 0;
  std::string_view source;
  std::string_view objet;
  std::string_view transformation;
  std::string_view etat;
  base::TimePoint debut;
  base::TimePoint fin;
  double duree_secondes = 0.0;
  double cpu_time = 0.0;
  std::int64_t memory_used = 0;
  std::string_view description;
  std::string_view zone;
  std::string_view entreprise;
};

/// Appends `t` the way the connector jobs write timestamps: naive UTC with milliseconds and a
/// space, "2025-09-15 10:30:00.000". Sub-millisecond parts are truncated, as the jobs do.
void append_connector_timestamp(std::string& out, base::TimePoint t);

/// Appends a JSON number the way Python's json module writes a float: shortest round-trip
/// digits, always with a fraction ("2.0", "1.154133"). `value` must be finite.
void append_json_double(std::string& out, double value);

/// Appends `record` as one single-line JSON object (no newline) with the field names and order
/// of BRIEF §2 and Python's separators (", " and ": "). Never allocates beyond growing `out`.
void append_record(std::string& out, const RunRecord& record);

}  // namespace iw::loggen
