// ingest-dlq as a process against a real Kafka broker (the CTest `kafka` fixture): a dead-letter
// topic written here with the headers the stages write, then list, summary and replay.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "iw/base/time_format.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/producer.h"
#include "iw/log/logger.h"
#include "iw/testing/child_process.h"
#include "iw/testing/kafka_cluster.h"
#include "iw/trace/trace_context.h"

namespace iw::dlq {
namespace {

using namespace std::chrono_literals;
using iw::testing::ChildProcess;
using iw::testing::random_name;
using iw::testing::read_topic;
using iw::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr std::string_view kTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

struct DeadRecord {
  std::int32_t partition = 0;
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
  std::chrono::milliseconds took{0};
};

using Deliveries = iw::testing::CountingDeliveries;

// The rows of `list`'s table: lines starting with "<partition>/<offset>".
std::vector<std::string> rows(const std::string& out) {
  std::vector<std::string> found;
  std::istringstream in(out);
  static const std::regex kRow("^[0-9]+/[0-9]+ .*");
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, kRow)) found.push_back(line);
  }
  return found;
}

std::vector<std::string> lines(const std::string& out) {
  std::vector<std::string> found;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) found.push_back(line);
  return found;
}

class DlqToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = iw::testing::fixture_bootstrap_servers();
    ASSERT_FALSE(bootstrap_.empty()) << "needs the kafka fixture";
    client_.bootstrap_servers = bootstrap_;
    client_.logger = &logger_;
    // Two DLQ partitions, so the end of the topic must be found on each.
    const auto created =
        iw::testing::create_topics(client_, {{.name = dlq_topic_, .partitions = 2},
                                             {.name = logs_topic_, .partitions = 3},
                                             {.name = enriched_topic_, .partitions = 1}});
    ASSERT_TRUE(created.has_value()) << created.error().to_string();
  }

  // Seven dead-lettered records as the stages write them: two the producer rejected while
  // reading a file, four the enricher rejected (one without dlq.topic), one from the Loki
  // pusher, spread over both partitions.
  std::vector<DeadRecord> fixture() const {
    const auto file_record = [&](std::string reason, std::string error, std::string line,
                                 std::string byte_offset, std::string ts, std::string value) {
      return DeadRecord{
          0,
          std::nullopt,
          std::move(value),
          {{"dlq.reason", std::move(reason)},
           {"dlq.error", std::move(error)},
           {"dlq.stage", "producer"},
           {"dlq.topic", logs_topic_},
           {"dlq.partition", "-1"},
           {"dlq.offset", "-1"},
           {"dlq.ts", std::move(ts)},
           {"dlq.file", "/data/logs.ndjson"},
           {"dlq.line", std::move(line)},
           {"dlq.byte_offset", std::move(byte_offset)},
           {"execution_id", "11111111-1111-4111-8111-111111111111"},
           {"traceparent", "00-11111111111111111111111111111111-1111111111111111-01"}}};
    };
    const auto stage_record = [&](std::int32_t partition, std::string stage, std::string key,
                                  std::string value, std::string reason, std::string topic,
                                  std::string origin_partition, std::string origin_offset,
                                  std::string ts, std::string traceparent) {
      DeadRecord r{partition, std::move(key), std::move(value), {}};
      r.headers = {{"execution_id", "22222222-2222-4222-8222-222222222222"},
                   {"traceparent", std::move(traceparent)},
                   {"content-type", "application/json"},
                   {"dlq.reason", std::move(reason)},
                   {"dlq.error", "Debut: expected a timestamp, got 'hier'"},
                   {"dlq.stage", std::move(stage)}};
      if (!topic.empty()) r.headers.emplace_back("dlq.topic", std::move(topic));
      r.headers.insert(r.headers.end(), {{"dlq.partition", std::move(origin_partition)},
                                         {"dlq.offset", std::move(origin_offset)},
                                         {"dlq.ts", std::move(ts)}});
      return r;
    };
    return {
        file_record("invalid_json", "expected a JSON value", "2", "57", "2025-09-15T10:30:00.000Z",
                    "not json"),
        file_record("missing_source", "Source: required field missing", "3", "66",
                    "2025-09-15T10:30:01.000Z", R"({"Objet":"no source"})"),
        stage_record(0, "enricher", "PowerBI", std::string(kPowerBi), "invalid_timestamp",
                     logs_topic_, "2", "42", "2025-09-15T10:35:00.000Z", std::string(kTrace)),
        stage_record(1, "enricher", "Zoho", std::string(kZoho), "invalid_timestamp", logs_topic_,
                     "0", "7", "2025-09-15T10:36:00.000Z", "not-a-traceparent"),
        stage_record(1, "enricher", "Efficy", R"({"Source":"Efficy","Duree secondes":-1})",
                     "negative_duration", logs_topic_, "1", "9", "2025-09-15T10:37:00.000Z",
                     std::string(kTrace)),
        stage_record(1, "loki-pusher", "SharePoint", R"({"source":{"name":"SharePoint"}})",
                     "loki_rejected", enriched_topic_, "0", "3",
                     base::format_rfc3339_millis(std::chrono::system_clock::now()),
                     std::string(kTrace)),
        stage_record(1, "enricher", "EasyProjects", "{\"Source\":\"EasyProjects\xff\xfe\"}",
                     "invalid_utf8", "", "2", "11", "2025-09-15T10:38:00.000Z",
                     std::string(kTrace)),
    };
  }

  void write(const std::vector<DeadRecord>& records) {
    Deliveries deliveries;
    auto producer = kafka::make_producer({.client = client_}, deliveries);
    ASSERT_TRUE(producer.has_value()) << producer.error().to_string();
    for (const DeadRecord& r : records) {
      std::vector<kafka::HeaderView> headers;
      for (const auto& [k, v] : r.headers) headers.push_back({k, v});
      std::optional<std::string_view> key;
      if (r.key) key = *r.key;
      auto status = (*producer)->produce({.topic = dlq_topic_,
                                          .partition = r.partition,
                                          .key = key,
                                          .value = r.value,
                                          .headers = headers},
                                         0);
      ASSERT_TRUE(status.has_value()) << status.error().to_string();
    }
    ASSERT_TRUE((*producer)->flush(30s).has_value());
    ASSERT_EQ(deliveries.delivered, static_cast<int>(records.size()));
  }

  Outcome run(const std::string& command, std::vector<std::string> extra = {},
              std::string topic = {}) const {
    std::vector<std::string> argv = {IW_DLQ_PATH, command,   "--bootstrap-servers",
                                     bootstrap_,  "--topic", topic.empty() ? dlq_topic_ : topic};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto start = std::chrono::steady_clock::now();
    ChildProcess p(temp_.path(), argv, {"IW_HTTP_LISTEN=127.0.0.1:0"});
    Outcome result;
    result.status = p.wait(60s);
    result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    result.out = p.out();
    result.err = p.err();
    return result;
  }

  static constexpr std::string_view kPowerBi =
      R"({"ID":1224,"Source":"PowerBI","Objet":"workspaces","Etat":"SUCCESS","Debut":"hier"})";
  static constexpr std::string_view kZoho =
      R"({"ID":7,"Source":"Zoho","Objet":"leads","Etat":"FAILED","Debut":"31/02/2025"})";

  TempDir temp_;
  std::string bootstrap_;
  log::MemorySink sink_;
  log::Logger logger_{"dlq-test", sink_};
  kafka::ClientOptions client_;
  const std::string dlq_topic_ = random_name("dlq");
  const std::string logs_topic_ = random_name("logs");
  const std::string enriched_topic_ = random_name("enriched");
};

