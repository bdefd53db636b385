#include "iw/loki/batcher.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace iw::loki {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

constexpr std::int64_t kSecond = 1'000'000'000;
const base::TimePoint kNow{std::chrono::seconds{1'757'932'200}};
constexpr std::int64_t kNowNs = 1'757'932'200 * kSecond;

Entry entry(std::string stream, std::int64_t timestamp_ns, std::string line,
            std::int64_t offset = 0) {
  return Entry{.stream = std::move(stream),
               .timestamp_ns = timestamp_ns,
               .line = std::move(line),
               .ref = {.topic = 0, .partition = 0, .offset = offset}};
}

std::vector<std::int64_t> offsets(const BatchStream& stream) {
  std::vector<std::int64_t> out;
  for (const BatchEntry& e : stream.entries) out.push_back(e.ref.offset);
  return out;
}

TEST(BatcherTest, GroupsPerStreamInTimestampOrder) {
  base::FakeClock clock(kNow);
  Batcher batcher({}, clock);
  EXPECT_FALSE(batcher.add(entry("{b=\"2\"}", 30, "b30", 0)));
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", 20, "a20", 1)));
  EXPECT_FALSE(batcher.add(entry("{b=\"2\"}", 10, "b10", 2)));
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", 20, "a20-again", 3)));  // equal: arrival order
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", 5, "a5", 4)));
  EXPECT_EQ(batcher.pending_entries(), 5U);
  batcher.flush();
  auto batch = batcher.next();
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batcher.empty());
  ASSERT_EQ(batch->streams.size(), 2U);
  EXPECT_EQ(batch->streams[0].labels, "{a=\"1\"}");
  EXPECT_EQ(offsets(batch->streams[0]), (std::vector<std::int64_t>{4, 1, 3}));
  EXPECT_EQ(batch->streams[1].labels, "{b=\"2\"}");
  EXPECT_EQ(offsets(batch->streams[1]), (std::vector<std::int64_t>{2, 0}));
  EXPECT_EQ(batch->streams[0].entries[1].line, "a20");
  EXPECT_EQ(batch->entry_count, 5U);
  // Lines, the per-entry overhead, and each stream's labels once.
  EXPECT_EQ(batch->byte_size, 3 + 3 + 3 + 9 + 2 + 5 * kEntryOverheadBytes + 7 + 7);
  EXPECT_FALSE(batcher.next());
}

TEST(BatcherTest, CutsByEntryCount) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_entries = 2}, clock);
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", i, "x", i)));
  auto first = batcher.next();
  auto second = batcher.next();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(offsets(first->streams[0]), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(offsets(second->streams[0]), (std::vector<std::int64_t>{2, 3}));
  EXPECT_FALSE(batcher.next());  // the fifth waits for more or for max_batch_wait
  EXPECT_EQ(batcher.pending_entries(), 1U);
}

TEST(BatcherTest, CutsBeforeExceedingBytes) {
  base::FakeClock clock(kNow);
  const std::string line(100, 'x');
  const std::size_t first_size = 7 + line.size() + kEntryOverheadBytes;
  const std::size_t next_size = line.size() + kEntryOverheadBytes;
  Batcher batcher({.max_batch_bytes = first_size + 2 * next_size + 1}, clock);
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", i, line, i)));
  auto batch = batcher.next();
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->entry_count, 3U);
  EXPECT_EQ(batch->byte_size, first_size + 2 * next_size);
  EXPECT_EQ(batcher.pending_bytes(), first_size);  // the fourth opened a new batch
}

TEST(BatcherTest, TraceIdsAreCountedAndKept) {
  base::FakeClock clock(kNow);
  const std::string line(100, 'x');
  Entry traced = entry("{a=\"1\"}", 1, line, 1);
  traced.trace_id =
      TraceId::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  const std::size_t first_size = 7 + line.size() + kEntryOverheadBytes + kTraceIdMetadataBytes;
  const std::size_t plain_size = line.size() + kEntryOverheadBytes;
  // Room for the traced entry and one plain one, not a second traced one.
  Batcher batcher({.max_batch_bytes = first_size + plain_size + kTraceIdMetadataBytes - 1}, clock);
  ASSERT_FALSE(batcher.add(traced));
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 2, line, 2)));
  EXPECT_EQ(batcher.pending_bytes(), first_size + plain_size);
  traced.ref.offset = 3;
  ASSERT_FALSE(batcher.add(traced));  // does not fit: cuts the first two
  auto batch = batcher.next();
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->byte_size, first_size + plain_size);
  EXPECT_EQ(batch->streams[0].entries[0].trace_id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(batch->streams[0].entries[1].trace_id.empty());
}

