// Push bodies: the protobuf is decoded back with libprotobuf's classes generated from Loki's
// push.proto (an independent decoder), and both encodings are compared with the golden files
// tests/golden/loki/push_request.{pb.txt,json}. IW_REGENERATE_GOLDEN=1 rewrites those.
#include "iw/loki/encode.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "iw/loki/compression.h"
#include "loki/push.pb.h"

namespace iw::loki {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::string_view kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kTraceIdHex = "4bf92f3577b34da6a3ce929d0e0e4736";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Compares `actual` with the golden file `name`, or rewrites it when regenerating.
void expect_golden(std::string_view name, const std::string& actual) {
  const fs::path path = fs::path(IW_GOLDEN_DIR) / name;
  const char* regenerate = std::getenv("IW_REGENERATE_GOLDEN");
  if (regenerate != nullptr && std::string_view(regenerate) == "1") {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    return;
  }
  EXPECT_EQ(actual, read_file(path)) << "golden file " << path;
}

// Two run streams and an alert stream, with what makes encoding interesting: nanoseconds, a
// zero fraction, the epoch itself, a time before 1970, escapes and UTF-8 in lines and labels,
// entries with and without a trace id (structured metadata).
Batch golden_batch() {
  Batch batch;
  batch.streams.push_back(
      {.labels = R"({alertname="IngestionFailureDetected", job="ingestion-alerts", )"
                 R"(severity="critical", source="Zoho", status="firing"})",
       .entries = {
           {.timestamp_ns = 1'758'443'700 * kSecond,
            .line = R"({"status":"firing","labels":{"alertname":"IngestionFailureDetected"}})",
            .ref = {},
            .event_key = 0,
            .trace_id = TraceId::from_traceparent(kTraceparent)}}});
  batch.streams.push_back(
      {.labels = R"({etat="FAILED", job="ingestion-logs", source="Sh\"are\\Point é"})",
       .entries = {{.timestamp_ns = -1'500'000'000, .line = "before 1970", .ref = {}},
                   {.timestamp_ns = 0, .line = "the epoch", .ref = {}},
                   {.timestamp_ns = 1'757'932'200 * kSecond + 123'456'789,
                    .line = "tab\there \"quoted\" back\\slash é 😀 \x01",
                    .ref = {},
                    .event_key = 0,
                    .trace_id = TraceId::from_traceparent(
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}}});
  batch.streams.push_back(
      {.labels = R"({entreprise="akonovia", etat="SUCCESS", job="ingestion-logs", )"
                 R"(source="PowerBI", zone="1-Raw"})",
       .entries = {{.timestamp_ns = 1'757'932'200 * kSecond,
                    .line = R"({"@timestamp":"2025-09-15T10:30:00.000Z","etat":"SUCCESS"})",
                    .ref = {}}}});
  return batch;
}

TEST(ProtobufTest, LibprotobufReadsWhatWeWrite) {
  const Batch batch = golden_batch();
  const std::string bytes = push_request_protobuf(batch);
  logproto::PushRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes));
  ASSERT_EQ(request.streams_size(), 3);
  for (int s = 0; s < request.streams_size(); ++s) {
    const auto& stream = request.streams(s);
    const BatchStream& expected = batch.streams[static_cast<std::size_t>(s)];
    EXPECT_EQ(stream.labels(), expected.labels);
    EXPECT_EQ(stream.hash(), 0U);
    ASSERT_EQ(stream.entries_size(), static_cast<int>(expected.entries.size()));
    for (int e = 0; e < stream.entries_size(); ++e) {
      const auto& entry = stream.entries(e);
      const BatchEntry& want = expected.entries[static_cast<std::size_t>(e)];
      EXPECT_TRUE(entry.has_timestamp());
      EXPECT_EQ(entry.timestamp().seconds() * kSecond + entry.timestamp().nanos(),
                want.timestamp_ns);
      EXPECT_GE(entry.timestamp().nanos(), 0);
      EXPECT_LT(entry.timestamp().nanos(), kSecond);
      EXPECT_EQ(entry.line(), want.line);
      if (want.trace_id.empty()) {
        EXPECT_EQ(entry.structuredmetadata_size(), 0);
      } else {
        ASSERT_EQ(entry.structuredmetadata_size(), 1);
        EXPECT_EQ(entry.structuredmetadata(0).name(), "trace_id");
        EXPECT_EQ(entry.structuredmetadata(0).value(), want.trace_id.hex());
      }
    }
  }
  EXPECT_EQ(request.streams(1).entries(0).timestamp().seconds(), -2);
  EXPECT_EQ(request.streams(1).entries(0).timestamp().nanos(), 500'000'000);

  // libprotobuf writes fields in number order and leaves defaults out, as we do: the same bytes.
  EXPECT_EQ(request.SerializeAsString(), bytes);

  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(request, &text));
  expect_golden("push_request.pb.txt", text);
}