TEST_F(DlqToolTest, ListPrintsEveryRecordThenTheCountsByReasonAndStage) {
  write(fixture());
  // A long idle timeout: the read must end on the partitions' end offsets, not on silence.
  const Outcome all = run("list", {"--idle-timeout", "30s"});
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_LT(all.took, 20s) << "the end of the topic was found by waiting, not by its offsets";
  const std::vector<std::string> found = rows(all.out);
  ASSERT_EQ(found.size(), 7u) << all.out;
  EXPECT_THAT(all.out, StartsWith("DLQ "));
  EXPECT_THAT(all.out, Not(HasSubstr("\"msg\""))) << "log lines belong on stderr";
  EXPECT_THAT(all.err, HasSubstr("\"msg\":\"started\""));
  const std::vector<std::string> tail = lines(all.out);
  ASSERT_GE(tail.size(), 3u);
  EXPECT_EQ(tail[tail.size() - 3], "7 records");
  EXPECT_EQ(tail[tail.size() - 2],
            "by reason: invalid_timestamp 2, invalid_json 1, invalid_utf8 1, loki_rejected 1, "
            "missing_source 1, negative_duration 1");
  EXPECT_EQ(tail[tail.size() - 1], "by stage: enricher 4, producer 2, loki-pusher 1");
  // Producer records show their place in the file, Kafka-stage records their topic position.
  EXPECT_THAT(all.out, HasSubstr("0/0         2025-09-15T10:30:00.000Z  producer     invalid_json"
                                 "        /data/logs.ndjson:2"));
  EXPECT_THAT(all.out, HasSubstr("0/2         2025-09-15T10:35:00.000Z  enricher     "
                                 "invalid_timestamp   " +
                                 logs_topic_ + "/2/42"));
  EXPECT_THAT(all.out, HasSubstr("PowerBI       Debut: expected a timestamp, got 'hier'"));

  const Outcome filtered = run("list", {"--reason", "invalid_timestamp", "--stage", "enricher"});
  ASSERT_EQ(filtered.status, 0) << filtered.err;
  EXPECT_EQ(rows(filtered.out).size(), 2u) << filtered.out;
  EXPECT_THAT(filtered.out, HasSubstr("\n2 records\n"));

  const Outcome either = run("list", {"--reason=invalid_json,missing_source"});
  EXPECT_EQ(rows(either.out).size(), 2u) << either.out;

  const Outcome recent = run("list", {"--since", "1h"});
  ASSERT_EQ(recent.status, 0) << recent.err;
  ASSERT_EQ(rows(recent.out).size(), 1u) << recent.out;
  EXPECT_THAT(rows(recent.out)[0], HasSubstr("loki_rejected"));

  const Outcome since = run("list", {"--since", "2025-09-15T10:36:00Z"});
  EXPECT_EQ(rows(since.out).size(), 4u) << since.out;

  const Outcome limited = run("list", {"--limit", "3"});
  ASSERT_EQ(limited.status, 0) << limited.err;
  EXPECT_EQ(rows(limited.out).size(), 3u) << limited.out;
  EXPECT_THAT(limited.out, HasSubstr("\n3 records\n"));
}

