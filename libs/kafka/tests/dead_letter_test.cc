#include "iw/kafka/dead_letter.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace iw::kafka {
namespace {

std::map<std::string, std::string> as_map(std::span<const HeaderView> headers) {
  std::map<std::string, std::string> out;
  for (const HeaderView& h : headers) out.emplace(h.key, h.value);
  return out;
}

TEST(DeadLetterHeadersTest, TheBriefsHeadersWithWhereAndWhen) {
  const DeadLetterHeaders headers(
      {.reason = "invalid_timestamp",
       .error = "Debut: not a timestamp",
       .stage = "enricher",
       .topic = "ingestion-logs",
       .partition = 2,
       .offset = 1234567890123,
       .at = base::TimePoint{std::chrono::milliseconds{1'758'450'000'123}},
       .execution_id = "run-42",
       .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
  EXPECT_EQ(as_map(headers.view()),
            (std::map<std::string, std::string>{
                {"dlq.reason", "invalid_timestamp"},
                {"dlq.error", "Debut: not a timestamp"},
                {"dlq.stage", "enricher"},
                {"dlq.topic", "ingestion-logs"},
                {"dlq.partition", "2"},
                {"dlq.offset", "1234567890123"},
                {"dlq.ts", "2025-09-21T10:20:00.123Z"},
                {"execution_id", "run-42"},
                {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}));
}

TEST(DeadLetterHeadersTest, NoEmptyTraceHeaders) {
  const DeadLetterHeaders headers({.reason = "r", .error = "e", .stage = "s", .topic = "t"});
  EXPECT_EQ(headers.view().size(), 7U);
  EXPECT_EQ(as_map(headers.view()).count("execution_id"), 0U);
}

}  // namespace
}  // namespace iw::kafka
