#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "iw/base/clock.h"
#include "iw/kafka/record.h"

namespace iw::kafka {

/// Why and from where a consumed record goes to the dead-letter topic: the dlq.* headers of
/// BRIEF §1, the same in every service.
struct DeadLetter {
  std::string_view reason;  ///< dlq.reason: a code from the service's small, fixed set
  std::string_view error;   ///< dlq.error: what was wrong, for a person
  std::string_view stage;   ///< dlq.stage: the service ("enricher", "loki-pusher", ...)
  std::string_view topic;   ///< dlq.topic, dlq.partition, dlq.offset: where it was read
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  base::TimePoint at;             ///< dlq.ts
  std::string_view execution_id;  ///< carried over when not empty
  std::string_view traceparent;   ///< carried over when not empty
};

/// The headers of one dead letter, ready for Producer::produce(). Holds the numbers and the
/// timestamp it formats; the DeadLetter's strings must outlive it. Not copyable: the views
/// point into it.
class DeadLetterHeaders {
 public:
  explicit DeadLetterHeaders(const DeadLetter& letter);
  DeadLetterHeaders(const DeadLetterHeaders&) = delete;
  DeadLetterHeaders& operator=(const DeadLetterHeaders&) = delete;

  [[nodiscard]] std::span<const HeaderView> view() const { return {headers_.data(), count_}; }

 private:
  std::string partition_;
  std::string offset_;
  std::string at_;
  std::array<HeaderView, 9> headers_{};
  std::size_t count_ = 0;
};

}  // namespace iw::kafka
