// ingest-producer as a process against a real Kafka broker (the CTest `kafka` fixture, or a
// broker of the test's own where the test crashes it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "iw/testing/child_process.h"
#include "iw/testing/kafka_cluster.h"

namespace iw::producer {
namespace {

using namespace std::chrono_literals;
using iw::testing::ChildProcess;
using iw::testing::random_name;
using iw::testing::read_topic;
using iw::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const std::vector<std::string> kSources = {"Zoho", "PowerBI", "Efficy", "SharePoint",
                                           "EasyProjects"};

// A run record of about `size` bytes (the Description pads it).
std::string record(std::uint64_t id, std::size_t size = 0) {
  std::string r = "{\"ID\":" + std::to_string(id) + ",\"Source\":\"" + kSources[id % 5] +
                  "\",\"Objet\":\"obj" + std::to_string(id % 10) +
                  "\",\"Etat\":\"SUCCESS\",\"Debut\":\"2025-09-15 10:30:00.000\","
                  "\"Fin\":\"2025-09-15 10:30:01.154\",\"Duree secondes\":1.154,"
                  "\"Description\":\"";
  if (size > r.size() + 2) r.append(size - r.size() - 2, 'x');
  r += "\"}";
  return r;
}

// A number field of the producer's JSON "summary" log line.
std::uint64_t summary_field(const std::string& out, const std::string& field) {
  const auto at = out.find("\"msg\":\"summary\"");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no summary line in:\n" << out;
    return 0;
  }
  std::smatch match;
  const std::string line = out.substr(at, out.find('\n', at) - at);
  if (!std::regex_search(line, match, std::regex("\"" + field + "\":([0-9]+)"))) {
    ADD_FAILURE() << "no " << field << " in " << line;
    return 0;
  }
  return std::stoull(match[1]);
}

class ProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = iw::testing::fixture_bootstrap_servers();
    ASSERT_FALSE(bootstrap_.empty()) << "needs the kafka fixture";
  }

  std::vector<std::string> command(const std::string& input,
                                   std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {IW_PRODUCER_PATH, "--bootstrap-servers", bootstrap_, "--topic",
                                     topic_,           "--dlq-topic",         dlq_topic_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(input);
    return argv;
  }

  static std::vector<std::string> env() { return {"IW_HTTP_LISTEN=127.0.0.1:0"}; }

  TempDir temp_;
  std::string bootstrap_;
  const std::string topic_ = random_name("logs");
  const std::string dlq_topic_ = random_name("dlq");
};

TEST_F(ProducerTest, PublishesEveryRecordKeyedBySourceWithTraceHeaders) {
  std::string ndjson;
  for (std::uint64_t i = 0; i < 500; ++i) ndjson += record(i) + "\n";
  ChildProcess p(temp_.path(), command(temp_.write("logs.ndjson", ndjson).string()), env());
  ASSERT_EQ(p.wait(), 0) << p.err() << p.out();
  EXPECT_EQ(summary_field(p.out(), "sent"), 500u);
  EXPECT_EQ(summary_field(p.out(), "failed"), 0u);

  const auto records = read_topic(bootstrap_, topic_, 500);
  ASSERT_EQ(records.size(), 500u);
  std::set<std::string> values;
  std::set<std::string> traces;
  std::set<std::string> executions;
  for (const auto& r : records) {
    values.insert(r.value);
    // Every record carries its own source as key, unchanged bytes, and the trace headers.
    ASSERT_TRUE(r.key.has_value());
    EXPECT_THAT(r.value, HasSubstr("\"Source\":\"" + *r.key + "\""));
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    // Its flags carry the sampling decision (tracing.sampling_ratio, 1 in 100 by default).
    EXPECT_THAT(r.headers.at("traceparent"), MatchesRegex("00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]"));
    traces.insert(r.headers.at("traceparent"));
    executions.insert(r.headers.at("execution_id"));
  }
  EXPECT_EQ(values.size(), 500u) << "every record exactly once";
  EXPECT_TRUE(values.contains(record(0)) && values.contains(record(499)));
  EXPECT_EQ(traces.size(), 500u) << "one trace per record";
  ASSERT_EQ(executions.size(), 1u) << "one execution id per producer run";
  EXPECT_THAT(p.out(), HasSubstr("\"execution_id\":\"" + *executions.begin() + "\""));
}

TEST_F(ProducerTest, ReadsAJsonArrayTheSameWay) {
  std::string array = "[\n";
  for (std::uint64_t i = 0; i < 50; ++i) array += (i ? ",\n  " : "  ") + record(i);
  array += "\n]\n";
  ChildProcess p(temp_.path(), command(temp_.write("logs.json", array).string()), env());
  ASSERT_EQ(p.wait(), 0) << p.err();
  const auto records = read_topic(bootstrap_, topic_, 50);
  ASSERT_EQ(records.size(), 50u);
  std::set<std::string> values;
  for (const auto& r : records) values.insert(r.value);
  for (std::uint64_t i = 0; i < 50; ++i) EXPECT_TRUE(values.contains(record(i))) << i;
}

