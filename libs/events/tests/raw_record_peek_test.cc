#include "iw/events/raw_record_peek.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iw::events {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kRecord =
    R"({"ID": 1224, "Source": "PowerBI", "Objet": "workspaces", "Etat": "SUCCESS",)"
    R"( "Debut": "2025-09-15 10:30:00.000", "Fin": "2025-09-15 10:30:01.154",)"
    R"( "Duree secondes": 1.154133, "Description": "a {brace} and \"quote\""})";

TEST(RawRecordPeekerTest, FindsSourceAndTheTimeTokens) {
  RawRecordPeeker peeker;
  auto peek = peeker.peek(kRecord, 0);
  ASSERT_TRUE(peek.has_value()) << peek.error().message;
  EXPECT_EQ(peek->source, "PowerBI");
  ASSERT_TRUE(peek->debut.has_value());
  ASSERT_TRUE(peek->fin.has_value());
  EXPECT_EQ(peek->debut->in(kRecord), "\"2025-09-15 10:30:00.000\"");
  EXPECT_EQ(peek->fin->in(kRecord), "\"2025-09-15 10:30:01.154\"");
}

TEST(RawRecordPeekerTest, UnescapesSourceAndWorksInPlaceWithPadding) {
  std::string buffer = R"({"Source":"Zoho \u00e9\"EU\"","Objet":"leads"})";
  const std::size_t size = buffer.size();
  buffer.resize(size + 64, ' ');
  RawRecordPeeker peeker;
  auto peek = peeker.peek(std::string_view(buffer.data(), size), 64);
  ASSERT_TRUE(peek.has_value()) << peek.error().message;
  EXPECT_EQ(peek->source, "Zoho \xC3\xA9\"EU\"");
  EXPECT_EQ(peek->debut, std::nullopt);
}

TEST(RawRecordPeekerTest, NamesEachDefect) {
  RawRecordPeeker peeker;
  const auto reason = [&](std::string_view record) {
    auto peek = peeker.peek(record, 0);
    return peek ? std::string("ok") : std::string(peek.error().reason);
  };
  EXPECT_EQ(reason(R"({"Source": "Zoho")"), "invalid_json");
  EXPECT_EQ(reason(R"({"Source": "Zoho", "x": [1, 2})"), "invalid_json");  // unbalanced
  EXPECT_EQ(reason(R"({"Source": "Zoho"} trailing)"), "invalid_json");
  EXPECT_EQ(reason("not json"), "invalid_json");
  EXPECT_EQ(reason(R"([{"Source": "Zoho"}])"), "not_an_object");
  EXPECT_EQ(reason(R"("Zoho")"), "not_an_object");
  EXPECT_EQ(reason(R"({"Objet": "leads"})"), "missing_source");
  EXPECT_EQ(reason(R"({"Source": 12})"), "invalid_source");
  EXPECT_EQ(reason(R"({"Source": ""})"), "invalid_source");
  // The shape is all the producer checks; the enricher judges the values.
  EXPECT_EQ(reason(R"({"Source": "Zoho", "Debut": 12})"), "ok");
}

TEST(ShiftTimesTest, MovesTheRunKeepingItsDurationAndEveryOtherByte) {
  RawRecordPeeker peeker;
  auto peek = peeker.peek(kRecord, 0);
  ASSERT_TRUE(peek.has_value());
  auto times = read_times(kRecord, *peek, TimeZone::utc());
  ASSERT_TRUE(times.has_value()) << times.error().message;
  using namespace std::chrono;
  EXPECT_EQ(times->written(), times->fin);
  // From 2025-09-15T10:30:01.154Z (Fin) to 2026-11-21T14:00:00.000Z.
  const auto shift = (sys_days{2026y / November / 21} + 14h) - *times->fin;
  std::string out;
  shift_times(out, kRecord, *peek, *times, shift);
  EXPECT_EQ(out, R"({"ID": 1224, "Source": "PowerBI", "Objet": "workspaces", "Etat": "SUCCESS",)"
                 R"( "Debut": "2026-11-21T13:59:58.846Z", "Fin": "2026-11-21T14:00:00.000Z",)"
                 R"( "Duree secondes": 1.154133, "Description": "a {brace} and \"quote\""})");
}

TEST(ShiftTimesTest, HandlesFinBeforeDebutInTheDocumentAndMissingFin) {
  RawRecordPeeker peeker;
  std::string out;
  const std::string_view reordered =
      R"({"Fin":"2025-09-15 10:31:00","Source":"S","Debut":"2025-09-15 10:30:00+01:00"})";
  auto peek = peeker.peek(reordered, 0);
  ASSERT_TRUE(peek.has_value());
  auto times = read_times(reordered, *peek, TimeZone::utc());
  ASSERT_TRUE(times.has_value());
  shift_times(out, reordered, *peek, *times, std::chrono::hours{1});
  EXPECT_EQ(
      out, R"({"Fin":"2025-09-15T11:31:00.000Z","Source":"S","Debut":"2025-09-15T10:30:00.000Z"})");

  const std::string_view no_fin = R"({"Source":"S","Debut":"2025-09-15 10:30:00"})";
  peek = peeker.peek(no_fin, 0);
  ASSERT_TRUE(peek.has_value());
  times = read_times(no_fin, *peek, TimeZone::utc());
  ASSERT_TRUE(times.has_value());
  EXPECT_EQ(times->written(), times->debut);
  shift_times(out, no_fin, *peek, *times, std::chrono::minutes{1});
  EXPECT_EQ(out, R"({"Source":"S","Debut":"2025-09-15T10:31:00.000Z"})");
}

TEST(ReadTimesTest, UnreadableTimeIsADefect) {
  RawRecordPeeker peeker;
  const std::string_view bad = R"({"Source":"S","Debut":"2025-09-15 10:30:00","Fin":"soon"})";
  auto peek = peeker.peek(bad, 0);
  ASSERT_TRUE(peek.has_value());
  auto times = read_times(bad, *peek, TimeZone::utc());
  ASSERT_FALSE(times.has_value());
  EXPECT_EQ(times.error().reason, "invalid_timestamp");
  EXPECT_THAT(times.error().message, HasSubstr("'soon'"));
}

}  // namespace
}  // namespace iw::events
