#include "iw/kafka/stage_clients.h"

namespace iw::kafka {

StageClients::~StageClients() {
  relay_.listener = nullptr;
  consumer_.reset();  // leaves the group: its revocation reaches no one
  producer_.reset();
}

base::Status StageClients::start_producer(const ProducerOptions& options,
                                          DeliveryHandler& handler) {
  auto producer = factory_.producer(options, handler);
  if (!producer) return std::unexpected(producer.error());
  producer_ = std::move(*producer);
  return {};
}

base::Status StageClients::start_consumer(const ConsumerOptions& options) {
  relay_.listener = options.listener;
  ConsumerOptions relayed = options;
  relayed.listener = &relay_;
  auto consumer = factory_.consumer(relayed);
  if (!consumer) return std::unexpected(consumer.error());
  consumer_ = std::move(*consumer);
  return {};
}

void StageClients::close() {
  if (consumer_) consumer_->close();
}

void StageClients::Relay::on_assigned(std::vector<TopicPartitionOffset>& partitions) {
  if (listener != nullptr) listener->on_assigned(partitions);
}

void StageClients::Relay::on_revoked(const std::vector<TopicPartition>& partitions) {
  if (listener != nullptr) listener->on_revoked(partitions);
}

void StageClients::Relay::on_lost(const std::vector<TopicPartition>& partitions) {
  if (listener != nullptr) listener->on_lost(partitions);
}

}  // namespace iw::kafka
