// The sender and its libcurl client against the Loki test receiver, in process: what each kind
// of answer does to a batch.
#include "sender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <thread>

#include "iw/testing/loki_receiver.h"

namespace iw::loki_pusher {
namespace {

using namespace std::chrono_literals;
using iw::testing::LokiReceiver;
using ::testing::Each;
using ::testing::Field;

loki::Batch make_batch(int entries, std::size_t line_bytes = 40, std::int64_t first_offset = 0) {
  loki::Batch batch;
  loki::BatchStream stream{.labels = R"({job="ingestion-logs", source="Zoho"})", .entries = {}};
  for (int i = 0; i < entries; ++i) {
    std::string line = "{\"n\":" + std::to_string(first_offset + i) + ",\"pad\":\"";
    // Varied bytes, so snappy cannot shrink a body under a size limit.
    for (std::size_t b = line.size(); b + 2 < line_bytes; ++b) {
      line += static_cast<char>('a' + (b * 7 + static_cast<std::size_t>(i) * 13) % 26);
    }
    line += "\"}";
    stream.entries.push_back({.timestamp_ns = 1'757'894'400'000'000'000 + i * 1'000'000,
                              .line = std::move(line),
                              .ref = {.topic = 0, .partition = 0, .offset = first_offset + i}});
    batch.byte_size += stream.entries.back().line.size() + loki::kEntryOverheadBytes;
  }
  batch.byte_size += stream.labels.size();
  batch.entry_count = stream.entries.size();
  batch.streams.push_back(std::move(stream));
  return batch;
}

class SenderTest : public ::testing::Test {
 protected:
  void start(testing::LokiReceiverOptions receiver_options = {},
             loki::Encoding encoding = loki::Encoding::kProtobuf,
             loki::BackoffOptions backoff = {.min = 10ms, .max = 50ms, .retry_after_max = 5s},
             std::size_t max_in_flight = 1) {
    auto receiver = LokiReceiver::start(std::move(receiver_options));
    ASSERT_TRUE(receiver.has_value());
    receiver_ = std::move(*receiver);
    client_.url = "http://127.0.0.1:" + std::to_string(receiver_->port());
    sender_ = std::make_unique<Sender>(client_,
                                       SenderOptions{.encoding = encoding,
                                                     .backoff = backoff,
                                                     .probe_interval = 50ms,
                                                     .stream_limit_attempts = 3,
                                                     .max_in_flight = max_in_flight},
                                       metrics_, readiness_, logger_);
  }

  // Waits for `count` outcomes.
  std::vector<PushOutcome> outcomes(std::size_t count, std::chrono::milliseconds limit = 10s) {
    std::vector<PushOutcome> out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      sender_->wait(20ms);
      for (auto& outcome : sender_->take_outcomes()) out.push_back(std::move(outcome));
    }
    return out;
  }

  // The sender thread publishes a job's last outcome before it leaves the job (in_flight_), so
  // idle() may still be false for a moment after the outcome is taken.
  bool becomes_idle(std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!sender_->idle() && std::chrono::steady_clock::now() < deadline) sender_->wait(20ms);
    return sender_->idle();
  }

  double value(prometheus::Counter& counter) { return counter.Value(); }

  prometheus::Registry registry_;
  PusherMetrics metrics_{registry_};
  metrics::Readiness readiness_{{"loki"}};
  log::MemorySink sink_;
  log::Logger logger_{"test", sink_};
  LokiClientOptions client_;
  std::unique_ptr<LokiReceiver> receiver_;
  std::unique_ptr<Sender> sender_;
};

// A batch of `entries` on stream source="S<lane>", in `lane`, its timestamps and offsets from
// `first` on.
loki::Batch lane_batch(std::size_t lane, int entries, std::int64_t first) {
  loki::Batch batch = make_batch(entries, 40, first);
  batch.lane = lane;
  batch.streams[0].labels = R"({job="ingestion-logs", source="S)" + std::to_string(lane) + R"("})";
  for (auto& entry : batch.streams[0].entries) {
    entry.timestamp_ns = 1'757'894'400'000'000'000 + entry.ref.offset * 1'000'000;
  }
  return batch;
}