// One stream {a="1"} with one entry at 1 ns, line "x", trace id kTraceIdHex.
Batch one_traced_entry() {
  Batch batch;
  batch.streams.push_back({.labels = "{a=\"1\"}",
                           .entries = {{.timestamp_ns = 1,
                                        .line = "x",
                                        .ref = {},
                                        .event_key = 0,
                                        .trace_id = TraceId::from_traceparent(kTraceparent)}}});
  return batch;
}

// The exact bytes of one entry with a trace id, written out by hand from push.proto.
TEST(ProtobufTest, TraceIdIsOneStructuredMetadataPairAfterTheLine) {
  Batch batch = one_traced_entry();
  std::string entry = std::string("\x0a\x02\x10\x01", 4) + "\x12\x01x";  // timestamp, line
  const std::string pair = "\x0a\x08trace_id\x12\x20" + std::string(kTraceIdHex);
  entry += "\x1a" + std::string(1, static_cast<char>(pair.size())) + pair;
  const std::string stream =
      "\x0a\x07{a=\"1\"}\x12" + std::string(1, static_cast<char>(entry.size())) + entry;
  const std::string want = "\x0a" + std::string(1, static_cast<char>(stream.size())) + stream;
  EXPECT_EQ(push_request_protobuf(batch), want);
  EXPECT_EQ(pair.size() + 2, kTraceIdMetadataBytes);

  batch.streams[0].entries[0].trace_id = TraceId();
  logproto::PushRequest request;
  ASSERT_TRUE(request.ParseFromString(push_request_protobuf(batch)));
  EXPECT_EQ(request.streams(0).entries(0).structuredmetadata_size(), 0);
  EXPECT_EQ(push_request_json(batch), R"({"streams":[{"stream":{"a":"1"},"values":[["1","x"]]}]})");
}

TEST(JsonTest, TraceIdIsTheValuesThirdElement) {
  EXPECT_EQ(push_request_json(one_traced_entry()),
            R"({"streams":[{"stream":{"a":"1"},"values":[["1","x",{"trace_id":")" +
                std::string(kTraceIdHex) + R"("}]]}]})");
}

TEST(ProtobufTest, EmptyBatchIsAnEmptyRequest) { EXPECT_EQ(push_request_protobuf(Batch{}), ""); }

TEST(ProtobufTest, LargeLinesNeedLongLengthPrefixes) {
  Batch batch;
  batch.streams.push_back(
      {.labels = "{a=\"1\"}",
       .entries = {{.timestamp_ns = 1, .line = std::string(300'000, 'x'), .ref = {}}}});
  logproto::PushRequest request;
  ASSERT_TRUE(request.ParseFromString(push_request_protobuf(batch)));
  EXPECT_EQ(request.streams(0).entries(0).line().size(), 300'000U);
}

TEST(JsonTest, GoldenAndParsesBack) {
  const Batch batch = golden_batch();
  const std::string json = push_request_json(batch);
  expect_golden("push_request.json", json + "\n");

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS);
  simdjson::dom::array streams = root["streams"];
  ASSERT_EQ(streams.size(), 3U);
  simdjson::dom::object labels = streams.at(1)["stream"];
  EXPECT_EQ(std::string_view(labels["source"]), "Sh\"are\\Point é");
  EXPECT_EQ(std::string_view(labels["job"]), "ingestion-logs");
  simdjson::dom::array values = streams.at(1)["values"];
  ASSERT_EQ(values.size(), 3U);
  EXPECT_EQ(std::string_view(values.at(0).at(0)), "-1500000000");
  EXPECT_EQ(std::string_view(values.at(2).at(0)), "1757932200123456789");
  EXPECT_EQ(std::string_view(values.at(2).at(1)), batch.streams[1].entries[2].line);
  EXPECT_EQ(std::string_view(values.at(2).at(2)["trace_id"]), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(values.at(1).get_array().size(), 2U);
}

TEST(EncodePushTest, ProtobufIsSnappyCompressed) {
  const Batch batch = golden_batch();
  const PushBody body = encode_push(batch, Encoding::kProtobuf);
  EXPECT_EQ(body.content_type, "application/x-protobuf");
  EXPECT_EQ(body.content_encoding, "");
  auto raw = snappy_uncompress(body.bytes, 1 << 20);
  ASSERT_TRUE(raw);
  EXPECT_EQ(*raw, push_request_protobuf(batch));
}

TEST(EncodePushTest, JsonPlainOrGzip) {
  const Batch batch = golden_batch();
  const PushBody plain = encode_push(batch, Encoding::kJson);
  EXPECT_EQ(plain.content_type, "application/json");
  EXPECT_EQ(plain.content_encoding, "");
  EXPECT_EQ(plain.bytes, push_request_json(batch));
  const PushBody gzip = encode_push(batch, Encoding::kJsonGzip);
  EXPECT_EQ(gzip.content_type, "application/json");
  EXPECT_EQ(gzip.content_encoding, "gzip");
  EXPECT_EQ(gzip_uncompress(gzip.bytes, 1 << 20), plain.bytes);
}

}  // namespace
}  // namespace iw::loki
