#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "iw/config/schema.h"
#include "iw/events/timestamp.h"
#include "iw/logfile/reader.h"

namespace iw::producer {

/// What to do with a record that is not a JSON object with a Source string.
enum class OnInvalid { kDeadLetter, kSkip, kFail };

/// The producer.* keys.
struct Settings {
  std::string input;
  logfile::Format format = logfile::Format::kAuto;
  std::string topic;
  std::string dlq_topic;
  double rate = 0;
  bool realtime = false;
  double speed = 1;
  bool loop = false;
  bool dry_run = false;
  OnInvalid on_invalid = OnInvalid::kDeadLetter;
  std::size_t max_record_bytes = 0;
  std::size_t dead_letter_head_bytes = 0;
  events::TimeZone time_zone = events::TimeZone::utc();
  std::chrono::milliseconds progress_interval{0};
  std::chrono::milliseconds delivery_timeout{0};
  bool create_topics = true;
  std::int32_t partitions = 1;
  /// Where the acknowledged input position is kept; empty: nowhere.
  std::string checkpoint;
  std::chrono::milliseconds checkpoint_interval{0};
  /// Continue from the checkpoint.
  bool resume = false;
};

/// Declares the producer.* keys, each with its flag, default and description.
void declare_settings(config::Schema& schema);

}  // namespace iw::producer
