#pragma once

// The enricher's golden outputs (tests/golden/enricher/*.output.json): real enriched records,
// for the tests of the readers of schema v1; and variants of a record for their error cases.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace iw::testing {

struct EnrichedGolden {
  std::string name;  ///< the file name without ".output.json"
  std::string json;  ///< without the trailing newline
};

/// Every golden output in `dir`, sorted by name.
inline std::vector<EnrichedGolden> enricher_golden_outputs(const std::filesystem::path& dir) {
  constexpr std::string_view kSuffix = ".output.json";
  std::vector<EnrichedGolden> goldens;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    if (!file.ends_with(kSuffix)) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string json{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (json.ends_with('\n')) json.pop_back();
    goldens.push_back({file.substr(0, file.size() - kSuffix.size()), std::move(json)});
  }
  std::ranges::sort(goldens, {}, &EnrichedGolden::name);
  return goldens;
}

/// `record` with the first `from` replaced by `to` (a failed expectation when there is none).
inline std::string replaced(std::string_view record, std::string_view from, std::string_view to) {
  std::string json(record);
  const std::size_t pos = json.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos == std::string::npos) return json;
  return json.replace(pos, from.size(), to);
}

}  // namespace iw::testing