TEST_F(SenderTest, AcceptedBatchComesBackWhole) {
  client_.tenant = "team-a";
  client_.username = "pusher";
  client_.password = config::Secret("s3cret");
  start({.tenant = "team-a", .authorization = "Basic cHVzaGVyOnMzY3JldA=="});
  sender_->submit(make_batch(5));
  const auto done = outcomes(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_FALSE(done[0].abandoned);
  EXPECT_TRUE(done[0].rejections.entries.empty());
  EXPECT_EQ(done[0].released_bytes, done[0].batch.byte_size);
  EXPECT_EQ(receiver_->entry_count(), 5u);
  const auto requests = receiver_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].status, 204);
  EXPECT_EQ(requests[0].content_type, "application/x-protobuf");
  EXPECT_EQ(requests[0].tenant, "team-a");
  EXPECT_TRUE(readiness_.ready());
  EXPECT_EQ(value(metrics_.push(Verdict::kAccepted, 204)), 1);
  EXPECT_TRUE(becomes_idle());
}

TEST_F(SenderTest, BearerTokenAndGzippedJson) {
  client_.bearer_token = config::Secret("tok");
  start({.authorization = "Bearer tok"}, loki::Encoding::kJsonGzip);
  sender_->submit(make_batch(3));
  ASSERT_EQ(outcomes(1).size(), 1u);
  const auto requests = receiver_->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].status, 204);
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].content_encoding, "gzip");
  EXPECT_EQ(receiver_->entry_count(), 3u);
}

TEST_F(SenderTest, RetriesTheSameBytesAfter429And5xxHonouringRetryAfter) {
  start();
  receiver_->fail_next(1, 429, "Ingestion rate limit exceeded", /*retry_after_seconds=*/1);
  receiver_->fail_next(2, 500, "internal");
  receiver_->fail_next(1, 503, "unavailable");
  const auto started = std::chrono::steady_clock::now();
  sender_->submit(make_batch(20));
  const auto done = outcomes(1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1s) << "Retry-After: 1 was not obeyed";
  EXPECT_TRUE(done[0].rejections.entries.empty());
  const auto requests = receiver_->requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].status, 429);
  EXPECT_EQ(requests[1].status, 500);
  EXPECT_EQ(requests[3].status, 503);
  EXPECT_EQ(requests[4].status, 204);
  EXPECT_THAT(requests, Each(Field(&testing::LokiRequest::body_bytes, requests[0].body_bytes)));
  EXPECT_EQ(receiver_->entry_count(), 20u);
  EXPECT_EQ(receiver_->duplicates(), 0u);
  EXPECT_EQ(value(metrics_.retries), 4);
  EXPECT_EQ(value(metrics_.push(Verdict::kRetry, 429)), 1);
  EXPECT_EQ(value(metrics_.push(Verdict::kRetry, 500)), 2);
  EXPECT_EQ(metrics_.backoff_seconds.Value(), 0);
}

TEST_F(SenderTest, A400IsNeverSentAgainAndNamesTheRefusedEntries) {
  start();
  receiver_->reject_lines([](std::string_view line) {
    return line.starts_with("{\"n\":3,") || line.starts_with("{\"n\":7,");
  });
  sender_->submit(make_batch(10));
  const auto done = outcomes(1);
  ASSERT_EQ(done.size(), 1u);
  const auto& refused = done[0].rejections.entries;
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].entry, 3u);
  EXPECT_EQ(refused[1].entry, 7u);
  EXPECT_EQ(refused[0].reason, loki::Reason::kOutOfOrder);
  EXPECT_TRUE(refused[0].certain);
  EXPECT_EQ(receiver_->entry_count(), 8u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(receiver_->requests().size(), 1u) << "a 400 must not be retried";
  EXPECT_EQ(value(metrics_.rejected(loki::Reason::kOutOfOrder, RefusedBy::kLoki)), 2);
  EXPECT_TRUE(readiness_.ready());
}

