#include "iw/loggen/generator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "iw/base/check.h"

namespace iw::loggen {
namespace {

using namespace std::chrono_literals;

enum class Zone { kRaw, kSilver, kGold };

struct ObjetSpec {
  std::string_view name;
  Zone zone;
  double weight;     // duration relative to the source's median
  double memory_mb;  // resident memory of a small run
};

struct SourceSpec {
  std::string_view name;
  double median_seconds;
  std::string_view entreprise;
  ObjetSpec objets[10];
};

// Durations are per connector: PowerBI's admin API answers fast, SharePoint downloads files.
// Each connector has eight raw extractions, one silver and one gold transformation.
constexpr SourceSpec kCatalogue[] = {
    {"Zoho",
     3.0,
     "akonovia",
     {{"leads", Zone::kRaw, 1.4, 42},
      {"contacts", Zone::kRaw, 1.6, 48},
      {"deals", Zone::kRaw, 1.2, 40},
      {"accounts", Zone::kRaw, 1.0, 36},
      {"campaigns", Zone::kRaw, 0.5, 28},
      {"tasks", Zone::kRaw, 0.9, 34},
      {"calls", Zone::kRaw, 0.8, 32},
      {"invoices", Zone::kRaw, 1.1, 38},
      {"contacts_dedup", Zone::kSilver, 2.0, 70},
      {"pipeline_kpis", Zone::kGold, 2.5, 85}}},
    {"PowerBI",
     1.5,
     "akonovia",
     {{"workspaces", Zone::kRaw, 0.8, 24},
      {"datasets", Zone::kRaw, 1.2, 30},
      {"reports", Zone::kRaw, 1.3, 32},
      {"dashboards", Zone::kRaw, 1.0, 28},
      {"dataflows", Zone::kRaw, 1.1, 30},
      {"apps", Zone::kRaw, 0.6, 22},
      {"users", Zone::kRaw, 0.9, 26},
      {"gateways", Zone::kRaw, 0.5, 20},
      {"refresh_history", Zone::kSilver, 4.0, 60},
      {"usage_metrics", Zone::kGold, 6.0, 90}}},
    {"Efficy",
     5.0,
     "akonovia",
     {{"companies", Zone::kRaw, 1.3, 52},
      {"contacts", Zone::kRaw, 1.5, 58},
      {"opportunities", Zone::kRaw, 1.2, 50},
      {"actions", Zone::kRaw, 1.6, 62},
      {"documents", Zone::kRaw, 2.0, 70},
      {"projects", Zone::kRaw, 0.8, 40},
      {"products", Zone::kRaw, 0.5, 34},
      {"users", Zone::kRaw, 0.4, 30},
      {"opportunities_enriched", Zone::kSilver, 1.8, 70},
      {"sales_forecast", Zone::kGold, 2.4, 80}}},
    {"SharePoint",
     8.0,
     "akonovia",
     {{"sites", Zone::kRaw, 0.4, 30},
      {"lists", Zone::kRaw, 0.6, 36},
      {"list_items", Zone::kRaw, 1.5, 64},
      {"documents", Zone::kRaw, 2.2, 88},
      {"folders", Zone::kRaw, 0.9, 44},
      {"users", Zone::kRaw, 0.3, 28},
      {"groups", Zone::kRaw, 0.3, 28},
      {"permissions", Zone::kRaw, 0.8, 40},
      {"documents_metadata", Zone::kSilver, 1.6, 75},
      {"content_activity", Zone::kGold, 1.8, 90}}},
    // The consulting subsidiary tracks its projects in EasyProjects; hence a second company.
    {"EasyProjects",
     2.5,
     "veltys",
     {{"projects", Zone::kRaw, 1.0, 30},
      {"tasks", Zone::kRaw, 1.6, 40},
      {"timelogs", Zone::kRaw, 2.0, 46},
      {"users", Zone::kRaw, 0.5, 24},
      {"clients", Zone::kRaw, 0.6, 26},
      {"portfolios", Zone::kRaw, 0.4, 22},
      {"milestones", Zone::kRaw, 0.7, 28},
      {"expenses", Zone::kRaw, 0.9, 30},
      {"timelogs_enriched", Zone::kSilver, 2.6, 62},
      {"project_profitability", Zone::kGold, 3.2, 80}}},
};

// How a failure shapes the run: an auth error fails in a second, a timeout takes the full
// timeout, a server error fails part-way through the data.
enum class FailureShape { kFast, kRateLimited, kTimeout30, kTimeout60, kPartial, kOutOfMemory };

struct FailureSpec {
  std::string_view description;
  FailureShape shape;
};

constexpr FailureSpec kFailures[] = {
    {"Erreur 401 : jeton expiré", FailureShape::kFast},
    {"HTTP 401 Unauthorized: invalid_token", FailureShape::kFast},
    {"HTTP 429 Too Many Requests from API", FailureShape::kRateLimited},
    {"Quota d'appels API dépassé, nouvel essai dans 60 s", FailureShape::kRateLimited},
    {"Timeout lors de l'appel à l'API", FailureShape::kTimeout30},
    {"ReadTimeout: Read timed out. (read timeout=60)", FailureShape::kTimeout60},
    {"HTTP 500 Internal Server Error", FailureShape::kPartial},
    {"HTTP 503 Service Unavailable", FailureShape::kFast},
    {"Connexion refusée par le serveur distant", FailureShape::kFast},
    {"Erreur de parsing JSON : réponse vide ou tronquée", FailureShape::kPartial},
    {"Échec de l'écriture dans la zone cible : fichier verrouillé", FailureShape::kPartial},
    {"MemoryError lors de la transformation des données", FailureShape::kOutOfMemory},
    {"KeyError: 'value' missing from API response", FailureShape::kPartial},
};
constexpr std::size_t kFailureCount = std::size(kFailures);

// Benchmark padding: plain ASCII so that it needs no escaping and its byte count is its length.
constexpr std::string_view kFiller =
    "Extraction OK; pages fetched, rows validated and written to the landing zone. ";

constexpr std::string_view zone_name(Zone zone) {
  switch (zone) {
    case Zone::kRaw:
      return "1-Raw";
    case Zone::kSilver:
      return "2-Silver";
    case Zone::kGold:
      return "3-Gold";
  }
  return "1-Raw";
}

constexpr std::string_view transformation_suffix(Zone zone) {
  switch (zone) {
    case Zone::kRaw:
      return "_API_get_data";
    case Zone::kSilver:
      return "_Silver_transform";
    case Zone::kGold:
      return "_Gold_aggregate";
  }
  return "_API_get_data";
}

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

double unit_from_bits(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Deterministic rounding helpers: only IEEE basic operations and std::floor, which are exact,
// so the output does not depend on the platform's libm.
double round_to_hundredths(double x) { return std::floor(x * 100.0 + 0.5) / 100.0; }

}  // namespace

Generator::Generator(GeneratorOptions options) : options_(options) {
  IW_CHECK(options_.step > std::chrono::minutes::zero(), "GeneratorOptions.step must be > 0");
  IW_CHECK(options_.failure_rate >= 0.0 && options_.failure_rate <= 1.0,
           "GeneratorOptions.failure_rate must be in [0, 1]");

  std::uint64_t sm = options_.seed;
  for (auto& word : state_) word = splitmix64(sm);

  // Schedules come from their own stream so that they do not shift with the number of runs.
  std::uint64_t schedule_seed = options_.seed ^ 0x5CEDu;
  for (const auto& source : kCatalogue) {
    for (const auto& objet : source.objets) {
      const std::uint64_t draw = splitmix64(schedule_seed);
      // Scheduled on a whole minute within the step, like a cron entry.
      const std::chrono::minutes offset{
          static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(options_.step.count()))};
      std::string transformation{source.name};
      transformation += transformation_suffix(objet.zone);
      const bool transform = objet.zone != Zone::kRaw;
      jobs_.push_back(Job{
          .source = source.name,
          .objet = objet.name,
          .transformation = std::move(transformation),
          .zone = zone_name(objet.zone),
          .entreprise = source.entreprise,
          .median_seconds = source.median_seconds * objet.weight,
          // API extractions mostly wait on the network; transformations compute.
          .cpu_share = transform ? 0.7 : 0.15,
          .base_memory_mb = objet.memory_mb,
          .memory_mb_per_second = transform ? 2.0 : 0.8,
          .offset = offset,
      });
    }
  }
  // Runs of one cycle plus the stragglers of the previous ones, so next() does not allocate.
  pending_.reserve(jobs_.size() * 4);
}

std::uint64_t Generator::next_u64() {
  // xoshiro256**: small, fast and fully specified, unlike std:: distributions.
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double Generator::next_unit() { return unit_from_bits(next_u64()); }

Generator::Run Generator::make_run(std::uint32_t job_index, base::TimePoint cycle_start) {
  const Job& job = jobs_[job_index];
  // Always draw the same number of values, so that changing failure_rate changes which runs
  // fail and nothing else.
  const double u_fail = next_unit();
  const double u_kind = next_unit();
  const double u_shape = next_unit();
  const double u_spread1 = next_unit();
  const double u_spread2 = next_unit();
  const double u_tail = next_unit();
  const double u_tail_size = next_unit();
  const double u_cpu = next_unit();
  const double u_memory = next_unit();
  const double u_jitter = next_unit();

  // Product of two uniforms: median about 1, range 0.36-1.96; a few runs hit a slow API.
  double seconds = job.median_seconds * (0.6 + 0.8 * u_spread1) * (0.6 + 0.8 * u_spread2);
  if (u_tail < 0.03) seconds *= 2.0 + 2.0 * u_tail_size;
  double memory_factor = 1.0;
  double cpu_share = job.cpu_share;
  // Memory grows with the data a run handles; a run that fails before getting any (auth,
  // rate limit, timeout) stays at its base footprint.
  bool handled_data = true;

  std::int32_t failure = -1;
  if (u_fail < options_.failure_rate) {
    failure = static_cast<std::int32_t>(
        std::min<std::size_t>(static_cast<std::size_t>(u_kind * kFailureCount), kFailureCount - 1));
    switch (kFailures[static_cast<std::size_t>(failure)].shape) {
      case FailureShape::kFast:
        seconds = 0.15 + 1.05 * u_shape;
        cpu_share = 0.1;
        handled_data = false;
        break;
      case FailureShape::kRateLimited:
        seconds = 0.3 + 2.2 * u_shape;
        cpu_share = 0.05;
        handled_data = false;
        break;
      // A timeout is time spent waiting on the API, not computing.
      case FailureShape::kTimeout30:
        seconds = 30.0 + 0.8 * u_shape;
        cpu_share = 0.02;
        handled_data = false;
        break;
      case FailureShape::kTimeout60:
        seconds = 60.0 + 0.8 * u_shape;
        cpu_share = 0.02;
        handled_data = false;
        break;
      case FailureShape::kPartial:
        seconds *= 0.2 + 0.8 * u_shape;
        break;
      case FailureShape::kOutOfMemory:
        memory_factor = 2.2 + 0.6 * u_shape;
        break;
    }
  }
  seconds = std::clamp(seconds, 0.05, 900.0);

  const auto duration =
      std::chrono::microseconds{static_cast<std::int64_t>(std::floor(seconds * 1e6 + 0.5))};
  const double wall = static_cast<double>(duration.count()) / 1e6;
  const double cpu = std::max(0.01, round_to_hundredths(wall * cpu_share * (0.7 + 0.6 * u_cpu)));
  const double memory_mb = (job.base_memory_mb * (0.85 + 0.3 * u_memory) +
                            (handled_data ? wall * job.memory_mb_per_second : 0.0)) *
                           memory_factor;
  // Resident memory is counted in pages.
  const auto pages = static_cast<std::int64_t>(std::floor(memory_mb * 256.0 + 0.5));

  const auto jitter = std::chrono::milliseconds{static_cast<std::int64_t>(u_jitter * 45'000.0)};
  return Run{
      .debut = cycle_start + job.offset + jitter,
      .duration = duration,
      .cpu_time = cpu,
      .memory_used = pages * 4096,
      .job = job_index,
      .failure = failure,
  };
}

namespace {

base::TimePoint end_of(const auto& run) {
  return run.debut + std::chrono::floor<std::chrono::milliseconds>(run.duration);
}

// Min-heap order on (end, job): std::push_heap keeps the largest first, so compare reversed.
struct LaterEnd {
  bool operator()(const auto& a, const auto& b) const {
    const auto ea = end_of(a);
    const auto eb = end_of(b);
    return ea != eb ? ea > eb : a.job > b.job;
  }
};

}  // namespace

void Generator::schedule_cycle() {
  const base::TimePoint cycle_start = options_.start + cycle_ * options_.step;
  for (std::uint32_t j = 0; j < jobs_.size(); ++j) {
    pending_.push_back(make_run(j, cycle_start));
    std::push_heap(pending_.begin(), pending_.end(), LaterEnd{});
  }
  ++cycle_;
}

std::optional<RunRecord> Generator::next_record() {
  if (options_.runs != 0 && produced_ >= options_.runs) return std::nullopt;
  // A run of a cycle not yet scheduled starts at or after that cycle's start, so once the
  // earliest pending end precedes it, the earliest pending run is the next one to end.
  while (pending_.empty() || end_of(pending_.front()) >= options_.start + cycle_ * options_.step) {
    schedule_cycle();
  }
  std::pop_heap(pending_.begin(), pending_.end(), LaterEnd{});
  const Run run = pending_.back();
  pending_.pop_back();

  const Job& job = jobs_[run.job];
  const bool failed = run.failure >= 0;
  RunRecord record{
      .id = options_.first_id + static_cast<std::int64_t>(produced_),
      .source = job.source,
      .objet = job.objet,
      .transformation = job.transformation,
      .etat = failed ? "FAILED" : "SUCCESS",
      .debut = run.debut,
      .fin = end_of(run),
      .duree_secondes = static_cast<double>(run.duration.count()) / 1e6,
      .cpu_time = run.cpu_time,
      .memory_used = run.memory_used,
      .description = failed ? kFailures[static_cast<std::size_t>(run.failure)].description
                            : std::string_view{},
      .zone = job.zone,
      .entreprise = job.entreprise,
  };
  ++produced_;
  return record;
}

bool Generator::next(std::string& out) {
  const std::optional<RunRecord> record = next_record();
  if (!record) return false;
  const std::size_t begin = out.size();
  append_record(out, *record);
  const std::size_t size = out.size() - begin;
  if (options_.target_record_bytes <= size) return true;

  // Pad inside Description, just before its closing quote; Zone and Entreprise follow it and
  // never contain this marker.
  const std::size_t marker = out.rfind("\", \"Zone\": ");
  IW_CHECK(marker != std::string::npos && marker >= begin, "record without Zone");
  const std::size_t pad = options_.target_record_bytes - size;
  const std::size_t tail = out.size() - marker;
  out.resize(out.size() + pad);
  std::memmove(out.data() + marker + pad, out.data() + marker, tail);
  std::size_t at = marker;
  std::size_t left = pad;
  if (!record->description.empty()) {
    out[at++] = ' ';
    --left;
  }
  while (left > 0) {
    const std::size_t n = std::min(left, kFiller.size());
    std::memcpy(out.data() + at, kFiller.data(), n);
    at += n;
    left -= n;
  }
  return true;
}

}  // namespace iw::loggen
