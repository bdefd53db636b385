#include "iw/alerting/alert_event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "iw/events/timestamp.h"

namespace iw::alerting {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// An instant read by the enricher's timestamp parser, not by the code under test.
Instant at(std::string_view text) {
  auto t = events::parse_timestamp(text, events::TimeZone::utc());
  EXPECT_TRUE(t.has_value()) << text;
  return t ? std::chrono::time_point_cast<Millis>(*t) : Instant{};
}

// Expected fingerprints computed outside this code base, two ways that agree:
//  - Go, hash/fnv New64a written to exactly as prometheus/common model/signature.go
//    labelSetToFingerprint does (sorted names; name, 0xff, value, 0xff);
//  - Python:
//      def fp(labels):
//          h = 14695981039346656037
//          for k in sorted(labels):
//              for b in k.encode() + b'\xff' + labels[k].encode() + b'\xff':
//                  h ^= b; h = (h * 1099511628211) % 2**64
//          return h
TEST(FingerprintTest, IsAlertmanagersLabelSetFingerprint) {
  EXPECT_EQ(fingerprint_of({}), 14695981039346656037ULL);  // FNV-1a 64 offset basis
  EXPECT_EQ(fingerprint_of({{"a", "b"}}), 15182603570120227210ULL);
  EXPECT_EQ(fingerprint_of({{"alertname", "IngestionFailureDetected"},
                            {"objet", "deals"},
                            {"severity", "critical"},
                            {"source", "Zoho"}}),
            12201148620621996800ULL);
  EXPECT_EQ(
      fingerprint_of(
          {{"alertname", "IngestionSourceSilent"}, {"severity", "warning"}, {"source", "PowerBI"}}),
      11123255502940709536ULL);
  EXPECT_EQ(fingerprint_of({{"x", "\xc3\xa9"}}), 9882972356578216533ULL);  // "é", as UTF-8
}

TEST(FingerprintTest, SeparatesNamesFromValues) {
  EXPECT_NE(fingerprint_of({{"ab", "c"}}), fingerprint_of({{"a", "bc"}}));
}

TEST(FingerprintTest, HexIsSixteenLowercaseDigits) {
  EXPECT_EQ(fingerprint_hex(12201148620621996800ULL), "a9533006a7ebe300");
  EXPECT_EQ(fingerprint_hex(14695981039346656037ULL), "cbf29ce484222325");
  EXPECT_EQ(fingerprint_hex(0x1fULL), "000000000000001f");
  EXPECT_EQ(fingerprint_hex(0), "0000000000000000");
  EXPECT_EQ(fingerprint_hex(~0ULL), "ffffffffffffffff");
}

TEST(FingerprintDeathTest, UnsortedLabelsAreABug) {
  EXPECT_DEATH((void)fingerprint_of({{"source", "a"}, {"alertname", "b"}}), "sorted by name");
}

const Labels kLabels = {{"alertname", "IngestionFailureDetected"},
                        {"objet", "deals"},
                        {"severity", "critical"},
                        {"source", "Zoho"}};

TEST(TemplateTest, RendersLabelsAndValue) {
  EXPECT_EQ(render_template("{{ $labels.source }} / {{ $labels.objet }}: a run failed", kLabels, 1),
            "Zoho / deals: a run failed");
  EXPECT_EQ(render_template("{{$labels.source}}{{   $labels.objet\t}}", kLabels, 1), "Zohodeals");
  EXPECT_EQ(render_template("[{{ $labels.resource }}]", kLabels, 1), "[]");  // absent label
  EXPECT_EQ(render_template("no actions }} {", kLabels, 1), "no actions }} {");
  EXPECT_EQ(render_template("", kLabels, 1), "");
}

TEST(TemplateTest, ValueIsShortestRoundTrip) {
  EXPECT_EQ(render_template("{{ $value }}", kLabels, 1), "1");
  EXPECT_EQ(render_template("{{ $value }}", kLabels, 1.0 / 15), "0.06666666666666667");
  EXPECT_EQ(render_template("{{$value}}", kLabels, 157286400), "157286400");
  EXPECT_EQ(render_template("{{ $value }}", kLabels, 0.02), "0.02");
  EXPECT_EQ(render_template("{{ $value }}", kLabels, 1.154133), "1.154133");
  EXPECT_EQ(render_template("{{ $value }}", kLabels, -2.5), "-2.5");
  // Go's spelling, as Prometheus would print them.
  EXPECT_EQ(render_template("{{ $value }}", kLabels, std::numeric_limits<double>::quiet_NaN()),
            "NaN");
  EXPECT_EQ(render_template("{{ $value }}", kLabels, std::numeric_limits<double>::infinity()),
            "+Inf");
}

// Expected strings printed by Go running Prometheus's humanizeDuration (template/template.go)
// on the same inputs.
TEST(TemplateTest, HumanizeDurationMatchesPrometheus) {
  const std::initializer_list<std::pair<double, std::string_view>> kCases = {
      {4500, "1h 15m 0s"},
      {90, "1m 30s"},
      {1.5, "1.5s"},
      {0, "0s"},
      {0.25, "250ms"},
      {-0.25, "-250ms"},
      {59.99, "59.99s"},
      {59.9999, "60s"},
      {86400, "1d 0h 0m 0s"},
      {90061, "1d 1h 1m 1s"},
      {4500.7, "1h 15m 0s"},
      {1e-30, "1e-06ys"},
      {0.0001234, "123.4us"},
      {-4500, "-1h 15m 0s"},
      {1, "1s"},
      {123456789, "1428d 21h 33m 9s"},
      {0.99999995, "1000ms"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
  };
  for (const auto& [seconds, expected] : kCases) {
    EXPECT_EQ(render_template("{{ $value | humanizeDuration }}", kLabels, seconds), expected)
        << seconds;
  }
  EXPECT_EQ(render_template("for {{$value|humanizeDuration}}.", kLabels, 4500), "for 1h 15m 0s.");
  EXPECT_EQ(render_template("{{ $value |  humanizeDuration  }}", kLabels, 90), "1m 30s");
}

TEST(TemplateTest, CheckAcceptsTheThreeActions) {
  EXPECT_THAT(check_template(""), IsEmpty());
  EXPECT_THAT(check_template("plain text with } and { and }}"), IsEmpty());
  EXPECT_THAT(check_template("{{ $labels.source }} {{$value}} {{ $value | humanizeDuration }}"),
              IsEmpty());
  EXPECT_THAT(check_template("{{ $labels._x9 }}"), IsEmpty());
}

TEST(TemplateTest, CheckRejectsEverythingElse) {
  for (const std::string_view text :
       {"{{ .Labels.source }}", "{{ $labels.source | toUpper }}", "{{ $value | humanize }}",
        "{{ $labels. }}", "{{ $labels.1x }}", "{{- $value }}", "{{ $value }}{{ }}", "{{ $values }}",
        "{{ $value humanizeDuration }}", "{{ if $value }}x{{ end }}"}) {
    EXPECT_THAT(check_template(text), HasSubstr("unsupported template action")) << text;
  }
  EXPECT_EQ(check_template("ok {{ $value }} then {{ $labels.source | toUpper }}"),
            "unsupported template action '{{ $labels.source | toUpper }}': only "
            "{{ $labels.<name> }}, {{ $value }} and {{ $value | humanizeDuration }} are supported");
  EXPECT_EQ(check_template("a {{ $value"), "'{{' at offset 2 is never closed by '}}'");
}

TEST(TemplateTest, RenderCopiesWhatCheckRejects) {
  EXPECT_EQ(render_template("x {{ .Labels.source }} {{ $value", kLabels, 1),
            "x {{ .Labels.source }} {{ $value");
}

Rule failure_rule() {
  Rule rule;
  rule.alert = "IngestionFailureDetected";
  rule.annotations = {
      {"description", "{{ $value }} FAILED run(s) of {{ $labels.objet }}"},
      {"summary", "{{ $labels.source }} / {{ $labels.objet }}: a run failed"},
  };
  return rule;
}

Transition transition(const Rule& rule, AlertState from, AlertState to) {
  Transition t;
  t.alert.rule = &rule;
  t.alert.labels = &kLabels;
  t.alert.fingerprint = fingerprint_of(kLabels);
  t.from = from;
  t.to = to;
  t.active_at = at("2025-09-21T08:35:00.000Z");
  t.fired_at = at("2025-09-21T08:35:00.000Z");
  t.at = to == AlertState::kFiring ? t.fired_at : at("2025-09-21T08:40:00.250Z");
  t.value = to == AlertState::kFiring ? 2 : 0;
  return t;
}

TEST(AlertEventTest, FiringEvent) {
  const Rule rule = failure_rule();
  const AlertEvent event = event_of(transition(rule, AlertState::kPending, AlertState::kFiring));
  EXPECT_EQ(event.status, EventStatus::kFiring);
  EXPECT_EQ(event.labels, kLabels);
  EXPECT_EQ(event.annotations, (Labels{{"description", "2 FAILED run(s) of deals"},
                                       {"summary", "Zoho / deals: a run failed"}}));
  EXPECT_EQ(event.starts_at, at("2025-09-21T08:35:00.000Z"));
  EXPECT_FALSE(event.ends_at.has_value());
  EXPECT_EQ(event.value, 2);
  EXPECT_EQ(event.fingerprint, 12201148620621996800ULL);

  // `for: 0`: straight from inactive to firing.
  EXPECT_EQ(event_of(transition(rule, AlertState::kInactive, AlertState::kFiring)).status,
            EventStatus::kFiring);
}

TEST(AlertEventTest, ResolvedEvent) {
  const Rule rule = failure_rule();
  const AlertEvent event = event_of(transition(rule, AlertState::kFiring, AlertState::kInactive));
  EXPECT_EQ(event.status, EventStatus::kResolved);
  EXPECT_EQ(event.starts_at, at("2025-09-21T08:35:00.000Z"));
  EXPECT_EQ(event.ends_at, at("2025-09-21T08:40:00.250Z"));
  EXPECT_EQ(event.annotations[0].second, "0 FAILED run(s) of deals");
}

TEST(AlertEventTest, FiringEventOfAnActiveAlertCarriesItsCurrentValue) {
  const Rule rule = failure_rule();
  const ActiveAlert active{
      .alert = transition(rule, AlertState::kPending, AlertState::kFiring).alert,
      .state = AlertState::kFiring,
      .active_at = at("2025-09-21T08:34:00.000Z"),
      .fired_at = at("2025-09-21T08:35:00.000Z"),
      .value = 3};
  const AlertEvent event = event_of(active);
  EXPECT_EQ(event.status, EventStatus::kFiring);
  EXPECT_EQ(event.starts_at, at("2025-09-21T08:35:00.000Z"));
  EXPECT_FALSE(event.ends_at.has_value());
  EXPECT_EQ(event.annotations[0].second, "3 FAILED run(s) of deals");
  EXPECT_EQ(event.fingerprint, fingerprint_of(kLabels));
  ActiveAlert pending = active;
  pending.state = AlertState::kPending;
  EXPECT_DEATH((void)event_of(pending), "only a firing alert");
}

TEST(AlertEventDeathTest, OnlyFiringAndResolvedHaveEvents) {
  const Rule rule = failure_rule();
  EXPECT_DEATH((void)event_of(transition(rule, AlertState::kInactive, AlertState::kPending)),
               "only a change to firing or to resolved");
  EXPECT_DEATH((void)event_of(transition(rule, AlertState::kPending, AlertState::kInactive)),
               "only a change to firing or to resolved");
}

TEST(AlertEventJsonTest, FiringLine) {
  const Rule rule = failure_rule();
  std::string out = "prefix ";
  append_alert_event(out, event_of(transition(rule, AlertState::kPending, AlertState::kFiring)));
  EXPECT_EQ(out, R"(prefix {"status":"firing",)"
                 R"("labels":{"alertname":"IngestionFailureDetected","objet":"deals",)"
                 R"("severity":"critical","source":"Zoho"},)"
                 R"("annotations":{"description":"2 FAILED run(s) of deals",)"
                 R"("summary":"Zoho / deals: a run failed"},)"
                 R"("startsAt":"2025-09-21T08:35:00.000Z","endsAt":"0001-01-01T00:00:00.000Z",)"
                 R"("value":2,"fingerprint":"a9533006a7ebe300"})");
}

TEST(AlertEventJsonTest, ResolvedLineEscapesAndSorts) {
  AlertEvent event;
  event.status = EventStatus::kResolved;
  event.labels = {{"alertname", "A"}, {"source", "say \"hi\"\n"}};
  event.annotations = {{"summary", "s"}, {"description", "d\\"}};  // not sorted
  event.starts_at = at("2025-09-21T08:35:00.000Z");
  event.ends_at = at("2025-09-21T09:00:01.999Z");
  event.value = 1.0 / 15;
  event.fingerprint = fingerprint_of(event.labels);
  std::string out;
  append_alert_event(out, event);
  EXPECT_EQ(out, R"({"status":"resolved","labels":{"alertname":"A","source":"say \"hi\"\n"},)"
                 R"("annotations":{"description":"d\\","summary":"s"},)"
                 R"("startsAt":"2025-09-21T08:35:00.000Z","endsAt":"2025-09-21T09:00:01.999Z",)"
                 R"("value":0.06666666666666667,"fingerprint":")" +
                     fingerprint_hex(event.fingerprint) + R"("})");
}