TEST_F(ProducerTest, RejectedRecordsAreCountedAndDeadLetteredWithTheirPosition) {
  const std::string good = record(1);
  const std::string lines[] = {good, "not json",          R"({"Objet":"no source"})",
                               good, R"(["an","array"])", R"({"Source": 42})"};
  std::string file;
  std::vector<std::uint64_t> offsets;
  for (const auto& line : lines) {
    offsets.push_back(file.size());
    file += line + "\n";
  }
  ChildProcess p(temp_.path(), command(temp_.write("mixed.ndjson", file).string()), env());
  ASSERT_EQ(p.wait(), 0) << p.err();
  EXPECT_EQ(summary_field(p.out(), "read"), 6u);
  EXPECT_EQ(summary_field(p.out(), "sent"), 2u);
  EXPECT_EQ(summary_field(p.out(), "invalid"), 4u);
  EXPECT_EQ(summary_field(p.out(), "dead_lettered"), 4u);
  EXPECT_THAT(p.out(), HasSubstr("\"msg\":\"record rejected\",\"reason\":\"missing_source\""));

  const auto dead = read_topic(bootstrap_, dlq_topic_, 4);
  ASSERT_EQ(dead.size(), 4u);
  const std::map<std::string, std::tuple<std::string, std::string, std::uint64_t>> expected = {
      {"not json", {"invalid_json", "2", offsets[1]}},
      {R"({"Objet":"no source"})", {"missing_source", "3", offsets[2]}},
      {R"(["an","array"])", {"not_an_object", "5", offsets[4]}},
      {R"({"Source": 42})", {"invalid_source", "6", offsets[5]}}};
  for (const auto& d : dead) {
    ASSERT_TRUE(expected.contains(d.value)) << d.value;
    const auto& [reason, line, offset] = expected.at(d.value);
    EXPECT_EQ(d.headers.at("dlq.reason"), reason);
    EXPECT_EQ(d.headers.at("dlq.line"), line);
    EXPECT_EQ(d.headers.at("dlq.byte_offset"), std::to_string(offset));
    EXPECT_EQ(d.headers.at("dlq.stage"), "producer");
    EXPECT_EQ(d.headers.at("dlq.topic"), topic_);
    EXPECT_THAT(d.headers.at("dlq.file"), HasSubstr("mixed.ndjson"));
    EXPECT_FALSE(d.headers.at("dlq.error").empty());
    EXPECT_TRUE(d.headers.contains("dlq.ts") && d.headers.contains("execution_id"));
  }
  EXPECT_EQ(read_topic(bootstrap_, topic_, 2).size(), 2u);
}

TEST_F(ProducerTest, OnInvalidFailStopsAtTheFirstBadRecordNamingItsPosition) {
  const std::string file = record(1) + "\n" + record(2) + "\n{oops\n" + record(3) + "\n";
  ChildProcess p(temp_.path(),
                 command(temp_.write("bad.ndjson", file).string(), {"--on-invalid", "fail"}),
                 env());
  EXPECT_EQ(p.wait(), 1);
  const std::size_t third_line = record(1).size() + 1 + record(2).size() + 1;
  EXPECT_THAT(p.out(), HasSubstr("line 3, byte " + std::to_string(third_line)));
  EXPECT_EQ(summary_field(p.out(), "read"), 3u);
}

TEST_F(ProducerTest, DryRunChecksWithoutPublishing) {
  const std::string file = record(1) + "\n\"x\"\n";
  ChildProcess p(temp_.path(), command(temp_.write("d.ndjson", file).string(), {"--dry-run"}),
                 env());
  ASSERT_EQ(p.wait(), 0) << p.err();
  EXPECT_EQ(summary_field(p.out(), "invalid"), 1u);
  EXPECT_EQ(summary_field(p.out(), "sent"), 0u);
  EXPECT_THAT(p.err(), HasSubstr("valid"));
}

