// Bodies in the shape Loki 2.9 / 3.x writes them (pkg/distributor, pkg/ingester/stream.go,
// pkg/validation/validate.go, pkg/util GroupedErrors).
#include "iw/loki/push_response.h"

#include <gtest/gtest.h>

#include <tuple>

namespace iw::loki {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kT0 = 1'757'932'200 * kSecond;  // 2025-09-15T10:30:00Z

constexpr std::string_view kZoho = R"({etat="FAILED", job="ingestion-logs", source="Zoho"})";
constexpr std::string_view kPowerBi = R"({etat="SUCCESS", job="ingestion-logs", source="PowerBI"})";

// Stream 0 (Zoho): 10:30:00.000, 10:30:00.500, 10:30:00.500, 10:30:01.000, 10:30:02.000 with
// lines of 10, 20, 30, 40, 50 bytes. Stream 1 (PowerBI): 12 entries, one per second from 10:30:00.
Batch batch() {
  Batch b;
  BatchStream zoho{.labels = std::string(kZoho), .entries = {}};
  const std::int64_t times[] = {kT0, kT0 + kSecond / 2, kT0 + kSecond / 2, kT0 + kSecond,
                                kT0 + 2 * kSecond};
  for (int i = 0; i < 5; ++i) {
    zoho.entries.push_back({.timestamp_ns = times[i],
                            .line = std::string(static_cast<std::size_t>(10 * (i + 1)), 'z'),
                            .ref = {.topic = 0, .partition = 0, .offset = i}});
  }
  BatchStream power_bi{.labels = std::string(kPowerBi), .entries = {}};
  for (int i = 0; i < 12; ++i) {
    power_bi.entries.push_back({.timestamp_ns = kT0 + i * kSecond,
                                .line = "p",
                                .ref = {.topic = 0, .partition = 1, .offset = i}});
  }
  b.streams = {zoho, power_bi};
  b.entry_count = 17;
  return b;
}

using Verdict = std::tuple<std::size_t, std::size_t, Reason, bool>;

std::vector<Verdict> verdicts(const Rejections& rejections) {
  std::vector<Verdict> out;
  for (const RejectedEntry& e : rejections.entries) {
    out.emplace_back(e.stream, e.entry, e.reason, e.certain);
  }
  return out;
}

TEST(InterpretRejectionTest, IngesterListsEntriesToTheNanosecond) {
  const std::string body =
      "entry with timestamp 2025-09-15 10:30:03 +0000 UTC ignored, reason: 'entry too far "
      "behind, entry timestamp is: 2025-09-15T10:30:03Z, oldest acceptable timestamp is: "
      "2025-09-15T11:40:00Z',\n"
      "entry with timestamp 2025-09-15 10:30:05 +0000 UTC ignored, reason: 'entry too far "
      "behind, entry timestamp is: 2025-09-15T10:30:05Z, oldest acceptable timestamp is: "
      "2025-09-15T11:40:00Z',\n"
      "user 'fake', total ignored: 2 out of 12 for stream: " +
      std::string(kPowerBi) + "\n";
  const Rejections r = interpret_rejection(batch(), body);
  EXPECT_FALSE(r.unrecognized);
  EXPECT_EQ(verdicts(r), (std::vector<Verdict>{{1, 3, Reason::kTooFarBehind, true},
                                               {1, 5, Reason::kTooFarBehind, true}}));
  EXPECT_EQ(r.messages.at(r.entries[0].message),
            "entry with timestamp 2025-09-15 10:30:03 +0000 UTC ignored, reason: 'entry too far "
            "behind, entry timestamp is: 2025-09-15T10:30:03Z, oldest acceptable timestamp is: "
            "2025-09-15T11:40:00Z'");
}

TEST(InterpretRejectionTest, GoTimeInAnotherZoneWithAFraction) {
  const std::string body =
      "entry with timestamp 2025-09-15 12:30:01 +0200 CEST ignored, reason: 'entry out of "
      "order',\nuser 'fake', total ignored: 1 out of 5 for stream: " +
      std::string(kZoho);
  EXPECT_EQ(verdicts(interpret_rejection(batch(), body)),
            (std::vector<Verdict>{{0, 3, Reason::kOutOfOrder, true}}));
}

TEST(InterpretRejectionTest, EntriesWithOneTimestampCannotBeToldApart) {
  const std::string body =
      "entry with timestamp 2025-09-15 10:30:00.5 +0000 UTC ignored, reason: 'entry out of "
      "order',\nuser 'fake', total ignored: 1 out of 5 for stream: " +
      std::string(kZoho);
  EXPECT_EQ(verdicts(interpret_rejection(batch(), body)),
            (std::vector<Verdict>{{0, 1, Reason::kOutOfOrder, false},
                                  {0, 2, Reason::kOutOfOrder, false}}));
}

TEST(InterpretRejectionTest, UnlistedOrderingRejectionsAreTheOldestEntries) {
  // Loki lists 10 by default (ingester.max_returned_stream_errors) and counts the rest.
  std::string body;
  for (int i = 0; i < 3; ++i) {
    body += "entry with timestamp 2025-09-15 10:30:0" + std::to_string(i) +
            " +0000 UTC ignored, reason: 'entry too far behind, entry timestamp is: "
            "2025-09-15T10:30:0" +
            std::to_string(i) + "Z, oldest acceptable timestamp is: 2025-09-15T11:40:00Z',\n";
  }
  body += "user 'fake', total ignored: 5 out of 12 for stream: " + std::string(kPowerBi);
  const Rejections r = interpret_rejection(batch(), body);
  EXPECT_FALSE(r.unrecognized);
  EXPECT_EQ(verdicts(r), (std::vector<Verdict>{{1, 0, Reason::kTooFarBehind, true},
                                               {1, 1, Reason::kTooFarBehind, true},
                                               {1, 2, Reason::kTooFarBehind, true},
                                               {1, 3, Reason::kTooFarBehind, false},
                                               {1, 4, Reason::kTooFarBehind, false}}));
}

TEST(InterpretRejectionTest, UnlistedRateLimitedEntriesAreUnknown) {
  const std::string body =
      "entry with timestamp 2025-09-15 10:30:00 +0000 UTC ignored, reason: 'Per stream rate "
      "limit exceeded (limit: 3MB/sec) while attempting to ingest for stream '" +
      std::string(kZoho) + "' totaling 10B, consider splitting a stream',\n" +
      "user 'fake', total ignored: 2 out of 5 for stream: " + std::string(kZoho);
  EXPECT_EQ(verdicts(interpret_rejection(batch(), body)),
            (std::vector<Verdict>{{0, 0, Reason::kRateLimited, true},
                                  {0, 1, Reason::kUnknown, false},
                                  {0, 2, Reason::kUnknown, false},
                                  {0, 3, Reason::kUnknown, false},
                                  {0, 4, Reason::kUnknown, false}}));
}

TEST(InterpretRejectionTest, IngesterFormatBefore29) {
  const std::string body =
      "entry with timestamp 2025-09-15 10:30:01 +0000 UTC ignored, reason: 'entry out of order' "
      "for stream: " +
      std::string(kZoho) + ",\n" +
      "entry with timestamp 2025-09-15 10:30:02 +0000 UTC ignored, reason: 'entry out of order' "
      "for stream: " +
      std::string(kZoho) + ",\ntotal ignored: 2 out of 5";
  const Rejections r = interpret_rejection(batch(), body);
  EXPECT_FALSE(r.unrecognized);
  EXPECT_EQ(verdicts(r), (std::vector<Verdict>{{0, 3, Reason::kOutOfOrder, true},
                                               {0, 4, Reason::kOutOfOrder, true}}));
}

TEST(InterpretRejectionTest, DistributorMessagesGroupedBySameText) {
  // GroupedErrors: "; " between distinct messages, "K errors like: " before repeated ones; the
  // labels as Prometheus prints them, with the service_name Loki 3 adds.
  const std::string zoho_seen =
      R"({etat="FAILED", job="ingestion-logs", service_name="ingestion-logs", source="Zoho"})";
  const std::string body =
      "2 errors like: entry for stream '" + zoho_seen +
      "' has timestamp too old: 2025-09-15T10:30:00Z, oldest acceptable timestamp is: "
      "2025-09-15T10:30:00Z; 2 errors like: Max entry size '35' bytes exceeded for stream '" +
      zoho_seen +
      "' while adding an entry with length '40' bytes; 1 errors like: entry for stream '" +
      std::string(kPowerBi) + "' has timestamp too new: 2025-09-15T10:30:11Z\n";
  const Rejections r = interpret_rejection(batch(), body);
  EXPECT_FALSE(r.unrecognized);
  // Too old: 2 of the 3 entries in 10:30:00, the oldest ones; but the 2nd and 3rd share a
  // timestamp, so that pair is uncertain.
  EXPECT_EQ(verdicts(r), (std::vector<Verdict>{{0, 0, Reason::kTooOld, true},
                                               {0, 1, Reason::kTooOld, false},
                                               {0, 2, Reason::kTooOld, false},
                                               {0, 3, Reason::kLineTooLong, true},
                                               {0, 4, Reason::kLineTooLong, true},
                                               {1, 11, Reason::kTooNew, true}}));
  EXPECT_EQ(r.messages.at(r.entries[3].message),
            "Max entry size '35' bytes exceeded for stream '" + zoho_seen +
                "' while adding an entry with length '40' bytes");
}

TEST(InterpretRejectionTest, LabelProblemsRejectTheWholeStream) {
  for (const std::string& body : {
           "stream '" + std::string(kZoho) + "' has label value too long: 'Zoho'",
           "stream '" + std::string(kZoho) + "' has label name too long: 'source'",
           "stream '" + std::string(kZoho) + "' has duplicate label name: 'source'",
           "entry for stream '" + std::string(kZoho) + "' has 16 label names; limit 15",
           "Error parsing labels '" + std::string(kZoho) + "' with error: 1:2: parse error",
           "missing required labels team for user fake for stream " + std::string(kZoho),
       }) {
    const Rejections r = interpret_rejection(batch(), body);
    EXPECT_FALSE(r.unrecognized) << body;
    ASSERT_EQ(r.entries.size(), 5U) << body;
    for (const RejectedEntry& e : r.entries) {
      EXPECT_EQ(e.stream, 0U);
      EXPECT_EQ(e.reason, Reason::kInvalidLabels);
      EXPECT_TRUE(e.certain);
    }
  }
}

TEST(InterpretRejectionTest, UnknownTextRejectsEveryEntryNotIdentified) {
  const std::string body = "something new; entry for stream '" + std::string(kZoho) +
                           "' has timestamp too new: 2025-09-15T10:30:02Z";
  const Rejections r = interpret_rejection(batch(), body);
  EXPECT_TRUE(r.unrecognized);
  ASSERT_EQ(r.entries.size(), 17U);
  EXPECT_EQ(verdicts(r)[4], (Verdict{0, 4, Reason::kTooNew, true}));
  EXPECT_EQ(verdicts(r)[0], (Verdict{0, 0, Reason::kUnknown, false}));
  EXPECT_EQ(r.messages.at(r.entries[0].message), body);
}

TEST(InterpretRejectionTest, NothingUnderstoodIsTheWholeBatch) {
  for (const std::string_view body :
       {"", "<html>Bad Request</html>", "snappy: corrupt input",
        // A stream the batch does not have: Loki and we disagree on something.
        R"(entry for stream '{job="other"}' has timestamp too new: 2025-09-15T10:30:02Z)"}) {
    const Rejections r = interpret_rejection(batch(), body);
    EXPECT_TRUE(r.unrecognized) << body;
    EXPECT_EQ(r.entries.size(), 17U) << body;
    for (const RejectedEntry& e : r.entries) {
      EXPECT_EQ(e.reason, Reason::kUnknown);
      EXPECT_FALSE(e.certain);
    }
  }
}

TEST(InterpretRejectionTest, AnEntryTheBatchDoesNotHaveIsADisagreement) {
  const std::string body =
      "entry with timestamp 2025-09-15 11:00:00 +0000 UTC ignored, reason: 'entry out of "
      "order',\nuser 'fake', total ignored: 1 out of 5 for stream: " +
      std::string(kZoho);
  EXPECT_TRUE(interpret_rejection(batch(), body).unrecognized);
}

}  // namespace
}  // namespace iw::loki