TEST(AlertEventJsonTest, NonFiniteValueIsNull) {
  AlertEvent event;
  event.fingerprint = fingerprint_of({});
  for (const double value :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    event.value = value;
    std::string out;
    append_alert_event(out, event);
    EXPECT_THAT(out, HasSubstr(R"("value":null,)"));
    auto back = parse_alert_event(out);
    ASSERT_TRUE(back.has_value()) << back.error().to_string();
    EXPECT_TRUE(std::isnan(back->value));
  }
}

void expect_round_trip(const AlertEvent& event) {
  std::string line;
  append_alert_event(line, event);
  auto back = parse_alert_event(line);
  ASSERT_TRUE(back.has_value()) << back.error().to_string() << "\n" << line;
  EXPECT_EQ(back->status, event.status);
  EXPECT_EQ(back->labels, event.labels);
  EXPECT_EQ(back->annotations, event.annotations);
  EXPECT_EQ(back->starts_at, event.starts_at);
  EXPECT_EQ(back->ends_at, event.ends_at);
  EXPECT_EQ(back->value, event.value);
  EXPECT_EQ(back->fingerprint, event.fingerprint);
  std::string again;
  append_alert_event(again, *back);
  EXPECT_EQ(again, line);
}

TEST(AlertEventJsonTest, RoundTrips) {
  const Rule rule = failure_rule();
  expect_round_trip(event_of(transition(rule, AlertState::kPending, AlertState::kFiring)));
  expect_round_trip(event_of(transition(rule, AlertState::kFiring, AlertState::kInactive)));
  AlertEvent odd;
  odd.status = EventStatus::kResolved;
  odd.labels = {{"alertname", "A\xc3\xa9"}, {"source", "tab\there \"q\" \\ \x01"}};
  odd.starts_at = at("1999-12-31T23:59:59.999Z");
  odd.ends_at = at("2000-01-01T00:00:00.001Z");
  odd.value = 0.1 + 0.2;
  odd.fingerprint = fingerprint_of(odd.labels);
  expect_round_trip(odd);
}

