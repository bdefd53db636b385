#include "iw/kafka/dead_letter.h"

#include <algorithm>
#include <charconv>

#include "iw/base/sha256.h"
#include "iw/base/time_format.h"

namespace iw::kafka {
namespace {

// The header names, once for the writer and the reader.
constexpr std::string_view kReason = "dlq.reason";
constexpr std::string_view kError = "dlq.error";
constexpr std::string_view kStage = "dlq.stage";
constexpr std::string_view kTopic = "dlq.topic";
constexpr std::string_view kPartition = "dlq.partition";
constexpr std::string_view kOffset = "dlq.offset";
constexpr std::string_view kTs = "dlq.ts";
constexpr std::string_view kFile = "dlq.file";
constexpr std::string_view kLine = "dlq.line";
constexpr std::string_view kByteOffset = "dlq.byte_offset";
constexpr std::string_view kOriginalSize = "dlq.original_size";
constexpr std::string_view kSha256 = "dlq.sha256";
constexpr std::string_view kExecutionId = "execution_id";
constexpr std::string_view kTraceparent = "traceparent";

// The whole text as a decimal number of type T, or nullopt.
template <typename T>
std::optional<T> number(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || stop != end || text.empty()) return std::nullopt;
  return value;
}

// Reads `text` into `field`; a value that does not read leaves it nullopt and names the header.
template <typename T, typename Read>
void read(std::optional<T>& field, std::string_view name, std::string_view text, Read read_value,
          ParsedDeadLetter& out) {
  field = read_value(text);
  std::erase(out.malformed, name);  // of a repeated header, only the last value counts
  if (!field) out.malformed.push_back(name);
}

}  // namespace

OversizedValue oversized_value(std::string_view value, std::size_t head_bytes) {
  return {.head = value.substr(0, head_bytes),
          .original_size = value.size(),
          .sha256 = base::to_hex(base::sha256(value))};
}

DeadLetterHeaders::DeadLetterHeaders(const DeadLetter& letter)
    : partition_(std::to_string(letter.partition)),
      offset_(std::to_string(letter.offset)),
      at_(base::format_rfc3339_millis(letter.at)) {
  headers_[count_++] = {kReason, letter.reason};
  headers_[count_++] = {kError, letter.error};
  headers_[count_++] = {kStage, letter.stage};
  headers_[count_++] = {kTopic, letter.topic};
  headers_[count_++] = {kPartition, partition_};
  headers_[count_++] = {kOffset, offset_};
  headers_[count_++] = {kTs, at_};
  if (letter.file) {
    line_ = std::to_string(letter.file->line);
    byte_offset_ = std::to_string(letter.file->byte_offset);
    headers_[count_++] = {kFile, letter.file->file};
    headers_[count_++] = {kLine, line_};
    headers_[count_++] = {kByteOffset, byte_offset_};
  }
  if (letter.oversized) {
    original_size_ = std::to_string(letter.oversized->original_size);
    headers_[count_++] = {kOriginalSize, original_size_};
    headers_[count_++] = {kSha256, letter.oversized->sha256};
  }
  if (!letter.execution_id.empty()) headers_[count_++] = {kExecutionId, letter.execution_id};
  if (!letter.traceparent.empty()) headers_[count_++] = {kTraceparent, letter.traceparent};
}

ParsedDeadLetter parse_dead_letter(const Record& record) {
  ParsedDeadLetter out;
  // One pass over the headers instead of a lookup per name; a later repeat overwrites.
  for (std::size_t i = 0; i < record.header_count(); ++i) {
    const auto [name, value] = record.header_at(i);
    if (name == kReason) {
      out.reason = value;
    } else if (name == kError) {
      out.error = value;
    } else if (name == kStage) {
      out.stage = value;
    } else if (name == kTopic) {
      out.topic = value;
    } else if (name == kPartition) {
      read(out.partition, name, value, number<std::int32_t>, out);
    } else if (name == kOffset) {
      read(out.offset, name, value, number<std::int64_t>, out);
    } else if (name == kTs) {
      read(out.at, name, value, base::parse_rfc3339_millis, out);
    } else if (name == kFile) {
      out.file = value;
    } else if (name == kLine) {
      read(out.line, name, value, number<std::uint64_t>, out);
    } else if (name == kByteOffset) {
      read(out.byte_offset, name, value, number<std::uint64_t>, out);
    } else if (name == kOriginalSize) {
      read(out.original_size, name, value, number<std::uint64_t>, out);
    } else if (name == kSha256) {
      out.sha256 = value;
    } else if (name == kExecutionId) {
      out.execution_id = value;
    } else if (name == kTraceparent) {
      out.traceparent = value;
    }
  }
  return out;
}

}  // namespace iw::kafka
