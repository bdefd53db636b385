#include "sample_data.h"

#include <algorithm>
#include <chrono>

#include "iw/base/check.h"
#include "iw/loggen/generator.h"
#include "iw/loggen/record.h"

namespace iw::loggen::sample {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------------------------
// data/logs.json

constexpr Special kBad[] = {
    {137, "\"Debut\": 12 (required field is a number, not a timestamp string)"},
    {412, "no \"Source\" (required field missing)"},
    {745, "\"Fin\" 2 minutes before \"Debut\", no \"Duree secondes\" (end before start)"},
    {1003, "\"Duree secondes\": -3.2 and no \"Fin\" (negative duration)"},
    {1290, "\"Objet\": null (required field null)"},
    {1618, "no \"Etat\" (required field missing)"},
    {1954, "\"Debut\": \"16/09/2025 14:05\" style date (not ISO 8601)"},
    {2267, "\"Source\": 42 (required field is a number)"},
    {2589, "\"Debut\" at 25:61:00.000 (hour and minute out of range)"},
    {2901, "\"Duree secondes\": \"-0,8\" and no \"Fin\" (negative duration as a numeric string)"},
};

constexpr Special kUnusual[] = {
    {60, "\"Etat\": \"ERROR\" with a description"},
    {300, "\"Etat\": \"RUNNING\""},
    {520, "\"Duree secondes\": \"1,5\" (numeric string, decimal comma), Fin = Debut + 1.5 s"},
    {888, "\"Etat\": \"WARNING\" with a description"},
    {950, "\"Debut\" and \"Fin\" with T and a +02:00 offset (same instants as UTC)"},
    {1100, "\"Etat\": \"failed\" (lower case)"},
    {1500, "\"Etat\": \"ERROR\" with a description"},
    {1750, "\"memory_used\" as a numeric string"},
    {2000, "\"Etat\": \"Success\" (mixed case)"},
    {2100, "\"Debut\" and \"Fin\" without fraction (whole seconds)"},
    {2400, "\"Etat\": \"WARNING\" with a description"},
    {2750, "\"cpu_time\" as a numeric string with a decimal comma"},
    {3100, "no \"Fin\" (derived from Debut + Duree secondes)"},
    {3300, "no \"Duree secondes\" (derived from Fin - Debut)"},
};

// The value of `"key": ...` in a single-line record we wrote: [begin, end).
std::pair<std::size_t, std::size_t> value_span(const std::string& line, std::string_view key) {
  std::string needle = "\"";
  needle += key;
  needle += "\": ";
  const std::size_t at = line.find(needle);
  IW_CHECK(at != std::string::npos, "field not in record");
  const std::size_t begin = at + needle.size();
  std::size_t end = begin;
  if (line[begin] == '"') {
    for (end = begin + 1; line[end] != '"'; ++end) {
      if (line[end] == '\\') ++end;
    }
    ++end;
  } else {
    end = line.find_first_of(",}", begin);
  }
  return {begin, end};
}

void set_field(std::string& line, std::string_view key, std::string_view raw_json) {
  const auto [begin, end] = value_span(line, key);
  line.replace(begin, end - begin, raw_json);
}

void remove_field(std::string& line, std::string_view key) {
  const auto [begin, end] = value_span(line, key);
  const std::size_t start = line.rfind(", \"", begin);
  line.erase(start, end - start);
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string connector_time(base::TimePoint t) {
  std::string out;
  append_connector_timestamp(out, t);
  return out;
}

void write_logs_record(RunRecord r, std::string& line) {
  switch (r.id) {
    // Unusual but valid.
    case 60:
    case 1500:
      r.etat = "ERROR";
      r.description = "HTTP 500 Internal Server Error";
      break;
    case 300:
      r.etat = "RUNNING";
      break;
    case 888:
    case 2400:
      r.etat = "WARNING";
      r.description = "Réponse partielle : 2 pages ignorées après 3 tentatives";
      break;
    case 1100:
      r.etat = "failed";
      r.description = "Connexion refusée par le serveur distant";
      break;
    case 2000:
      r.etat = "Success";
      break;
    case 520:
      r.fin = r.debut + 1500ms;
      r.duree_secondes = 1.5;
      r.cpu_time = 0.21;
      break;
    case 2100: {
      const auto whole = std::chrono::floor<std::chrono::seconds>(r.debut);
      const auto seconds = std::max<std::int64_t>(1, static_cast<std::int64_t>(r.duree_secondes));
      r.debut = whole;
      r.fin = whole + std::chrono::seconds{seconds};
      r.duree_secondes = static_cast<double>(seconds);
      break;
    }
    // Bad.
    case 745:
      r.fin = r.debut - 2min;
      break;
    default:
      break;
  }
  append_record(line, r);

  switch (r.id) {
    case 520:
      set_field(line, "Duree secondes", "\"1,5\"");
      break;
    case 950: {
      // Same instants, written as local time in UTC+2 the way some jobs do.
      for (const auto& [key, t] : {std::pair{"Debut", r.debut}, std::pair{"Fin", r.fin}}) {
        std::string text = connector_time(t + 2h);
        text[10] = 'T';
        text += "+02:00";
        set_field(line, key, quoted(text));
      }
      break;
    }
    case 1750:
      set_field(line, "memory_used", quoted(std::to_string(r.memory_used)));
      break;
    case 2100:
      set_field(line, "Debut", quoted(connector_time(r.debut).substr(0, 19)));
      set_field(line, "Fin", quoted(connector_time(r.fin).substr(0, 19)));
      break;
    case 2750: {
      std::string cpu;
      append_json_double(cpu, r.cpu_time);
      std::replace(cpu.begin(), cpu.end(), '.', ',');
      set_field(line, "cpu_time", quoted(cpu));
      break;
    }
    case 3100:
      remove_field(line, "Fin");
      break;
    case 3300:
      remove_field(line, "Duree secondes");
      break;
    case 137:
      set_field(line, "Debut", "12");
      break;
    case 412:
      remove_field(line, "Source");
      break;
    case 745:
      remove_field(line, "Duree secondes");
      break;
    case 1003:
      remove_field(line, "Fin");
      set_field(line, "Duree secondes", "-3.2");
      break;
    case 1290:
      set_field(line, "Objet", "null");
      break;
    case 1618:
      remove_field(line, "Etat");
      break;
    case 1954: {
      const std::string t = connector_time(r.debut);  // YYYY-MM-DD hh:mm:ss.mmm
      set_field(line, "Debut",
                quoted(t.substr(8, 2) + "/" + t.substr(5, 2) + "/" + t.substr(0, 4) + " " +
                       t.substr(11, 5)));
      break;
    }
    case 2267:
      set_field(line, "Source", "42");
      break;
    case 2589:
      set_field(line, "Debut", quoted(connector_time(r.debut).substr(0, 11) + "25:61:00.000"));
      break;
    case 2901:
      remove_field(line, "Fin");
      set_field(line, "Duree secondes", "\"-0,8\"");
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// data/scenarios

// 2025-09-dd hh:mm:ss.mmm UTC.
base::TimePoint sept(unsigned day, int h, int m, int s = 0, int ms = 0) {
  using namespace std::chrono;
  return sys_days{year{2025} / September / day} + hours{h} + minutes{m} + seconds{s} +
         milliseconds{ms};
}

constexpr std::int64_t kMiB = 1024 * 1024;

// One run of a scenario, described by its end τ as the rules see it.
struct Step {
  base::TimePoint fin;
  milliseconds duration;
  std::string_view objet;
  std::string_view failure;  // empty: SUCCESS
  double cpu_time = 0.3;
  std::int64_t memory_used = 48 * kMiB;
};

DataFile write_scenario(std::string path, std::string_view source, std::int64_t first_id,
                        std::vector<Step> steps) {
  // Jobs write their record when they finish: order by end.
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return a.fin < b.fin; });
  const std::string transformation = std::string(source) + "_API_get_data";
  DataFile file{.path = std::move(path), .content = {}};
  std::int64_t id = first_id;
  for (const Step& step : steps) {
    append_record(file.content,
                  RunRecord{
                      .id = id++,
                      .source = source,
                      .objet = step.objet,
                      .transformation = transformation,
                      .etat = step.failure.empty() ? "SUCCESS" : "FAILED",
                      .debut = step.fin - step.duration,
                      .fin = step.fin,
                      .duree_secondes = static_cast<double>(step.duration.count()) / 1000.0,
                      .cpu_time = step.cpu_time,
                      .memory_used = step.memory_used,
                      .description = step.failure,
                      .zone = "1-Raw",
                      .entreprise = "akonovia",
                  });
    file.content += '\n';
  }
  return file;
}

constexpr std::string_view kAuthError = "Erreur 401 : jeton expiré";
constexpr std::string_view kRateLimited = "HTTP 429 Too Many Requests from API";
constexpr std::string_view kTimeout = "Timeout lors de l'appel à l'API";
constexpr std::string_view kServerError = "HTTP 500 Internal Server Error";
constexpr std::string_view kUnavailable = "HTTP 503 Service Unavailable";

// Rule 1: one FAILED run fires for 5 minutes; two FAILED runs exactly 5 minutes apart hand
// over at the same instant, so the alert does not flap.
DataFile rule1() {
  std::vector<Step> steps;
  for (int k = 0; k <= 24; ++k) {  // contacts every 5 min, 08:00 .. 10:00
    const bool failed = k == 12 || k == 13;
    steps.push_back({.fin = sept(21, 8, 0) + k * 5min,
                     .duration = failed ? 400ms : milliseconds{1800 + 100 * (k % 4)},
                     .objet = "contacts",
                     .failure = failed ? kAuthError : "",
                     .cpu_time = failed ? 0.02 : 0.2,
                     .memory_used = (36 + k % 5) * kMiB});
  }
  for (int k = 0; k <= 11; ++k) {  // deals every 10 min, 08:05:02.154 .. 09:55:02.154
    steps.push_back({.fin = sept(21, 8, 5, 2, 154) + k * 10min,
                     .duration = 2154ms,
                     .objet = "deals",
                     .failure = k == 3 ? kRateLimited : "",
                     .cpu_time = 0.25,
                     .memory_used = (40 + k % 3) * kMiB});
  }
  return write_scenario("scenarios/rule1-failure-detected.ndjson", "ScenarioFailure", 100001,
                        std::move(steps));
}

// Rule 2: four phases with a steady number of runs in every 15-minute window and one FAILED
// run in the middle of each: 9 runs (too few), 15 runs (fires), 50 runs (exactly 2 %, does not
// fire), 10 runs (exactly the minimum, fires).
DataFile rule2() {
  constexpr std::string_view kObjets[] = {"accounts", "contacts", "deals", "leads",    "invoices",
                                          "quotes",   "tasks",    "notes", "products", "users"};
  struct Phase {
    base::TimePoint first;
    std::chrono::seconds spacing;
    int runs;
    int failed_k;
    std::string_view failure;
  };
  const Phase phases[] = {
      {sept(22, 8, 0), 100s, 25, 12, kUnavailable},
      {sept(22, 9, 0), 60s, 35, 17, kTimeout},
      {sept(22, 10, 0), 18s, 100, 50, kAuthError},
      {sept(22, 11, 0), 90s, 21, 10, kServerError},
  };
  std::vector<Step> steps;
  std::size_t i = 0;
  for (const Phase& phase : phases) {
    for (int k = 0; k < phase.runs; ++k, ++i) {
      const bool failed = k == phase.failed_k;
      steps.push_back({.fin = phase.first + k * phase.spacing,
                       .duration = failed && phase.failure == kTimeout
                                       ? milliseconds{30'000}
                                       : milliseconds{1500 + 10 * static_cast<int>(i % 7)},
                       .objet = kObjets[i % std::size(kObjets)],
                       .failure = failed ? phase.failure : "",
                       .cpu_time = 0.15,
                       .memory_used = (30 + static_cast<std::int64_t>(i % 9)) * kMiB});
    }
  }
  return write_scenario("scenarios/rule2-high-failure-rate.ndjson", "ScenarioRate", 200001,
                        std::move(steps));
}

// Rule 3: a gap of exactly 75 minutes (never silent), then a gap of two hours (silent).
DataFile rule3() {
  constexpr std::string_view kObjets[] = {"sites", "lists", "documents"};
  const base::TimePoint ends[] = {sept(23, 8, 0),   sept(23, 8, 15),  sept(23, 8, 30),
                                  sept(23, 8, 45),  sept(23, 9, 0),   sept(23, 10, 15),
                                  sept(23, 10, 30), sept(23, 10, 45), sept(23, 12, 45),
                                  sept(23, 13, 0),  sept(23, 13, 15)};
  std::vector<Step> steps;
  for (std::size_t k = 0; k < std::size(ends); ++k) {
    steps.push_back({.fin = ends[k],
                     .duration = 4200ms,
                     .objet = kObjets[k % std::size(kObjets)],
                     .cpu_time = 0.6,
                     .memory_used = (64 + static_cast<std::int64_t>(k % 4)) * kMiB});
  }
  return write_scenario("scenarios/rule3-source-silent.ndjson", "ScenarioSilent", 300001,
                        std::move(steps));
}

// Rules 4 and 5 share a shape: a run every 3 minutes, so a full 60-minute window holds 20 runs
// and its p95 is the 19th smallest value; one outlier never moves it, two do.
constexpr int kEvery3MinRuns = 101;

// Rule 4: two runs of exactly 60 s (p95 = 60 s, not above), one run of 120 s (alone: not the
// 19th), then 90 s and 100 s nine minutes apart (fires).
DataFile rule4() {
  constexpr std::string_view kObjets[] = {"reports", "datasets", "dashboards", "dataflows"};
  std::vector<Step> steps;
  for (int k = 0; k < kEvery3MinRuns; ++k) {  // 08:00 .. 13:00
    milliseconds duration{4000 + 500 * (k % 5)};
    double cpu = 0.3 + 0.05 * (k % 5);
    switch (k) {
      case 25:
      case 27:
        duration = 60s;
        cpu = 2.5;
        break;
      case 50:
        duration = 120s;
        cpu = 4.8;
        break;
      case 75:
        duration = 90s;
        cpu = 3.6;
        break;
      case 78:
        duration = 100s;
        cpu = 4.0;
        break;
      default:
        break;
    }
    steps.push_back({.fin = sept(24, 8, 0) + k * 3min,
                     .duration = duration,
                     .objet = kObjets[k % std::size(kObjets)],
                     .cpu_time = cpu,
                     .memory_used = (40 + k % 6) * kMiB});
  }
  return write_scenario("scenarios/rule4-latency-p95.ndjson", "ScenarioLatency", 400001,
                        std::move(steps));
}

// Rule 5: the same shape for memory (two runs at exactly 150 MB, then 200 MB and 180 MB) and
// then for CPU (two runs at exactly 60 s, then 75 s and 80 s; these jobs use two cores, so
// their CPU time exceeds their 48 s of wall time and rule 4 stays quiet).
DataFile rule5() {
  constexpr std::string_view kObjets[] = {"documents", "list_items", "folders"};
  std::vector<Step> steps;
  for (int k = 0; k <= 125; ++k) {  // 08:00 .. 14:15
    milliseconds duration{3000 + 250 * (k % 4)};
    double cpu = 0.4 + 0.05 * (k % 5);
    std::int64_t memory = (48 + 2 * (k % 7)) * kMiB;
    switch (k) {
      case 25:
      case 27:
        memory = 150 * kMiB;
        duration = 9s;
        break;
      case 50:
        memory = 200 * kMiB;
        duration = 12s;
        break;
      case 53:
        memory = 180 * kMiB;
        duration = 11s;
        break;
      case 75:
      case 77:
        cpu = 60.0;
        duration = 48s;
        break;
      case 100:
        cpu = 75.0;
        duration = 48s;
        break;
      case 102:
        cpu = 80.0;
        duration = 48s;
        break;
      default:
        break;
    }
    steps.push_back({.fin = sept(25, 8, 0) + k * 3min,
                     .duration = duration,
                     .objet = kObjets[k % std::size(kObjets)],
                     .cpu_time = cpu,
                     .memory_used = memory});
  }
  return write_scenario("scenarios/rule5-resource-overuse.ndjson", "ScenarioResource", 500001,
                        std::move(steps));
}

// Rule 6: exactly 3 FAILED runs in 10 minutes (does not fire), 5 FAILED runs two minutes
// apart (fires), and 4 FAILED runs whose first and last are exactly 10 minutes apart (never
// more than 3 in a half-open window, does not fire). Each object runs alone in its episode so
// that no 15-minute window reaches the 10 runs rule 2 needs.
DataFile rule6() {
  std::vector<Step> steps;
  for (int k = 0; k <= 15; ++k) {  // leads every 3 min, 08:00 .. 08:45
    const bool failed = k >= 5 && k <= 7;
    steps.push_back({.fin = sept(26, 8, 0) + k * 3min,
                     .duration = failed ? 600ms : 1500ms,
                     .objet = "leads",
                     .failure = failed ? kRateLimited : "",
                     .cpu_time = failed ? 0.03 : 0.12});
  }
  for (int k = 0; k <= 20; ++k) {  // deals every 2 min, 09:00 .. 09:40
    const bool failed = k >= 5 && k <= 9;
    steps.push_back({.fin = sept(26, 9, 0) + k * 2min,
                     .duration = failed ? 600ms : 1500ms,
                     .objet = "deals",
                     .failure = failed ? kAuthError : "",
                     .cpu_time = failed ? 0.03 : 0.12});
  }
  for (int k = 0; k <= 18; ++k) {  // contacts every 100 s, 09:50:00 .. 10:20:00
    const bool failed = k == 6 || k == 8 || k == 10 || k == 12;
    steps.push_back({.fin = sept(26, 9, 50) + k * 100s,
                     .duration = failed ? 30'000ms : 1500ms,
                     .objet = "contacts",
                     .failure = failed ? kTimeout : "",
                     .cpu_time = failed ? 0.05 : 0.12});
  }
  return write_scenario("scenarios/rule6-object-error-burst.ndjson", "ScenarioBurst", 600001,
                        std::move(steps));
}

constexpr std::string_view kRule1 = "rule1-failure-detected.ndjson";
constexpr std::string_view kRule2 = "rule2-high-failure-rate.ndjson";
constexpr std::string_view kRule3 = "rule3-source-silent.ndjson";
constexpr std::string_view kRule4 = "rule4-latency-p95.ndjson";
constexpr std::string_view kRule5 = "rule5-resource-overuse.ndjson";
constexpr std::string_view kRule6 = "rule6-object-error-burst.ndjson";

// Worked out by hand in data/scenarios/README.md; the reference evaluator in the tests checks
// every line. The last alert of each file is the source going silent 75 minutes after its last
// run, which nothing resolves once the input has ended.
constexpr ExpectedAlert kExpected[] = {
    {kRule1, "IngestionFailureDetected", "ScenarioFailure", "objet", "deals",
     "2025-09-21T08:35:02.154Z", "2025-09-21T08:40:02.154Z"},
    {kRule1, "IngestionFailureDetected", "ScenarioFailure", "objet", "contacts",
     "2025-09-21T09:00:00.000Z", "2025-09-21T09:10:00.000Z"},
    {kRule1, "IngestionSourceSilent", "ScenarioFailure", "", "", "2025-09-21T11:15:00.000Z", ""},

    {kRule2, "IngestionFailureDetected", "ScenarioRate", "objet", "deals",
     "2025-09-22T08:20:00.000Z", "2025-09-22T08:25:00.000Z"},
    {kRule2, "IngestionFailureDetected", "ScenarioRate", "objet", "deals",
     "2025-09-22T09:17:00.000Z", "2025-09-22T09:22:00.000Z"},
    {kRule2, "IngestionHighFailureRate", "ScenarioRate", "", "", "2025-09-22T09:17:00.000Z",
     "2025-09-22T09:32:00.000Z"},
    {kRule2, "IngestionFailureDetected", "ScenarioRate", "objet", "accounts",
     "2025-09-22T10:15:00.000Z", "2025-09-22T10:20:00.000Z"},
    {kRule2, "IngestionFailureDetected", "ScenarioRate", "objet", "accounts",
     "2025-09-22T11:15:00.000Z", "2025-09-22T11:20:00.000Z"},
    {kRule2, "IngestionHighFailureRate", "ScenarioRate", "", "", "2025-09-22T11:15:00.000Z",
     "2025-09-22T11:30:00.000Z"},
    {kRule2, "IngestionSourceSilent", "ScenarioRate", "", "", "2025-09-22T12:45:00.000Z", ""},

    {kRule3, "IngestionSourceSilent", "ScenarioSilent", "", "", "2025-09-23T12:00:00.000Z",
     "2025-09-23T12:45:00.000Z"},
    {kRule3, "IngestionSourceSilent", "ScenarioSilent", "", "", "2025-09-23T14:30:00.000Z", ""},

    {kRule4, "IngestionLatencyP95Degraded", "ScenarioLatency", "", "", "2025-09-24T11:54:00.000Z",
     "2025-09-24T12:45:00.000Z"},
    {kRule4, "IngestionSourceSilent", "ScenarioLatency", "", "", "2025-09-24T14:15:00.000Z", ""},

    {kRule5, "IngestionResourceOveruse", "ScenarioResource", "resource", "memory",
     "2025-09-25T10:39:00.000Z", "2025-09-25T11:30:00.000Z"},
    {kRule5, "IngestionResourceOveruse", "ScenarioResource", "resource", "cpu",
     "2025-09-25T13:06:00.000Z", "2025-09-25T14:00:00.000Z"},
    {kRule5, "IngestionSourceSilent", "ScenarioResource", "", "", "2025-09-25T15:30:00.000Z", ""},

    {kRule6, "IngestionFailureDetected", "ScenarioBurst", "objet", "leads",
     "2025-09-26T08:15:00.000Z", "2025-09-26T08:26:00.000Z"},
    {kRule6, "IngestionFailureDetected", "ScenarioBurst", "objet", "deals",
     "2025-09-26T09:10:00.000Z", "2025-09-26T09:23:00.000Z"},
    {kRule6, "IngestionObjectErrorBurst", "ScenarioBurst", "objet", "deals",
     "2025-09-26T09:16:00.000Z", "2025-09-26T09:22:00.000Z"},
    {kRule6, "IngestionFailureDetected", "ScenarioBurst", "objet", "contacts",
     "2025-09-26T10:00:00.000Z", "2025-09-26T10:15:00.000Z"},
    {kRule6, "IngestionSourceSilent", "ScenarioBurst", "", "", "2025-09-26T11:35:00.000Z", ""},
};

}  // namespace

std::span<const Special> bad_records() { return kBad; }
std::span<const Special> unusual_records() { return kUnusual; }
std::span<const ExpectedAlert> expected_alerts() { return kExpected; }

std::string build_logs_json() {
  Generator generator({.seed = 20250915, .runs = kLogsRecords, .failure_rate = 0.03});
  std::string out = "[\n";
  std::string line;
  bool first = true;
  while (const auto record = generator.next_record()) {
    line.clear();
    write_logs_record(*record, line);
    if (!first) out += ",\n";
    first = false;
    out += line;
  }
  out += "\n]\n";
  return out;
}

std::vector<DataFile> build_scenarios() {
  return {rule1(), rule2(), rule3(), rule4(), rule5(), rule6()};
}

std::string build_expected_yaml() {
  std::string out =
      "# Expected alerts of data/scenarios/*.ndjson under the BRIEF §4 defaults (for = 0,\n"
      "# keep_firing_for = 0), as exact event-time instants; README.md shows the arithmetic.\n"
      "# An evaluator on a grid may lag each instant by less than one evaluation interval.\n"
      "# resolved_at: null means the condition still holds when the input ends and, without\n"
      "# new input, forever: every scenario source goes silent 75 min after its last run.\n"
      "# Generated by libs/loggen/tests (IW_REGENERATE_DATA=1); do not edit by hand.\n"
      "alerts:\n";
  for (const ExpectedAlert& alert : kExpected) {
    out += "  - scenario: ";
    out += alert.scenario;
    out += "\n    alertname: ";
    out += alert.alertname;
    out += "\n    labels: {source: ";
    out += alert.source;
    if (!alert.key_name.empty()) {
      out += ", ";
      out += alert.key_name;
      out += ": ";
      out += alert.key_value;
    }
    out += "}\n    starts_at: \"";
    out += alert.starts_at;
    out += "\"\n    resolved_at: ";
    if (alert.resolved_at.empty()) {
      out += "null";
    } else {
      out += '"';
      out += alert.resolved_at;
      out += '"';
    }
    out += '\n';
  }
  return out;
}

std::vector<DataFile> build_all() {
  std::vector<DataFile> files{{.path = "logs.json", .content = build_logs_json()}};
  for (auto& scenario : build_scenarios()) files.push_back(std::move(scenario));
  files.push_back({.path = "scenarios/expected.yaml", .content = build_expected_yaml()});
  return files;
}

}  // namespace iw::loggen::sample