TEST(AlertEventJsonTest, EveryTruncatedLineIsRejected) {
  const Rule rule = failure_rule();
  std::string line;
  append_alert_event(line, event_of(transition(rule, AlertState::kFiring, AlertState::kInactive)));
  for (std::size_t size = 0; size < line.size(); ++size) {
    const auto event = parse_alert_event(std::string_view(line).substr(0, size));
    ASSERT_FALSE(event.has_value()) << "cut at " << size;
    ASSERT_EQ(event.error().code(), base::ErrorCode::kInvalidInput);
  }
}

TEST(AlertEventJsonTest, ParseAcceptsAnyKeyOrderAndUnknownKeys) {
  const std::string json =
      R"({"fingerprint":"d2b371819297f98a","value":3,"generatorURL":"http://x",)"
      R"("endsAt":"0001-01-01T00:00:00.000Z","startsAt":"2025-09-21T08:35:00Z",)"
      R"("annotations":{},"labels":{"a":"b"},"status":"firing"})";
  auto event = parse_alert_event(json);
  ASSERT_TRUE(event.has_value()) << event.error().to_string();
  EXPECT_EQ(event->labels, (Labels{{"a", "b"}}));
  EXPECT_EQ(event->starts_at, at("2025-09-21T08:35:00.000Z"));
  EXPECT_EQ(event->value, 3);
}

