#include "iw/kafka/dead_letter.h"

#include "iw/base/time_format.h"

namespace iw::kafka {

DeadLetterHeaders::DeadLetterHeaders(const DeadLetter& letter)
    : partition_(std::to_string(letter.partition)),
      offset_(std::to_string(letter.offset)),
      at_(base::format_rfc3339_millis(letter.at)) {
  headers_[count_++] = {"dlq.reason", letter.reason};
  headers_[count_++] = {"dlq.error", letter.error};
  headers_[count_++] = {"dlq.stage", letter.stage};
  headers_[count_++] = {"dlq.topic", letter.topic};
  headers_[count_++] = {"dlq.partition", partition_};
  headers_[count_++] = {"dlq.offset", offset_};
  headers_[count_++] = {"dlq.ts", at_};
  if (!letter.execution_id.empty()) headers_[count_++] = {"execution_id", letter.execution_id};
  if (!letter.traceparent.empty()) headers_[count_++] = {"traceparent", letter.traceparent};
}

}  // namespace iw::kafka