TEST_F(DlqToolTest, ListAsJsonPrintsOneObjectPerRecordWithEveryHeaderAndTheValue) {
  write(fixture());
  const Outcome json = run("list", {"--format", "json"});
  ASSERT_EQ(json.status, 0) << json.err;
  const std::vector<std::string> objects = lines(json.out);
  ASSERT_EQ(objects.size(), 7u) << json.out;
  for (const std::string& o : objects) {
    EXPECT_THAT(o, StartsWith("{\"partition\":"));
    EXPECT_THAT(o, HasSubstr("\"dlq.reason\":"));
    EXPECT_THAT(o, HasSubstr("\"execution_id\":"));
  }
  EXPECT_THAT(json.out, HasSubstr(R"("key":"PowerBI","headers":{"execution_id":"22222222-2222-)"));
  EXPECT_THAT(json.out, HasSubstr(R"("dlq.file":"/data/logs.ndjson","dlq.line":"2")"));
  EXPECT_THAT(json.out, HasSubstr(R"("key":null)"));
  // Invalid UTF-8 cannot be a JSON string; its exact bytes come as base64.
  EXPECT_THAT(json.out, HasSubstr(R"("value_base64":"eyJTb3VyY2UiOiJFYXN5UHJvamVjdHP//iJ9")"));
  EXPECT_THAT(json.err, HasSubstr("7 records"));
}

TEST_F(DlqToolTest, SummaryCountsByStageAndReason) {
  write(fixture());
  const Outcome table = run("summary");
  ASSERT_EQ(table.status, 0) << table.err;
  const std::vector<std::string> got = lines(table.out);
  ASSERT_EQ(got.size(), 8u) << table.out;
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"enricher invalid_timestamp", "2"},
      {"enricher invalid_utf8", "1"},
      {"enricher negative_duration", "1"},
      {"loki-pusher loki_rejected", "1"},
      {"producer invalid_json", "1"},
      {"producer missing_source", "1"},
      {"total", "7"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    std::istringstream row(got[i + 1]);
    std::string word;
    std::vector<std::string> words;
    while (row >> word) words.push_back(word);
    const std::string count = words.back();
    words.pop_back();
    std::string label;
    for (const auto& w : words) label += (label.empty() ? "" : " ") + w;
    EXPECT_EQ(label, expected[i].first) << got[i + 1];
    EXPECT_EQ(count, expected[i].second) << got[i + 1];
  }

  const Outcome json = run("summary", {"--format", "json", "--stage", "producer"});
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_EQ(json.out,
            R"({"total":2,"counts":[{"stage":"producer","reason":"invalid_json","records":1},)"
            R"({"stage":"producer","reason":"missing_source","records":1}]})"
            "\n");
}

TEST_F(DlqToolTest, ReplaySendsExactlyTheSelectedRecordsToTheirOriginalTopic) {
  write(fixture());
  const Outcome replay = run("replay", {"--reason", "invalid_timestamp"});
  ASSERT_EQ(replay.status, 0) << replay.err << replay.out;
  EXPECT_THAT(replay.out, HasSubstr("replayed 2 records (selected 2: 0 skipped, 0 failed)\n  " +
                                    logs_topic_ + "  2\n"));
  EXPECT_THAT(replay.out, HasSubstr("0/2  ->  " + logs_topic_ + "/"));
  EXPECT_THAT(replay.out, HasSubstr("1/0  ->  " + logs_topic_ + "/"));

  const auto replayed = read_topic(bootstrap_, logs_topic_, 2, 60s, 2s);
  ASSERT_EQ(replayed.size(), 2u);
  std::map<std::string, iw::testing::ConsumedRecord> by_key;
  for (const auto& r : replayed) {
    ASSERT_TRUE(r.key.has_value());
    by_key[*r.key] = r;
  }
  ASSERT_TRUE(by_key.contains("PowerBI") && by_key.contains("Zoho"));
  const auto& powerbi = by_key["PowerBI"];
  const auto& zoho = by_key["Zoho"];
  EXPECT_EQ(powerbi.value, kPowerBi);
  EXPECT_EQ(zoho.value, kZoho);
  for (const auto* r : {&powerbi, &zoho}) {
    EXPECT_EQ(r->headers.at("execution_id"), "22222222-2222-4222-8222-222222222222");
    EXPECT_EQ(r->headers.at("content-type"), "application/json");
    for (const auto& [name, value] : r->headers) {
      if (name != "dlq.replayed_from") {
        EXPECT_THAT(name, Not(StartsWith("dlq."))) << name;
      }
    }
    EXPECT_EQ(r->headers.size(), 4u);
  }
  EXPECT_EQ(powerbi.headers.at("dlq.replayed_from"), dlq_topic_ + "/0/2");
  EXPECT_EQ(zoho.headers.at("dlq.replayed_from"), dlq_topic_ + "/1/0");
  // The PowerBI record's trace continues with a new span; Zoho's could not be parsed, so it
  // starts a new trace.
  const auto continued = trace::TraceParent::parse(powerbi.headers.at("traceparent"));
  ASSERT_TRUE(continued.has_value());
  EXPECT_EQ(continued->trace_id(), kTrace.substr(3, 32));
  EXPECT_NE(continued->span_id(), kTrace.substr(36, 16));
  EXPECT_TRUE(trace::TraceParent::parse(zoho.headers.at("traceparent")).has_value());

  // Nothing went anywhere else, and the dead-letter topic still holds all seven.
  EXPECT_TRUE(read_topic(bootstrap_, enriched_topic_, 0, 10s, 3s).empty());
  EXPECT_EQ(read_topic(bootstrap_, dlq_topic_, 7, 60s, 1s).size(), 7u);
}

TEST_F(DlqToolTest, ReplayDryRunSendsNothingAndRecordsWithoutATopicAreSkipped) {
  write(fixture());
  const Outcome dry = run("replay", {"--dry-run"});
  ASSERT_EQ(dry.status, 0) << dry.err << dry.out;
  EXPECT_THAT(dry.out, HasSubstr("dry run: would replay 6 records (selected 7: 1 skipped)\n"));
  EXPECT_THAT(dry.out, HasSubstr("  " + enriched_topic_ + "  1\n"));
  EXPECT_THAT(dry.out, HasSubstr("  " + logs_topic_ + "  5\n"));
  EXPECT_THAT(dry.out, HasSubstr("skipped: no_destination 1\n"));
  EXPECT_TRUE(read_topic(bootstrap_, logs_topic_, 0, 10s, 3s).empty());

  const Outcome nowhere = run("replay", {"--reason", "invalid_utf8"});
  ASSERT_EQ(nowhere.status, 0) << nowhere.err << nowhere.out;
  EXPECT_THAT(nowhere.out, HasSubstr("replayed 0 records (selected 1: 1 skipped, 0 failed)\n"));

  const Outcome loki = run("replay", {"--stage", "loki-pusher"});
  ASSERT_EQ(loki.status, 0) << loki.err << loki.out;
  const auto enriched = read_topic(bootstrap_, enriched_topic_, 1, 60s, 2s);
  ASSERT_EQ(enriched.size(), 1u);
  EXPECT_EQ(enriched[0].key, "SharePoint");
  EXPECT_EQ(enriched[0].value, R"({"source":{"name":"SharePoint"}})");
  EXPECT_TRUE(read_topic(bootstrap_, logs_topic_, 0, 10s, 3s).empty());
}

TEST_F(DlqToolTest, ACommitMarkerAtTheEndIsLeftToTheIdleTimeout) {
  // A transactional writer's commit marker takes the last offset, and no record is ever
  // delivered for it: the end offset is never reached, so silence must end the read.
  Deliveries deliveries;
  auto producer = kafka::make_producer(
      {.client = client_, .transactional_id = random_name("dlq-writer")}, deliveries);
  ASSERT_TRUE(producer.has_value()) << producer.error().to_string();
  ASSERT_TRUE((*producer)->init_transactions(30s).has_value());
  ASSERT_TRUE((*producer)->begin_transaction().has_value());
  for (const DeadRecord& r : fixture()) {
    if (r.partition != 0) continue;
    std::vector<kafka::HeaderView> headers;
    for (const auto& [k, v] : r.headers) headers.push_back({k, v});
    ASSERT_TRUE(
        (*producer)
            ->produce({.topic = dlq_topic_, .partition = 0, .value = r.value, .headers = headers},
                      0)
            .has_value());
  }
  const auto committed = (*producer)->commit_transaction(30s);
  ASSERT_TRUE(committed.has_value()) << committed.error().to_string();
  // The commit returns before the broker writes its markers; until then a read_committed
  // reader (the tool is one) sees an empty partition.
  ASSERT_EQ(read_topic(bootstrap_, dlq_topic_, 3).size(), 3u);

  const Outcome listed = run("list", {"--idle-timeout", "1s"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  EXPECT_EQ(rows(listed.out).size(), 3u) << listed.out;
  EXPECT_GE(listed.took, 1s);
  EXPECT_LT(listed.took, 20s);
  EXPECT_THAT(listed.err, HasSubstr("read ended on idle_timeout before the end offsets"));
  EXPECT_THAT(listed.err, HasSubstr(R"x("undelivered_offsets":"0:[3,4)")x"));
}

TEST_F(DlqToolTest, AnEmptyTopicListsNothingAndAMissingOneIsAnError) {
  const Outcome empty = run("list", {"--idle-timeout", "30s"});
  ASSERT_EQ(empty.status, 0) << empty.err;
  EXPECT_EQ(empty.out, "0 records\n");
  EXPECT_LT(empty.took, 20s) << empty.err;

  const std::string typo = random_name("no-such-topic");
  const Outcome missing = run("summary", {}, typo);
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.err, HasSubstr("topic '" + typo + "' does not exist"));
  EXPECT_EQ(missing.out, "");
  // Asking about a topic must not have created it.
  kafka::ClientOptions no_create = client_;
  no_create.properties["allow.auto.create.topics"] = "false";
  auto admin = kafka::make_admin(no_create);
  ASSERT_TRUE(admin.has_value());
  auto count = (*admin)->partition_count(typo, 10s);
  ASSERT_FALSE(count.has_value()) << "created with " << *count << " partitions";
  EXPECT_EQ(count.error().code(), base::ErrorCode::kNotFound);

  const Outcome unknown = run("purge");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'purge'"));
}

}  // namespace
}  // namespace iw::dlq
