#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace iw::alerting {

/// Event-time instants. The enriched record carries milliseconds, so the rules decide at that
/// resolution and every instant they report is exact.
using Instant = std::chrono::sys_time<std::chrono::milliseconds>;
using Millis = std::chrono::milliseconds;

/// The canonical etat of a run (schema v1 `etat`).
enum class Etat : std::uint8_t { kSuccess, kFailed, kRunning };

/// "SUCCESS", "FAILED" or "RUNNING" (exactly, as the enricher writes them); nothing otherwise.
[[nodiscard]] constexpr std::optional<Etat> etat_from_name(std::string_view name) {
  if (name == "SUCCESS") return Etat::kSuccess;
  if (name == "FAILED") return Etat::kFailed;
  if (name == "RUNNING") return Etat::kRunning;
  return std::nullopt;
}

/// A run as the rules see it (BRIEF §4). Views into the caller's buffer: the evaluator copies
/// what it keeps.
struct Run {
  std::string_view source;
  std::string_view objet;
  Etat etat = Etat::kSuccess;
  /// τ: the run's end (`event.end`).
  Instant end{};
  double duration_seconds = 0;
  std::optional<double> cpu_seconds;
  std::optional<double> memory_bytes;
  /// `event.id`: the same for every copy of one raw record (a producer's resend). A run whose
  /// id the evaluator holds already is not counted again; "" is never a duplicate.
  std::string_view id;
};

}  // namespace iw::alerting
