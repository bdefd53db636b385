#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <memory>

#include "iw/kafka/consumer.h"

namespace iw::kafka::detail {

/// The real GroupMetadata: what a KafkaProducer needs for send_offsets_to_transaction.
class KafkaGroupMetadata final : public GroupMetadata {
 public:
  explicit KafkaGroupMetadata(RdKafka::ConsumerGroupMetadata* metadata) : metadata_(metadata) {}
  [[nodiscard]] RdKafka::ConsumerGroupMetadata* get() const { return metadata_.get(); }

 private:
  std::unique_ptr<RdKafka::ConsumerGroupMetadata> metadata_;
};

}  // namespace iw::kafka::detail