TEST_F(ProducerTest, RealtimeReplaysAtTheRecordsPaceWithTimesMovedToNow) {
  // Three runs ending one minute apart, replayed 60 times faster: about two seconds.
  std::string file;
  for (int i = 0; i < 3; ++i) {
    file += R"({"Source":"Zoho","Objet":"leads","Debut":"2025-09-15 10:0)" + std::to_string(i) +
            R"(:00.000","Fin":"2025-09-15 10:0)" + std::to_string(i) + R"(:30.000"})" + "\n";
  }
  const auto start = std::chrono::system_clock::now();
  ChildProcess p(temp_.path(),
                 command(temp_.write("rt.ndjson", file).string(), {"--realtime", "--speed", "60"}),
                 env());
  ASSERT_EQ(p.wait(), 0) << p.err();
  const auto took = std::chrono::system_clock::now() - start;
  EXPECT_GE(took, 1900ms);
  const auto records = read_topic(bootstrap_, topic_, 3);
  ASSERT_EQ(records.size(), 3u);
  for (const auto& r : records) {
    // Moved to today, in UTC, with the 30 s duration kept.
    EXPECT_THAT(r.value,
                MatchesRegex(R"(.*"Debut":"20[0-9-]+T[0-9:.]+Z","Fin":"20[0-9-]+T[0-9:.]+Z".*)"));
    EXPECT_THAT(r.value, ::testing::Not(HasSubstr("2025-09-15")));
  }
}

TEST_F(ProducerTest, StreamsAGigabyteWithBoundedMemory) {
  // About 1 GB of ~500-byte records, written without holding it in memory.
  const auto path = temp_.path() / "big.ndjson";
  std::uint64_t count = 0;
  {
    std::ofstream out(path, std::ios::binary);
    std::uint64_t bytes = 0;
    while (bytes < (std::uint64_t{1} << 30)) {
      const std::string line = record(count++, 500) + "\n";
      out << line;
      bytes += line.size();
    }
  }
  ChildProcess p(temp_.path(), command(path.string()), env());
  ASSERT_EQ(p.wait(std::chrono::minutes{10}), 0) << p.err();
  EXPECT_EQ(summary_field(p.out(), "sent"), count);
  EXPECT_EQ(summary_field(p.out(), "failed"), 0u);
  ASSERT_TRUE(p.peak_rss_bytes().has_value());
  EXPECT_LT(*p.peak_rss_bytes(), 100u << 20) << "peak RSS " << (*p.peak_rss_bytes() >> 20) << " MB";
  std::filesystem::remove(path);
  RecordProperty("peak_rss_mb", static_cast<int>(*p.peak_rss_bytes() >> 20));
  RecordProperty("records", std::to_string(count));
}

// A run record whose job ended `id` seconds after 10:00 (so a realtime replay paces them).
std::string timed_record(std::uint64_t id) {
  char end[32] = {};
  std::snprintf(end, sizeof end, "2025-09-15 %02llu:%02llu:%02llu.500",
                static_cast<unsigned long long>(10 + id / 3600),
                static_cast<unsigned long long>(id / 60 % 60),
                static_cast<unsigned long long>(id % 60));
  return "{\"ID\":" + std::to_string(id) + ",\"Source\":\"" + kSources[id % 5] +
         "\",\"Etat\":\"SUCCESS\",\"Debut\":\"2025-09-15 09:59:59.000\",\"Fin\":\"" + end + "\"}";
}

// Stopped part-way by SIGTERM: exit status 3, and --resume publishes the rest; every line is
// in the topic exactly once.
TEST_F(ProducerTest, SigtermThenResumePublishesEveryLineOnce) {
  constexpr std::uint64_t kLines = 20'000;
  std::string file;
  for (std::uint64_t i = 0; i < kLines; ++i) file += record(i) + "\n";
  const std::string input = temp_.write("logs.ndjson", file).string();
  const std::string checkpoint = (temp_.path() / "logs.checkpoint").string();
  const std::vector<std::string> flags = {"--rate", "8000", "--checkpoint", checkpoint, "--resume"};
  {
    ChildProcess p(temp_.path(), command(input, flags), env());
    ASSERT_TRUE(p.wait_for_output("\"msg\":\"publishing\""));
    std::this_thread::sleep_for(1s);
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(), 3) << p.err();
    EXPECT_LT(summary_field(p.out(), "read"), kLines);
  }
  ChildProcess resumed(temp_.path(), command(input, {"--checkpoint", checkpoint, "--resume"}),
                       env());
  EXPECT_EQ(resumed.wait(), 0) << resumed.err();
  EXPECT_THAT(resumed.out(), HasSubstr("\"msg\":\"resuming\""));
  const auto records = read_topic(bootstrap_, topic_, kLines, 60s, 2s);
  std::set<std::string> distinct;
  for (const auto& r : records) distinct.insert(r.value);
  EXPECT_EQ(records.size(), kLines) << "a line published twice, or not at all";
  EXPECT_EQ(distinct.size(), kLines);
}

