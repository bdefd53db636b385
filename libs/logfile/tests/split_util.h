#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "iw/logfile/splitter.h"

namespace iw::logfile::testing {

/// A record copied out of the splitter, comparable and printable.
struct Rec {
  std::string bytes;
  std::uint64_t line = 0;
  std::uint64_t offset = 0;
  std::optional<Problem> problem;

  friend bool operator==(const Rec&, const Rec&) = default;
  friend void PrintTo(const Rec& rec, std::ostream* os) {
    *os << "{\"" << rec.bytes << "\", line " << rec.line << ", offset " << rec.offset << ", "
        << (rec.problem ? problem_name(*rec.problem) : "ok") << "}";
  }
};

inline Rec copy(const RawRecord& record) {
  return Rec{std::string(record.bytes), record.line, record.byte_offset, record.problem};
}

/// Splits `input`, pouring it in `chunk_bytes` at a time (options.chunk_bytes is replaced), and
/// hands each record to `take` while its view is valid.
template <class Take>
void for_each_record(std::string_view input, ReaderOptions options, std::size_t chunk_bytes,
                     Take take, Format* detected = nullptr) {
  options.chunk_bytes = chunk_bytes;
  RecordSplitter splitter(options);
  std::size_t fed = 0;
  // Generous bound: every call either emits, consumes input or moves towards the end.
  for (std::size_t calls = 0; calls < 16 * (input.size() + 16); ++calls) {
    if (auto record = splitter.next()) {
      take(*record);
      continue;
    }
    if (splitter.at_end()) {
      if (detected != nullptr) *detected = splitter.format();
      return;
    }
    EXPECT_TRUE(splitter.needs_input());
    if (fed < input.size()) {
      fed += splitter.feed(input.substr(fed));
    } else {
      splitter.finish();
    }
  }
  ADD_FAILURE() << "the splitter did not reach the end";
}

/// Splits `input`, pouring it in `chunk_bytes` at a time (options.chunk_bytes is replaced).
inline std::vector<Rec> split(std::string_view input, ReaderOptions options,
                              std::size_t chunk_bytes, Format* detected = nullptr) {
  std::vector<Rec> records;
  for_each_record(
      input, options, chunk_bytes,
      [&](const RawRecord& record) { records.push_back(copy(record)); }, detected);
  return records;
}

/// Splits `input` with chunks of 1, 7, 64 bytes and 1 MiB; expects the same records from each
/// and returns them.
inline std::vector<Rec> split_every_way(std::string_view input, ReaderOptions options = {},
                                        Format* detected = nullptr) {
  const std::vector<Rec> reference = split(input, options, std::size_t{1} << 20, detected);
  for (const std::size_t chunk : {1, 7, 64}) {
    EXPECT_EQ(split(input, options, chunk), reference) << "with chunks of " << chunk << " bytes";
  }
  return reference;
}

}  // namespace iw::logfile::testing
