// The checkpoint's position tracking, format and file, and a resume's skipping: no broker.
#include "checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "delivery_ledger.h"
#include "input_position.h"

namespace iw::producer {
namespace {

using Destination = DeliveryLedger::Destination;

// Positions after each of `n` records of one line each ("r0", "r1", ...).
std::vector<InputPosition> positions(int n) {
  std::vector<InputPosition> out;
  InputPosition at;
  for (int i = 0; i < n; ++i) {
    const std::string bytes = "r" + std::to_string(i);
    at = advance(at, bytes, static_cast<std::uint64_t>(i + 1), at.byte_end + (i == 0 ? 0 : 1));
    out.push_back(at);
  }
  return out;
}

TEST(InputPositionTest, AdvanceCountsEndsAndChainsTheDigest) {
  const InputPosition a = advance({}, "abc", 1, 0);
  EXPECT_EQ(a.records, 1U);
  EXPECT_EQ(a.byte_end, 3U);
  EXPECT_EQ(a.line, 1U);
  const InputPosition b = advance(a, "de", 2, 4);
  EXPECT_EQ(b.records, 2U);
  EXPECT_EQ(b.byte_end, 6U);
  // The digest depends on every record before, in order.
  EXPECT_NE(advance(advance({}, "de", 1, 0), "abc", 2, 3).digest, b.digest);
  EXPECT_EQ(advance(advance({}, "abc", 1, 0), "de", 2, 4), b);
}

// Reports out of order: the position is the end of the longest settled run from the start.
TEST(AcknowledgedInputTest, MovesOnlyOverAContiguousRunOfSettledRecords) {
  const auto at = positions(4);
  AcknowledgedInput acks(8);
  acks.reset({});
  for (std::uint64_t i = 0; i < 4; ++i) acks.expect(10 + i, at[i]);
  acks.settle(12, true);
  acks.settle(11, true);
  EXPECT_EQ(acks.acknowledged(), InputPosition{});  // record 0 is still in flight
  acks.settle(10, true);
  EXPECT_EQ(acks.acknowledged(), at[2]);
  acks.settle(13, true);
  EXPECT_EQ(acks.acknowledged(), at[3]);
  EXPECT_EQ(acks.outstanding(), 0U);
}

TEST(AcknowledgedInputTest, AFailedRecordHoldsThePositionBeforeIt) {
  const auto at = positions(3);
  AcknowledgedInput acks(8);
  acks.reset({});
  for (std::uint64_t i = 0; i < 3; ++i) acks.expect(i, at[i]);
  acks.settle(0, true);
  acks.settle(1, false);
  acks.settle(2, true);
  EXPECT_EQ(acks.acknowledged(), at[0]);
  EXPECT_TRUE(acks.held());
  acks.consumed(positions(5)[4]);
  EXPECT_EQ(acks.acknowledged(), at[0]);
}

// A record with nothing to send (skipped) is settled once every record before it is.
TEST(AcknowledgedInputTest, ARecordWithoutDeliveryWaitsForTheOnesBeforeIt) {
  const auto at = positions(3);
  AcknowledgedInput acks(8);
  acks.reset({});
  acks.consumed(at[0]);
  EXPECT_EQ(acks.acknowledged(), at[0]);
  acks.expect(0, at[1]);
  acks.consumed(at[2]);
  EXPECT_EQ(acks.acknowledged(), at[0]);
  acks.settle(0, true);
  EXPECT_EQ(acks.acknowledged(), at[2]);
}

// A record that books one main write, as the producer handles a valid one; its correlation.
std::uint64_t book_record(DeliveryLedger& ledger, const InputPosition& after) {
  ledger.reading(after);
  const auto correlation = ledger.book(Destination::kMain);
  ledger.read_done();
  return correlation;
}

// The ledger brackets each record: a record whose main write Kafka refused outright and whose
// dead letter is then delivered is settled by the dead letter; its withdrawn booking carries
// nothing.
TEST(DeliveryLedgerInputTest, BookingsCarryTheRecordBeingHandled) {
  base::FakeClock clock;
  DeliveryLedger ledger(clock);
  const auto at = positions(3);
  EXPECT_FALSE(ledger.acknowledged());
  ledger.track_input({});
  const auto first = book_record(ledger, at[0]);

  ledger.reading(at[1]);
  (void)ledger.book(Destination::kMain);
  ledger.cancel();  // too large for Kafka: dead-lettered instead
  const auto dead = ledger.book(Destination::kDeadLetter);
  ledger.read_done();

  ledger.reading(at[2]);  // skipped (--on-invalid skip): nothing booked
  ledger.read_done();

  ledger.settle(dead, true, false);
  EXPECT_EQ(*ledger.acknowledged(), InputPosition{});
  ledger.settle(first, true, false);
  EXPECT_EQ(*ledger.acknowledged(), at[2]);
}

TEST(DeliveryLedgerInputTest, ARefusedBookingHoldsThePosition) {
  base::FakeClock clock;
  DeliveryLedger ledger(clock);
  const auto at = positions(2);
  ledger.track_input({});
  const auto first = book_record(ledger, at[0]);
  ledger.reading(at[1]);
  (void)ledger.book(Destination::kMain);
  ledger.refuse();  // the local queue is full: not queued, counts as failed
  ledger.read_done();
  ledger.settle(first, true, false);
  EXPECT_EQ(*ledger.acknowledged(), at[0]);
  EXPECT_EQ(ledger.outstanding(), 0U);
}

Checkpoint sample() {
  Checkpoint c;
  c.input = "data/logs \"x\".json";
  c.device = 2049;
  c.inode = 1234567;
  c.size = 9'202'000;
  c.position = positions(3)[2];
  c.pass = 2;
  c.complete = false;
  c.realtime = true;
  c.speed = 60;
  c.anchor_record_time = base::TimePoint(std::chrono::seconds{1'758'441'600});
  c.anchor_wall_time = base::TimePoint(std::chrono::nanoseconds{1'780'000'000'123'456'789});
  c.execution_id = "0b6f3d0e-0000-4000-8000-000000000001";
  c.written_at = base::TimePoint(std::chrono::nanoseconds{1'780'000'001'000'000'000});
  return c;
}

TEST(CheckpointTest, FormatsAndParsesBack) {
  const Checkpoint c = sample();
  const std::string text = format_checkpoint(c);
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line";
  auto parsed = parse_checkpoint(text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, c);
}

TEST(CheckpointTest, RefusesWhatItCannotRead) {
  EXPECT_FALSE(parse_checkpoint("not json"));
  EXPECT_FALSE(parse_checkpoint(R"({"version":2})"));
  std::string text = format_checkpoint(sample());
  text.replace(text.find("\"digest\":\"") + 10, 2, "zz");
  const auto bad = parse_checkpoint(text);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("digest"), std::string::npos);
}

TEST(CheckpointTest, SavesAtomicallyAndLoadsBack) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("iw-checkpoint-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "run.checkpoint").string();
  auto missing = load_checkpoint(path);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);

  Checkpoint c = sample();
  ASSERT_TRUE(save_checkpoint(path, c));
  c.position = positions(5)[4];
  ASSERT_TRUE(save_checkpoint(path, c));
  auto loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(*loaded);
  EXPECT_EQ(**loaded, c);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

TEST(CheckpointTest, AResumeKeepsTheSettingsThatDecideTheBytes) {
  Checkpoint c = sample();
  c.pass = 1;
  EXPECT_TRUE(check_resumable(c, {.realtime = true, .speed = 60}));
  EXPECT_FALSE(check_resumable(c, {.realtime = false, .speed = 60}));
  const auto speed = check_resumable(c, {.realtime = true, .speed = 30});
  ASSERT_FALSE(speed);
  EXPECT_NE(speed.error().message().find("--speed 60"), std::string::npos);
  c.pass = 3;
  EXPECT_FALSE(check_resumable(c, {.realtime = true, .speed = 60, .loop = false}));
  EXPECT_TRUE(check_resumable(c, {.realtime = true, .speed = 60, .loop = true}));
}

TEST(ResumeSkipperTest, SkipsExactlyTheRecordsTheCheckpointCovers) {
  const auto at = positions(4);
  ResumeSkipper skipper(at[1]);
  InputPosition read;
  std::vector<bool> skipped;
  for (int i = 0; i < 4; ++i) {
    const std::string bytes = "r" + std::to_string(i);
    const auto skip =
        skipper.skip(bytes, static_cast<std::uint64_t>(i + 1), read.byte_end + (i == 0 ? 0 : 1));
    ASSERT_TRUE(skip) << skip.error().message();
    skipped.push_back(*skip);
    read = at[static_cast<std::size_t>(i)];
  }
  EXPECT_EQ(skipped, (std::vector<bool>{true, true, false, false}));
  EXPECT_TRUE(skipper.at_end());
}

TEST(ResumeSkipperTest, RefusesAnInputThatChangedBeforeThePosition) {
  ResumeSkipper skipper(positions(2)[1]);
  ASSERT_TRUE(skipper.skip("r0", 1, 0));
  const auto skip = skipper.skip("rX", 2, 3);
  ASSERT_FALSE(skip);
  EXPECT_EQ(skip.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_NE(skip.error().message().find("differ"), std::string::npos);
}

TEST(ResumeSkipperTest, RefusesAnInputShorterThanThePosition) {
  ResumeSkipper skipper(positions(3)[2]);
  ASSERT_TRUE(skipper.skip("r0", 1, 0));
  EXPECT_FALSE(skipper.at_end());
}

}  // namespace
}  // namespace iw::producer
