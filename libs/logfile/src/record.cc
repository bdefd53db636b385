#include "iw/logfile/record.h"

namespace iw::logfile {

std::string_view format_name(Format format) {
  switch (format) {
    case Format::kAuto:
      return "auto";
    case Format::kNdjson:
      return "ndjson";
    case Format::kJsonArray:
      return "json_array";
  }
  return "unknown";
}

std::optional<Format> parse_format(std::string_view text) {
  for (const Format format : {Format::kAuto, Format::kNdjson, Format::kJsonArray}) {
    if (text == format_name(format)) return format;
  }
  return std::nullopt;
}

std::string_view problem_name(Problem problem) {
  switch (problem) {
    case Problem::kOversized:
      return "oversized_record";
    case Problem::kTruncated:
      return "truncated_record";
    case Problem::kUnexpectedContent:
      return "unexpected_content";
  }
  return "unknown";
}

std::string_view describe(Problem problem) {
  switch (problem) {
    case Problem::kOversized:
      return "record is longer than the maximum record size; only its first bytes are kept";
    case Problem::kTruncated:
      return "the input ends inside this record or before the JSON array's closing ']'";
    case Problem::kUnexpectedContent:
      return "text where the JSON array expects an element, ',' or ']' (a missing comma or "
             "stray text), or text outside the array";
  }
  return "unknown problem";
}

std::string describe(const RawRecord& record) {
  std::string text =
      "line " + std::to_string(record.line) + ", byte " + std::to_string(record.byte_offset) + ": ";
  text += record.problem ? describe(*record.problem) : "no problem";
  return text;
}

}  // namespace iw::logfile
