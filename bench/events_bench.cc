// ns per record for Enricher::enrich on realistic ~500-byte run records (iw::loggen), next to
// what simdjson alone costs on the same bytes: a DOM parse, and an On-Demand walk that reads
// every field once; and what each reader of the enriched record (~900 bytes) pays per record:
// the alert evaluator's EnrichedRunReader and the Loki pusher's EntryBuilder::enriched_run.
// Reported as Google Benchmark timings; each iteration is one record.
//
//   build/bench/events_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <string>
#include <vector>

#include "iw/alerting/enriched_run.h"
#include "iw/events/enricher.h"
#include "iw/loggen/generator.h"
#include "iw/loki/encode.h"
#include "iw/loki/entry.h"
#include "pure_bench.h"

namespace {

// Records with SIMDJSON_PADDING readable bytes after each, as a Kafka payload parsed in place.
struct Records {
  std::vector<std::string> buffers;
  std::vector<std::string_view> views;
  std::size_t bytes = 0;
};

const Records& records() {
  static const Records kRecords = [] {
    Records r;
    iw::loggen::Generator generator(
        {.seed = 20250915, .runs = 4096, .failure_rate = 0.03, .target_record_bytes = 500});
    std::string line;
    while (generator.next(line)) {
      r.bytes += line.size();
      line.append(simdjson::SIMDJSON_PADDING, ' ');
      r.buffers.push_back(line);
      line.clear();
    }
    for (const std::string& b : r.buffers) {
      r.views.emplace_back(b.data(), b.size() - simdjson::SIMDJSON_PADDING);
    }
    return r;
  }();
  return kRecords;
}

void report(benchmark::State& state) {
  const Records& r = records();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * r.bytes / r.views.size()));
}

void BM_Enrich(benchmark::State& state, bool in_place) {
  const Records& r = records();
  iw::events::Enricher enricher({});
  std::string out;
  const iw::events::RecordOrigin& origin = iw::bench::kOrigin;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string_view raw = r.views[i++ % r.views.size()];
    auto facts = enricher.enrich(raw, in_place ? simdjson::SIMDJSON_PADDING : 0, origin, out);
    if (!facts) state.SkipWithError("record rejected");
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(facts);
  }
  report(state);
}
BENCHMARK_CAPTURE(BM_Enrich, in_place, true);
BENCHMARK_CAPTURE(BM_Enrich, copied, false);

void BM_SimdjsonDomParse(benchmark::State& state) {
  const Records& r = records();
  simdjson::dom::parser parser;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string_view raw = r.views[i++ % r.views.size()];
    simdjson::dom::element element;
    auto error = parser.parse(raw.data(), raw.size(), false).get(element);
    benchmark::DoNotOptimize(error);
    benchmark::DoNotOptimize(element);
  }
  report(state);
}
BENCHMARK(BM_SimdjsonDomParse);

// The floor for a field-by-field decoder: every key unescaped, every value read by type.
void BM_SimdjsonOnDemandWalk(benchmark::State& state) {
  const Records& r = records();
  simdjson::ondemand::parser parser;
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string_view raw = r.views[i++ % r.views.size()];
    double sum = 0;
    if (!iw::bench::walk_every_field(parser, raw.data(), raw.size(),
                                     raw.size() + simdjson::SIMDJSON_PADDING, sum)) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(sum);
  }
  report(state);
}
BENCHMARK(BM_SimdjsonOnDemandWalk);

// The enricher's output for every record above, as the consumers read it from Kafka.
const std::vector<std::string>& enriched_records() {
  static const std::vector<std::string> kEnriched = [] {
    iw::events::Enricher enricher({});
    const iw::events::RecordOrigin& origin = iw::bench::kOrigin;
    std::vector<std::string> out;
    std::string line;
    for (const std::string_view raw : records().views) {
      if (enricher.enrich(raw, simdjson::SIMDJSON_PADDING, origin, line)) out.push_back(line);
    }
    return out;
  }();
  return kEnriched;
}

void report_enriched(benchmark::State& state) {
  const std::vector<std::string>& e = enriched_records();
  std::size_t bytes = 0;
  for (const std::string& line : e) bytes += line.size();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes / e.size()));
}

void BM_AlertingReadEnrichedRun(benchmark::State& state) {
  const std::vector<std::string>& e = enriched_records();
  iw::alerting::EnrichedRunReader reader;
  std::size_t i = 0;
  for (auto _ : state) {
    auto run = reader.read(e[i++ % e.size()]);
    if (!run) state.SkipWithError("record rejected");
    benchmark::DoNotOptimize(run);
  }
  report_enriched(state);
}
BENCHMARK(BM_AlertingReadEnrichedRun);

// Includes what the entry needs beyond reading: the copy into its line, the labels, the stream.
void BM_LokiEnrichedRunEntry(benchmark::State& state) {
  const std::vector<std::string>& e = enriched_records();
  iw::loki::EntryBuilder builder;
  std::size_t i = 0;
  for (auto _ : state) {
    auto entry = builder.enriched_run(e[i++ % e.size()], {}, iw::base::TimePoint{});
    if (!entry) state.SkipWithError("record rejected");
    benchmark::DoNotOptimize(entry);
  }
  report_enriched(state);
}
BENCHMARK(BM_LokiEnrichedRunEntry);

constexpr std::size_t kBatchEntries = 1000;

// A batch of 1000 enriched runs in one stream; `traced`: each entry carries a trace id, sent as
// structured metadata (docs/TRACING.md).
iw::loki::Batch push_batch(bool traced) {
  const std::vector<std::string>& e = enriched_records();
  iw::loki::Batch batch;
  batch.streams.push_back(
      {.labels = R"({etat="SUCCESS", job="ingestion-logs", source="Zoho"})", .entries = {}});
  for (std::size_t i = 0; i < kBatchEntries; ++i) {
    iw::loki::BatchEntry entry{.timestamp_ns = static_cast<std::int64_t>(i),
                               .line = e[i % e.size()],
                               .ref = {},
                               .event_key = 0,
                               .trace_id = {}};
    if (traced) {
      // Random-looking ids, as real ones are (they do not compress).
      const auto mix = [](std::uint64_t x) {
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
      };
      char traceparent[56];
      std::snprintf(traceparent, sizeof traceparent, "00-%016llx%016llx-00f067aa0ba902b7-01",
                    static_cast<unsigned long long>(mix(2 * i + 1)),
                    static_cast<unsigned long long>(mix(2 * i + 2)));
      entry.trace_id = iw::loki::TraceId::from_traceparent(traceparent);
    }
    batch.streams[0].entries.push_back(std::move(entry));
  }
  return batch;
}

// The push body as the pusher sends it by default (protobuf + snappy), per entry; Arg(1): with
// trace ids, so the difference is what the structured metadata costs a line.
void BM_LokiPushBodyProtobuf(benchmark::State& state) {
  const iw::loki::Batch batch = push_batch(state.range(0) != 0);
  for (auto _ : state) {
    auto body = iw::loki::encode_push(batch, iw::loki::Encoding::kProtobuf);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatchEntries));
}
BENCHMARK(BM_LokiPushBodyProtobuf)->Arg(0)->Arg(1);

// The same without snappy: the encoder alone.
void BM_LokiPushRequestProtobuf(benchmark::State& state) {
  const iw::loki::Batch batch = push_batch(state.range(0) != 0);
  for (auto _ : state) {
    auto bytes = iw::loki::push_request_protobuf(batch);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatchEntries));
}
BENCHMARK(BM_LokiPushRequestProtobuf)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
