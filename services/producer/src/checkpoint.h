#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "input_position.h"
#include "iw/base/clock.h"
#include "iw/base/error.h"

namespace iw::producer {

/// What a run has durably published of its input (docs/PRODUCER.md, "Checkpoint and
/// --resume"): written after Kafka acknowledged the records it covers, never before.
struct Checkpoint {
  static constexpr int kVersion = 1;

  /// The input as named on the command line, and the file it was (informative: a copy of the
  /// file resumes as well, the digest in `position` is what is checked).
  std::string input;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  /// The file's size when the run that wrote the checkpoint started.
  std::uint64_t size = 0;
  /// Every record before this has a durable outcome.
  InputPosition position;
  /// With --loop, the pass `position` is in (1 for the first).
  std::uint64_t pass = 1;
  /// The whole input was read and delivered.
  bool complete = false;
  /// --realtime's replay: the speed, and its anchor (the first record's time and the time it
  /// was given), so that a resume gives every record the times the first run gave it: the same
  /// bytes, so the same event.id downstream.
  bool realtime = false;
  double speed = 1;
  std::optional<base::TimePoint> anchor_record_time;
  std::optional<base::TimePoint> anchor_wall_time;
  /// The execution_id of the run that wrote it.
  std::string execution_id;
  base::TimePoint written_at{};

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

/// One JSON object, on one line.
[[nodiscard]] std::string format_checkpoint(const Checkpoint& checkpoint);
/// The inverse of format_checkpoint(); kInvalidInput naming what is wrong.
[[nodiscard]] base::Result<Checkpoint> parse_checkpoint(std::string_view text);

/// Writes `checkpoint` to `path` atomically: a temporary file beside it, flushed to disk, renamed
/// over `path`, and the directory flushed. A reader sees the old checkpoint or the new one,
/// whatever crashes when.
[[nodiscard]] base::Status save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
/// The checkpoint at `path`; nullopt when there is no file.
[[nodiscard]] base::Result<std::optional<Checkpoint>> load_checkpoint(const std::string& path);

/// What a resume must match: the run's settings that decide which bytes each record is sent
/// with. An error (kFailedPrecondition) says what differs.
struct ResumeSettings {
  bool realtime = false;
  double speed = 1;
  bool loop = false;
};
[[nodiscard]] base::Status check_resumable(const Checkpoint& checkpoint,
                                           const ResumeSettings& settings);

/// Skips, on a resume, the records the checkpoint covers: the caller hands it every record read
/// from the start of the input; it says whether the record is to be skipped, and checks, once
/// the checkpoint's position is reached, that the input held the same records
/// (kFailedPrecondition otherwise, and when the input ends first).
class ResumeSkipper {
 public:
  explicit ResumeSkipper(InputPosition target) : target_(target) {}

  /// Whether the record is one the checkpoint covers. An error: the input differs.
  [[nodiscard]] base::Result<bool> skip(std::string_view bytes, std::uint64_t line,
                                        std::uint64_t byte_offset);
  /// The input ended: an error when before the checkpoint's position.
  [[nodiscard]] base::Status at_end() const;
  /// The position reached so far.
  [[nodiscard]] const InputPosition& position() const { return position_; }
  [[nodiscard]] bool done() const { return position_.records >= target_.records; }

 private:
  InputPosition target_;
  InputPosition position_;
};

}  // namespace iw::producer
