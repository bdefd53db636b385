#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/clock.h"

namespace iw::kafka {

/// librdkafka's logical offsets, for use as start positions.
inline constexpr std::int64_t kOffsetBeginning = -2;
inline constexpr std::int64_t kOffsetEnd = -1;
/// "Where the group's committed offset says", falling back to auto.offset.reset.
inline constexpr std::int64_t kOffsetStored = -1000;

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

/// A partition and an offset. When committing or storing, `offset` is the NEXT offset to read
/// (the last processed offset + 1), as Kafka defines it.
struct TopicPartitionOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = kOffsetStored;
  friend auto operator<=>(const TopicPartitionOffset&, const TopicPartitionOffset&) = default;
};

struct HeaderView {
  std::string_view key;
  std::string_view value;
};

/// A consumed record. Its views stay valid as long as the Record lives; copy what you keep.
/// Move-only; reading it allocates nothing.
class Record {
 public:
  /// Keeps the bytes the views point into alive and answers header queries.
  class Backing {
   public:
    virtual ~Backing() = default;
    [[nodiscard]] virtual std::size_t header_count() const = 0;
    [[nodiscard]] virtual HeaderView header_at(std::size_t index) const = 0;
    /// The last header with this name, as Kafka clients conventionally resolve repeats.
    [[nodiscard]] virtual std::optional<std::string_view> header(std::string_view name) const;
  };

  struct Fields {
    std::string_view topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::optional<std::string_view> key;
    std::string_view value;
    base::TimePoint timestamp{};
  };

  Record(std::unique_ptr<Backing> backing, Fields fields)
      : backing_(std::move(backing)), fields_(fields) {}

  /// A self-contained record that owns copies of everything, for fakes and tests.
  static Record owned(std::string topic, std::int32_t partition, std::int64_t offset,
                      std::optional<std::string> key, std::string value,
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      base::TimePoint timestamp = {});

  [[nodiscard]] std::string_view topic() const { return fields_.topic; }
  [[nodiscard]] std::int32_t partition() const { return fields_.partition; }
  [[nodiscard]] std::int64_t offset() const { return fields_.offset; }
  [[nodiscard]] std::optional<std::string_view> key() const { return fields_.key; }
  [[nodiscard]] std::string_view value() const { return fields_.value; }
  [[nodiscard]] base::TimePoint timestamp() const { return fields_.timestamp; }
  [[nodiscard]] std::size_t header_count() const { return backing_->header_count(); }
  [[nodiscard]] HeaderView header_at(std::size_t index) const { return backing_->header_at(index); }
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    return backing_->header(name);
  }

 private:
  std::unique_ptr<Backing> backing_;
  Fields fields_;
};

}  // namespace iw::kafka