TEST(BatcherTest, AnEntryLargerThanABatchGoesAlone) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_bytes = 50}, clock);
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 1, "small", 1)));
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 2, std::string(200, 'x'), 2)));
  auto first = batcher.next();
  auto second = batcher.next();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(offsets(first->streams[0]), std::vector<std::int64_t>{1});
  EXPECT_EQ(offsets(second->streams[0]), std::vector<std::int64_t>{2});
  EXPECT_TRUE(batcher.empty());
}

TEST(BatcherTest, CutsByAge) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_wait = milliseconds{500}}, clock);
  EXPECT_FALSE(batcher.due_at());
  const base::MonotonicTime start = clock.monotonic_now();
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 1, "x")));
  clock.advance(milliseconds{300});
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 2, "y")));
  EXPECT_EQ(batcher.due_at(), start + milliseconds{500});  // from the first entry
  EXPECT_FALSE(batcher.next());
  clock.advance(milliseconds{200});
  auto batch = batcher.next();
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->entry_count, 2U);
  EXPECT_FALSE(batcher.due_at());
}

TEST(BatcherTest, TheEndOfABurstGoesAtOnce) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_entries = 2}, clock);
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", i, "x", i)));
  ASSERT_TRUE(batcher.next());
  ASSERT_TRUE(batcher.next());
  EXPECT_TRUE(batcher.in_burst());
  EXPECT_TRUE(batcher.end_burst()) << "batches were cut full: the input paused after a burst";
  auto last = batcher.next();
  ASSERT_TRUE(last);
  EXPECT_EQ(offsets(last->streams[0]), (std::vector<std::int64_t>{4}));
  EXPECT_EQ(batcher.pending_entries(), 0U);
  // Once per burst: what comes after waits for a full batch or max_batch_wait again.
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 5, "x", 5)));
  EXPECT_FALSE(batcher.in_burst());
  EXPECT_FALSE(batcher.end_burst());
  EXPECT_FALSE(batcher.next());
}

TEST(BatcherTest, ATrickleStillWaitsForMaxBatchWait) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_entries = 10, .max_batch_wait = milliseconds{1000}}, clock);
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 1, "x", 0)));
  EXPECT_FALSE(batcher.end_burst()) << "no batch was cut full";
  EXPECT_FALSE(batcher.next());
  clock.advance(milliseconds{1000});
  ASSERT_TRUE(batcher.next());
  // A batch cut by age is no burst either.
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 2, "y", 1)));
  EXPECT_FALSE(batcher.end_burst());
}

TEST(BatcherTest, DueNowWhenABatchIsCut) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_entries = 1}, clock);
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", 1, "x")));
  EXPECT_EQ(batcher.due_at(), clock.monotonic_now());
}

TEST(BatcherTest, RejectsLongLines) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_line_bytes = 4}, clock);
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", 1, "1234")));
  const auto rejection = batcher.add(entry("{a=\"1\"}", 1, "12345"));
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->reason, Reason::kLineTooLong);
  EXPECT_EQ(rejection->message, "line is 5 bytes, more than the limit of 4");
  EXPECT_EQ(batcher.rejected(Reason::kLineTooLong), 1U);
  EXPECT_EQ(batcher.pending_entries(), 1U);
}

TEST(BatcherTest, RejectsTimesLokiWouldRefuseWhenAsked) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_entry_age = hours{24 * 7}, .max_future = minutes{10}}, clock);
  const std::int64_t week = 7 * 24 * 3600 * kSecond;
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", kNowNs - week, "oldest accepted")));
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", kNowNs + 600 * kSecond, "newest accepted")));
  const auto old = batcher.add(entry("{a=\"1\"}", kNowNs - week - 1, "x"));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->reason, Reason::kTooOld);
  EXPECT_EQ(old->message,
            "timestamp 2025-09-08T10:29:59.999Z is older than the oldest accepted, "
            "2025-09-08T10:30:00.000Z");
  const auto future = batcher.add(entry("{a=\"1\"}", kNowNs + 600 * kSecond + 1, "x"));
  ASSERT_TRUE(future);
  EXPECT_EQ(future->reason, Reason::kTooNew);
  EXPECT_EQ(batcher.rejected(Reason::kTooOld), 1U);
  EXPECT_EQ(batcher.rejected(Reason::kTooNew), 1U);
}