// SIGKILL mid-file, in --realtime: the checkpoint is at most a second behind, so the resume
// sends again the lines acknowledged after it; each with the same bytes as the first time (the
// same realtime times), so the same event.id downstream. Every line is there; no line is there
// in two versions.
TEST_F(ProducerTest, SigkillThenResumeInRealtimeResendsTheSameBytes) {
  constexpr std::uint64_t kLines = 20'000;
  std::string file;
  for (std::uint64_t i = 0; i < kLines; ++i) file += timed_record(i) + "\n";
  const std::string input = temp_.write("timed.ndjson", file).string();
  const std::string checkpoint = (temp_.path() / "timed.checkpoint").string();
  // 20 000 s of history at speed 8000: about 2.5 s.
  const std::vector<std::string> flags = {"--realtime",   "--speed",  "8000",
                                          "--checkpoint", checkpoint, "--resume"};
  {
    ChildProcess p(temp_.path(), command(input, flags), env());
    ASSERT_TRUE(p.wait_for_output("\"msg\":\"publishing\""));
    std::this_thread::sleep_for(1500ms);
    p.signal(SIGKILL);
    p.wait();
  }
  std::ifstream saved(checkpoint);
  ASSERT_TRUE(saved.good()) << "no checkpoint written within 1.5 s";
  const std::string saved_text(std::istreambuf_iterator<char>(saved), {});
  std::smatch covered;
  ASSERT_TRUE(std::regex_search(saved_text, covered, std::regex("\"records\":([0-9]+)")));
  RecordProperty("checkpointed", covered[1].str());
  ChildProcess resumed(temp_.path(), command(input, flags), env());
  EXPECT_EQ(resumed.wait(), 0) << resumed.err();
  const auto records = read_topic(bootstrap_, topic_, kLines, 60s, 2s);
  std::map<std::string, std::set<std::string>> versions;  // by "ID"
  for (const auto& r : records) {
    const auto id_end = r.value.find(',');
    versions[r.value.substr(0, id_end)].insert(r.value);
  }
  EXPECT_EQ(versions.size(), kLines) << "a line is missing";
  std::size_t changed = 0;
  for (const auto& [id, values] : versions) changed += values.size() > 1 ? 1 : 0;
  EXPECT_EQ(changed, 0U) << "a resent line has other bytes (another event.id)";
  EXPECT_GE(records.size(), kLines);
  RecordProperty("resent", std::to_string(records.size() - kLines));
}

TEST(ProducerFaultTest, BrokerCrashMidRunFailsAndCountsExactlyWhatWasNotDelivered) {
  iw::testing::OwnBroker broker;
  ASSERT_FALSE(broker.bootstrap().empty());
  TempDir temp;
  std::string file;
  // At 4000 records/s this would take 25 s; the crash comes after about 2 s, and failures
  // surface after the 3 s delivery timeout, well before the end of the file.
  constexpr std::uint64_t kRecords = 100'000;
  for (std::uint64_t i = 0; i < kRecords; ++i) file += record(i) + "\n";
  const std::string topic = random_name("logs");
  ChildProcess p(
      temp.path(),
      {IW_PRODUCER_PATH, "--bootstrap-servers", broker.bootstrap(), "--topic", topic, "--rate",
       "4000", "--delivery-timeout", "3s", temp.write("logs.ndjson", file).string()},
      {"IW_HTTP_LISTEN=127.0.0.1:0"});
  ASSERT_TRUE(p.wait_for_output("\"msg\":\"publishing\""));
  std::this_thread::sleep_for(1500ms);  // a few thousand records in
  broker.crash();
  EXPECT_EQ(p.wait(std::chrono::minutes{2}), 1) << p.err();
  const std::string out = p.out();
  const auto read = summary_field(out, "read");
  const auto sent = summary_field(out, "sent");
  const auto failed = summary_field(out, "failed");
  const auto possibly = summary_field(out, "possibly_persisted");
  EXPECT_GT(sent, 0u);
  EXPECT_GT(failed, 0u);
  EXPECT_LT(read, kRecords) << "it must stop reading once the broker is gone";
  EXPECT_EQ(sent + failed, read) << "every record read is either delivered or counted as not";
  EXPECT_THAT(out, HasSubstr("records not delivered"));

  // What is in the topic: every record reported sent, plus at most the ones that timed out in
  // flight and may have been written.
  broker.restart();
  const auto records = read_topic(broker.bootstrap(), topic, sent, 60s, 2s);
  std::set<std::string> distinct;
  for (const auto& r : records) distinct.insert(r.value);
  EXPECT_EQ(distinct.size(), records.size()) << "the idempotent producer wrote no duplicates";
  EXPECT_GE(records.size(), sent);
  EXPECT_LE(records.size(), sent + possibly);
  RecordProperty("read", std::to_string(read));
  RecordProperty("sent", std::to_string(sent));
  RecordProperty("failed", std::to_string(failed));
  RecordProperty("possibly_persisted", std::to_string(possibly));
}

}  // namespace
}  // namespace iw::producer
