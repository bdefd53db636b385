#include "bench_records.h"

#include <chrono>

namespace iw::bench {

iw::loggen::GeneratorOptions ending_recently(iw::loggen::GeneratorOptions options) {
  using namespace std::chrono_literals;
  iw::base::TimePoint last_end{};
  {
    iw::loggen::Generator probe(options);
    while (const auto record = probe.next_record()) last_end = record->fin;
  }
  options.start += std::chrono::duration_cast<iw::base::TimePoint::duration>(
      std::chrono::system_clock::now() - 2min - last_end);
  return options;
}

iw::loggen::GeneratorOptions recent_minute_cycles(std::size_t runs) {
  return ending_recently(
      {.seed = 23, .step = std::chrono::minutes{1}, .runs = runs, .target_record_bytes = 500});
}

}  // namespace iw::bench
