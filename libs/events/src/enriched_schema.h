#pragma once

// The enriched record's field names (schema v1, docs/ENRICHED_RECORD.md), spelled once: the
// writer (enricher.cc) joins them into its output fragments at compile time and the reader
// (enriched_record.cc) matches keys against them, so neither can drift from the other.

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

namespace iw::events::schema {

/// A string usable as a template argument (a literal, or one of the names below).
template <std::size_t N>
struct Name {
  char text[N] = {};
  // Implicit on purpose: join<"{\"", kTimestamp, "\":\""> takes literals and names alike.
  consteval Name(const char (&literal)[N]) {  // NOLINT(google-explicit-constructor)
    std::copy_n(literal, N, text);
  }
  [[nodiscard]] constexpr std::string_view view() const { return {text, N - 1}; }
};

template <Name... Parts>
inline constexpr auto kJoined = [] {
  std::array<char, (std::size_t{0} + ... + (sizeof(Parts.text) - 1))> out{};
  auto next = out.begin();
  ((next = std::copy_n(Parts.text, sizeof(Parts.text) - 1, next)), ...);
  return out;
}();

/// Parts joined at compile time: one fragment of the writer's output, or a dotted path such as
/// "performance.cpu_time_sec", costs what a literal costs.
template <Name... Parts>
inline constexpr std::string_view join{kJoined<Parts...>.data(), kJoined<Parts...>.size()};

// Top-level fields and objects.
inline constexpr Name kTimestamp = "@timestamp";
inline constexpr Name kEvent = "event";
inline constexpr Name kSource = "source";
inline constexpr Name kObjet = "objet";
inline constexpr Name kEtat = "etat";
inline constexpr Name kPerformance = "performance";
inline constexpr Name kLabels = "labels";

// Members of those objects (source.name and objet.name share kName; labels.source and
// labels.etat repeat the top-level names on purpose: they are the same values).
inline constexpr Name kEnd = "end";
inline constexpr Name kId = "id";  // event.id (objet.id is the writer's alone)
inline constexpr Name kName = "name";
inline constexpr Name kDureeSecondes = "duree_secondes";
inline constexpr Name kCpuTimeSec = "cpu_time_sec";
inline constexpr Name kMemoryUsedBytes = "memory_used_bytes";
inline constexpr Name kZone = "zone";
inline constexpr Name kEntreprise = "entreprise";

/// The canonical etat values (also labels.etat).
inline constexpr std::string_view kSuccess = "SUCCESS";
inline constexpr std::string_view kFailed = "FAILED";
inline constexpr std::string_view kRunning = "RUNNING";

}  // namespace iw::events::schema