TEST(AlertEventJsonTest, ParseErrorsNameTheField) {
  const std::string good =
      R"({"status":"resolved","labels":{"a":"b"},"annotations":{"s":"t"},)"
      R"("startsAt":"2025-09-21T08:35:00.000Z","endsAt":"2025-09-21T08:40:00.000Z",)"
      R"("value":1,"fingerprint":"d2b371819297f98a"})";
  ASSERT_TRUE(parse_alert_event(good).has_value());
  auto error_of = [](std::string_view json) {
    auto event = parse_alert_event(json);
    EXPECT_FALSE(event.has_value()) << json;
    if (event) return std::string();
    EXPECT_EQ(event.error().code(), base::ErrorCode::kInvalidInput);
    return event.error().message();
  };
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string json = good;
    const std::size_t pos = json.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return json.replace(pos, from.size(), to);
  };
  EXPECT_EQ(error_of(replace(R"("resolved")", R"("pending")")),
            R"(status: expected "firing" or "resolved")");
  EXPECT_EQ(error_of(replace(R"({"a":"b"})", R"({"a":1})")), "labels.a: expected a string");
  EXPECT_EQ(error_of(replace(R"({"a":"b"})", R"(["a"])")), "labels: expected an object");
  EXPECT_EQ(error_of(replace(R"({"a":"b"})", R"({"a":"b","a":"c"})")),
            "labels: duplicate name 'a'");
  EXPECT_EQ(error_of(replace("2025-09-21T08:35:00.000Z", "yesterday")),
            "startsAt: not an RFC 3339 timestamp");
  EXPECT_EQ(error_of(replace("2025-09-21T08:40:00.000Z", "0001-01-01T00:00:00.000Z")),
            "endsAt: a resolved alert needs an end");
  EXPECT_EQ(error_of(replace(R"("value":1)", R"("value":"1")")),
            "value: expected a number or null");
  EXPECT_EQ(error_of(replace("d2b371819297f98a", "d2b371819297f98")),
            "fingerprint: expected 16 hex digits");
  EXPECT_EQ(error_of(replace("d2b371819297f98a", "d2b371819297f98b")),
            "fingerprint: does not match the labels (expected d2b371819297f98a)");
  EXPECT_EQ(error_of(replace(R"("value":1,)", "")), "value: missing");
  EXPECT_EQ(error_of(replace(R"("annotations":{"s":"t"},)", "")), "annotations: missing");
  EXPECT_EQ(error_of(replace(R"("status":"resolved",)", "")), "status: missing");
  EXPECT_EQ(error_of(R"({"status":"firing","labels":{},"annotations":{},)"
                     R"("startsAt":"2025-09-21T08:35:00.000Z","endsAt":"2025-09-21T08:40:00.000Z",)"
                     R"("value":1,"fingerprint":"cbf29ce484222325"})"),
            "endsAt: must be 0001-01-01T00:00:00.000Z while firing");
  EXPECT_EQ(error_of("[]"), "event: expected a JSON object");
  EXPECT_EQ(error_of(good + " {}"), "event: text after the JSON object");
  EXPECT_THAT(error_of(good.substr(0, good.size() - 1)), HasSubstr("not JSON"));
  EXPECT_THAT(error_of(good.substr(0, 40)), HasSubstr("not JSON"));
  EXPECT_THAT(error_of(""), HasSubstr("not JSON"));
}

}  // namespace
}  // namespace iw::alerting
