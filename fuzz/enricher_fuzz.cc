// Fuzzes Enricher::enrich. The same entry point is built two ways: by scripts/fuzz with clang,
// libFuzzer, ASan and UBSan, and by CMake with g++ into a replay driver (replay_main.cc) that
// runs the corpus and seeded mutations of it as a unit test.
//
// Besides "does not crash", it checks what no single example can: the copying and the in-place
// paths agree byte for byte, a defect's reason is a declared one, and an accepted record comes
// out as one line of JSON with facts that make sense.
#include "enricher_fuzz.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "iw/events/enricher.h"

namespace iw::events::fuzz {
namespace {

std::string_view g_last_outcome;

[[noreturn]] void fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "enricher_fuzz: %.*s %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

EnrichOptions fuzz_options() {
  EnrichOptions options;
  // Naive timestamps then go through daylight-saving gaps and overlaps too.
  if (auto paris = TimeZone::from_name("Europe/Paris")) options.time_zone = *paris;
  options.max_record_bytes = 1 << 16;
  return options;
}

struct State {
  Enricher copying{fuzz_options()};
  Enricher in_place{fuzz_options()};
  std::string copied_out;
  std::string in_place_out;
  std::string buffer;
  simdjson::dom::parser checker;
};

bool is_declared(std::string_view reason) {
  const auto reasons = enrich_defect_reasons();
  return std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
}

}  // namespace

std::string_view last_outcome() { return g_last_outcome; }

}  // namespace iw::events::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace iw::events;
  using namespace iw::events::fuzz;
  // Never destroyed: libFuzzer may exit from a signal handler while destructors would run.
  static State& s = *new State();
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const RecordOrigin origin{
      .topic = "ingestion-logs",
      .partition = 1,
      .offset = 7,
      .execution_id = "fuzz",
      .processed_at = iw::base::TimePoint{std::chrono::seconds{1'757'937'600}},
  };

  const auto copied = s.copying.enrich(raw, 0, origin, s.copied_out);
  // The same bytes parsed in place, followed by padding that is not zeros: '}' is what makes
  // simdjson's On-Demand take its other path (simdjson issue #1834).
  s.buffer.assign(raw);
  s.buffer.append(simdjson::SIMDJSON_PADDING, '}');
  const auto in_place = s.in_place.enrich(std::string_view(s.buffer.data(), size),
                                          simdjson::SIMDJSON_PADDING, origin, s.in_place_out);

  if (copied.has_value() != in_place.has_value()) fail("copy and in-place disagree on validity");
  if (!copied) {
    const Defect& d = copied.error();
    // Where simdjson notices broken JSON depends on the padding, so only that message may vary.
    if (d.reason != in_place.error().reason ||
        (d.reason != "invalid_json" && d.message != in_place.error().message)) {
      fail("copy and in-place disagree on the defect",
           d.message + " / " + in_place.error().message);
    }
    if (!is_declared(d.reason)) fail("undeclared defect reason", d.reason);
    if (d.message.empty()) fail("defect without a message", d.reason);
    g_last_outcome = d.reason;
    return 0;
  }
  g_last_outcome = "accepted";
  if (s.copied_out != s.in_place_out) fail("copy and in-place outputs differ", s.copied_out);
  if (s.copied_out.find('\n') != std::string::npos) fail("output is not one line", s.copied_out);
  simdjson::dom::element element;
  if (s.checker.parse(s.copied_out).get(element) != simdjson::SUCCESS || !element.is_object()) {
    fail("output is not a JSON object", s.copied_out);
  }
  const RunFacts& f = *copied;
  if (f.source.empty()) fail("accepted an empty Source");
  if (f.etat != "SUCCESS" && f.etat != "FAILED" && f.etat != "RUNNING") fail("etat", f.etat);
  if (f.end < f.start) fail("end before start", s.copied_out);
  if (!std::isfinite(f.duration_seconds) || f.duration_seconds < 0) {
    fail("bad duration", s.copied_out);
  }
  if (f.cpu_seconds && !(*f.cpu_seconds >= 0)) fail("bad cpu", s.copied_out);
  if (f.memory_bytes && *f.memory_bytes < 0) fail("bad memory", s.copied_out);
  if (f.event_id.size() != 32) fail("event id", f.event_id);
  return 0;
}