TEST(BatcherTest, TimeChecksAreOffByDefault) {
  base::FakeClock clock(kNow);
  Batcher batcher({}, clock);
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", 0, "1970")));
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", kNowNs + 3600 * kSecond, "an hour ahead")));
}

TEST(BatcherTest, TooFarBehindWhatWasAlreadyCut) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_entries = 2, .max_behind = hours{1}}, clock);
  const std::int64_t hour = 3600 * kSecond;
  // Within one batch order does not matter: the batch is sorted before Loki sees it.
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", kNowNs, "newest")));
  ASSERT_FALSE(batcher.add(entry("{a=\"1\"}", kNowNs - 2 * hour, "older, same batch")));
  ASSERT_TRUE(batcher.next());
  EXPECT_FALSE(batcher.add(entry("{a=\"1\"}", kNowNs - hour, "at the window's edge")));
  EXPECT_FALSE(batcher.add(entry("{b=\"2\"}", kNowNs - 5 * hour, "another stream")));
  const auto behind = batcher.add(entry("{a=\"1\"}", kNowNs - hour - 1, "x"));
  ASSERT_TRUE(behind);
  EXPECT_EQ(behind->reason, Reason::kTooFarBehind);
  EXPECT_EQ(behind->message,
            "timestamp 2025-09-15T09:29:59.999Z is too far behind the stream's newest entry "
            "already sent, 2025-09-15T10:30:00.000Z");
}

// With lanes, each batch holds the streams of one lane (by their labels), a stream is always in
// the same lane, and each lane's batch is filled, cut and timed on its own.
TEST(BatcherTest, LanesShareStreamsOutAndCutOnTheirOwn) {
  base::FakeClock clock(kNow);
  Batcher batcher({.max_batch_entries = 3, .max_batch_wait = milliseconds(100), .lanes = 4}, clock);
  std::vector<std::string> streams;
  for (int i = 0; i < 12; ++i) streams.push_back("{s=\"" + std::to_string(i) + "\"}");
  std::set<std::size_t> lanes;
  for (const auto& stream : streams) lanes.insert(batcher.lane_of(stream));
  ASSERT_GE(lanes.size(), 2U) << "twelve streams in one lane of four";
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < streams.size(); ++i) {
      ASSERT_FALSE(batcher.add(entry(streams[i], round, "x", static_cast<std::int64_t>(i))));
    }
  }
  clock.advance(milliseconds(100));
  std::map<std::string, std::size_t> lane_of_stream;
  std::size_t entries = 0;
  while (auto batch = batcher.next()) {
    EXPECT_LE(batch->entry_count, 3U);
    entries += batch->entry_count;
    for (const BatchStream& stream : batch->streams) {
      EXPECT_EQ(batcher.lane_of(stream.labels), batch->lane) << stream.labels;
      const auto [known, inserted] = lane_of_stream.try_emplace(stream.labels, batch->lane);
      EXPECT_EQ(known->second, batch->lane) << stream.labels << " in two lanes";
    }
  }
  EXPECT_EQ(entries, 24U);
  EXPECT_TRUE(batcher.empty());
  // An open batch per lane: the oldest one sets the deadline.
  ASSERT_FALSE(batcher.add(entry(streams[0], 5, "a")));
  clock.advance(milliseconds(40));
  for (const auto& stream : streams) {
    if (batcher.lane_of(stream) != batcher.lane_of(streams[0])) {
      ASSERT_FALSE(batcher.add(entry(stream, 5, "b")));
      break;
    }
  }
  EXPECT_EQ(batcher.due_at(), clock.monotonic_now() + milliseconds(60));
  clock.advance(milliseconds(60));
  auto first = batcher.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->lane, batcher.lane_of(streams[0]));
  EXPECT_FALSE(batcher.next()) << "the younger lane is not due yet";
  batcher.flush();
  EXPECT_TRUE(batcher.next());
  EXPECT_TRUE(batcher.empty());
}

}  // namespace
}  // namespace iw::loki