TEST_F(SenderTest, ConfigurationErrorsAreRetriedLoudlyAndMakeItUnready) {
  start();
  receiver_->fail_next(3, 401, "no org id");
  sender_->submit(make_batch(4));
  bool seen_unready = false;
  std::vector<PushOutcome> done;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (done.empty() && std::chrono::steady_clock::now() < deadline) {
    seen_unready = seen_unready || !readiness_.ready();
    sender_->wait(1ms);
    done = sender_->take_outcomes();
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(seen_unready);
  EXPECT_TRUE(readiness_.ready());
  EXPECT_EQ(receiver_->entry_count(), 4u);
  EXPECT_EQ(value(metrics_.push(Verdict::kMisconfigured, 401)), 3);
  bool logged = false;
  for (const std::string& line : sink_.lines()) {
    logged = logged || (line.find("\"level\":\"error\"") != std::string::npos &&
                        line.find("check url, tenant and credentials") != std::string::npos);
  }
  EXPECT_TRUE(logged);
}

TEST_F(SenderTest, A413SplitsTheBatchUntilItFitsAndALoneEntryIsRefused) {
  // Each entry is about 600 bytes of JSON; the receiver takes bodies of up to 2 kB.
  start({.max_body_bytes = 2000}, loki::Encoding::kJson);
  sender_->submit(make_batch(8, 600));
  sender_->submit(make_batch(1, 2500, 100));
  std::vector<PushOutcome> done = outcomes(5);
  std::size_t accepted = 0;
  std::size_t released = 0;
  std::vector<loki::RejectedEntry> refused;
  for (const PushOutcome& outcome : done) {
    released += outcome.released_bytes;
    if (outcome.rejections.entries.empty()) {
      accepted += outcome.batch.entry_count;
    } else {
      refused.insert(refused.end(), outcome.rejections.entries.begin(),
                     outcome.rejections.entries.end());
      EXPECT_EQ(outcome.batch.streams[0].entries[0].ref.offset, 100);
    }
  }
  EXPECT_EQ(done.size(), 5u) << "four quarters and the lone entry";
  EXPECT_EQ(accepted, 8u);
  EXPECT_EQ(receiver_->entry_count(), 8u);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].reason, loki::Reason::kLineTooLong);
  EXPECT_EQ(released, make_batch(8, 600).byte_size + make_batch(1, 2500, 100).byte_size);
}

// Loki's active-stream limit: the refused stream is tried aside a bounded number of times and
// refused as stream_limit; the stream Loki has goes on, before and after.
TEST_F(SenderTest, TheStreamLimitRefusesOneStreamAfterAFewTriesWhileOthersFlow) {
  start({.max_active_streams = 1}, loki::Encoding::kProtobuf,
        {.min = 200ms, .max = 400ms, .retry_after_max = 5s});
  loki::Batch mixed = make_batch(3);
  loki::Batch other = make_batch(2, 40, 10);
  other.streams[0].labels = R"({job="ingestion-logs", source="PowerBI"})";
  mixed.entry_count += other.entry_count;
  mixed.byte_size += other.byte_size;
  mixed.streams.push_back(std::move(other.streams[0]));
  const std::size_t submitted = mixed.byte_size + make_batch(2, 40, 20).byte_size;
  sender_->submit(std::move(mixed));
  sender_->submit(make_batch(2, 40, 20));  // Zoho again: behind the refused stream in the queue

  const std::vector<PushOutcome> done = outcomes(3);
  ASSERT_EQ(done.size(), 3u);
  // Zoho's part of the split and the batch behind it are stored before PowerBI gives up.
  EXPECT_TRUE(done[0].rejections.entries.empty());
  EXPECT_TRUE(done[1].rejections.entries.empty());
  EXPECT_EQ(done[1].batch.streams[0].entries[0].ref.offset, 20);
  ASSERT_EQ(done[2].rejections.entries.size(), 2u);
  EXPECT_EQ(done[2].batch.streams[0].labels, R"({job="ingestion-logs", source="PowerBI"})");
  EXPECT_THAT(done[2].rejections.entries,
              Each(Field(&loki::RejectedEntry::reason, loki::Reason::kStreamLimit)));
  EXPECT_THAT(done[2].rejections.messages[0],
              ::testing::HasSubstr("Maximum active stream limit exceeded"));
  std::size_t released = 0;
  for (const PushOutcome& outcome : done) released += outcome.released_bytes;
  EXPECT_EQ(released, submitted);
  EXPECT_EQ(receiver_->entry_count(), 5u);
  // The first answer and three tries of PowerBI alone.
  EXPECT_EQ(value(metrics_.push(Verdict::kStreamLimited, 429)), 4);
  EXPECT_EQ(value(metrics_.rejected(loki::Reason::kStreamLimit, RefusedBy::kLoki)), 2);
  EXPECT_FALSE(sender_->failing());
  EXPECT_TRUE(readiness_.ready());
  EXPECT_TRUE(becomes_idle());
}

