#pragma once

#include <memory>

#include "iw/base/check.h"
#include "iw/base/error.h"
#include "iw/kafka/client_factory.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/producer.h"

namespace iw::kafka {

/// The consumer and the producer of one stage, and the one order they go in. A consumer leaving
/// its group revokes its partitions through the RebalanceListener, and a stage's listener
/// commits or flushes through its producer: the consumer must be closed while the producer, and
/// the listener, are still whole.
///
/// close() leaves the group with the listener told (the end of an orderly drain: the stage
/// commits what it did for its partitions). The destructor is every other way out (an error
/// return, with the stage that owns it half destroyed): it detaches the listener, so leaving the
/// group calls nothing back, then destroys the consumer, then the producer. What was not
/// committed is read again by the partitions' next owner, as after a crash.
///
/// Declare it before the Records taken from its consumer: they must be destroyed first.
class StageClients {
 public:
  /// The clients come from `factory`, which must outlive this object.
  explicit StageClients(ClientFactory& factory = librdkafka_clients()) : factory_(factory) {}
  ~StageClients();
  StageClients(const StageClients&) = delete;
  StageClients& operator=(const StageClients&) = delete;

  /// Creates the producer. `handler` must outlive this object.
  base::Status start_producer(const ProducerOptions& options, DeliveryHandler& handler);
  /// Creates the consumer; `options.listener` hears its rebalances until the destructor.
  base::Status start_consumer(const ConsumerOptions& options);

  [[nodiscard]] Consumer& consumer() const {
    IW_CHECK(consumer_ != nullptr, "StageClients::consumer() before start_consumer()");
    return *consumer_;
  }
  [[nodiscard]] Producer& producer() const {
    IW_CHECK(producer_ != nullptr, "StageClients::producer() before start_producer()");
    return *producer_;
  }

  /// Where the clients come from, for the stage's other clients (an admin client).
  [[nodiscard]] ClientFactory& factory() const { return factory_; }

  /// Leaves the group now, the listener told of the revocation. Idempotent.
  void close();

 private:
  // Passes the consumer's rebalances on to the stage's listener while it is attached.
  class Relay final : public RebalanceListener {
   public:
    void on_assigned(std::vector<TopicPartitionOffset>& partitions) override;
    void on_revoked(const std::vector<TopicPartition>& partitions) override;
    void on_lost(const std::vector<TopicPartition>& partitions) override;
    RebalanceListener* listener = nullptr;
  };

  ClientFactory& factory_;
  Relay relay_;  // outlives the consumer, which calls it
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<Consumer> consumer_;
};

}  // namespace iw::kafka