TEST_F(SenderTest, StopAbandonsWhatLokiDidNotTake) {
  // Short timeouts keep each attempt's "no answer" quick while the receiver is down.
  client_.connect_timeout = 500ms;
  client_.request_timeout = 1s;
  start();
  receiver_->go_down();
  sender_->submit(make_batch(3));
  sender_->submit(make_batch(2, 40, 3));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (value(metrics_.push(Verdict::kRetry, 0)) < 2) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_THAT(readiness_.report().text, ::testing::HasSubstr("loki: no answer from Loki"));
  sender_->stop();
  const auto done = sender_->take_outcomes();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(done[0].abandoned);
  EXPECT_TRUE(done[1].abandoned);
  EXPECT_EQ(done[0].batch.entry_count + done[1].batch.entry_count, 5u);
  EXPECT_EQ(receiver_->entry_count(), 0u);
}

// Several pushes in flight: the lanes' batches overlap in time, while each stream's batches
// (one lane's) reach Loki one after the other, in order, even with pushes to spare: with
// unordered writes off the receiver refuses any entry older than its stream's newest.
TEST_F(SenderTest, SeveralPushesInFlightKeepEachStreamInOrder) {
  start({.unordered_writes = false}, loki::Encoding::kProtobuf,
        {.min = 10ms, .max = 50ms, .retry_after_max = 5s}, /*max_in_flight=*/4);
  receiver_->set_delay(300ms);
  const auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < 3; ++round) {
    for (std::size_t lane = 0; lane < 2; ++lane) sender_->submit(lane_batch(lane, 5, round * 10));
  }
  const auto done = outcomes(6);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(done.size(), 6u);
  for (const PushOutcome& outcome : done) EXPECT_TRUE(outcome.rejections.entries.empty());
  // A lane's three pushes one after the other: 0.9 s at least, though four may be in flight;
  // the two lanes side by side: well under the 1.8 s of one push at a time.
  EXPECT_GE(elapsed, 850ms) << "a lane had two pushes in flight";
  EXPECT_LT(elapsed, 1500ms) << "the lanes' pushes did not overlap";
  for (std::size_t lane = 0; lane < 2; ++lane) {
    std::vector<std::int64_t> firsts;
    for (const PushOutcome& outcome : done) {
      if (outcome.batch.lane == lane) {
        firsts.push_back(outcome.batch.streams[0].entries[0].ref.offset);
      }
    }
    EXPECT_EQ(firsts, (std::vector<std::int64_t>{0, 10, 20})) << "lane " << lane;
  }
  EXPECT_EQ(receiver_->entry_count(), 30u);
  for (const auto& request : receiver_->requests()) EXPECT_EQ(request.status, 204);
  EXPECT_TRUE(becomes_idle());
}

// A 500 on one push while the others in flight are stored: that batch alone is sent again (the
// same bytes) and its outcome comes back after theirs; nothing else waits for it but its lane.
TEST_F(SenderTest, A500OnOnePushWhileOthersInFlightSucceed) {
  start({}, loki::Encoding::kProtobuf, {.min = 400ms, .max = 400ms, .retry_after_max = 5s},
        /*max_in_flight=*/4);
  // Every push is read before any is answered: the four are in flight together.
  receiver_->set_delay(200ms);
  receiver_->fail_next(1, 500, "internal");
  for (std::size_t lane = 0; lane < 4; ++lane) sender_->submit(lane_batch(lane, 3, 0));
  const auto done = outcomes(4);
  ASSERT_EQ(done.size(), 4u);
  for (const PushOutcome& outcome : done) {
    EXPECT_TRUE(outcome.rejections.entries.empty());
    EXPECT_FALSE(outcome.abandoned);
  }
  const auto requests = receiver_->requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(std::ranges::count(requests, 500, &testing::LokiRequest::status), 1);
  // The retried batch is the last outcome, and the last request.
  EXPECT_EQ(requests.back().status, 204);
  const auto entries = receiver_->entries();
  ASSERT_EQ(entries.size(), 12u);
  EXPECT_EQ(entries.back().stream, done.back().batch.streams[0].labels);
  EXPECT_EQ(value(metrics_.retries), 1);
  EXPECT_EQ(value(metrics_.push(Verdict::kRetry, 500)), 1);
  EXPECT_FALSE(sender_->failing());
  EXPECT_TRUE(becomes_idle());
}

// While Loki fails, batches not in flight yet wait: only the failing push is tried again.
TEST_F(SenderTest, WhileLokiFailsNoFurtherPushStarts) {
  start({}, loki::Encoding::kProtobuf, {.min = 100ms, .max = 100ms, .retry_after_max = 5s},
        /*max_in_flight=*/4);
  receiver_->fail_next(4, 503, "unavailable");
  sender_->submit(lane_batch(0, 2, 0));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!sender_->failing()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(1ms);
  }
  for (std::size_t lane = 1; lane < 4; ++lane) sender_->submit(lane_batch(lane, 2, 0));
  const auto done = outcomes(4);
  ASSERT_EQ(done.size(), 4u);
  // The four 503s all went to the first batch; the others started once it was stored.
  const auto requests = receiver_->requests();
  ASSERT_EQ(requests.size(), 8u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(requests[i].status, 503) << i;
  EXPECT_EQ(done[0].batch.lane, 0u);
  EXPECT_EQ(value(metrics_.retries), 4);
}

// SIGTERM while several pushes are in flight and more wait: stop() ends every request at once
// and hands back every batch Loki did not answer, in flight or queued, as abandoned.
TEST_F(SenderTest, StopWithSeveralPushesInFlightAbandonsThemAll) {
  start({}, loki::Encoding::kProtobuf, {.min = 10ms, .max = 50ms, .retry_after_max = 5s},
        /*max_in_flight=*/2);
  receiver_->set_delay(2s);
  for (std::size_t lane = 0; lane < 2; ++lane) {
    sender_->submit(lane_batch(lane, 2, 0));
    sender_->submit(lane_batch(lane, 2, 10));
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (receiver_->entry_count() < 4) {  // stored, the answers held back by the delay
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(1ms);
  }
  const auto stopping = std::chrono::steady_clock::now();
  sender_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 1s) << "stop() waited for the answers";
  const auto done = sender_->take_outcomes();
  ASSERT_EQ(done.size(), 4u);
  std::size_t released = 0;
  for (const PushOutcome& outcome : done) {
    EXPECT_TRUE(outcome.abandoned);
    released += outcome.released_bytes;
  }
  EXPECT_EQ(released, 4 * lane_batch(0, 2, 0).byte_size);
  EXPECT_TRUE(sender_->idle());
}

TEST_F(SenderTest, ReadinessFollowsLokiWhileIdle) {
  start();
  const auto until = [&](bool ready) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (readiness_.ready() != ready && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    return readiness_.ready() == ready;
  };
  EXPECT_TRUE(until(true));
  receiver_->go_down();
  EXPECT_TRUE(until(false));
  ASSERT_TRUE(receiver_->come_back().has_value());
  EXPECT_TRUE(until(true));
}

}  // namespace
}  // namespace iw::loki_pusher
