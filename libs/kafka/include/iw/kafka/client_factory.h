#pragma once

#include <memory>

#include "iw/base/error.h"
#include "iw/kafka/admin.h"
#include "iw/kafka/client.h"
#include "iw/kafka/consumer.h"
#include "iw/kafka/producer.h"

namespace iw::kafka {

/// Makes a stage's Kafka clients: librdkafka's in a service, in-memory fakes in a test of its
/// wiring (tests/support: iw/testing/fake_kafka.h).
class ClientFactory {
 public:
  virtual ~ClientFactory() = default;
  [[nodiscard]] virtual base::Result<std::unique_ptr<Admin>> admin(
      const ClientOptions& options) = 0;
  [[nodiscard]] virtual base::Result<std::unique_ptr<Consumer>> consumer(
      const ConsumerOptions& options) = 0;
  /// `handler` must outlive the producer.
  [[nodiscard]] virtual base::Result<std::unique_ptr<Producer>> producer(
      const ProducerOptions& options, DeliveryHandler& handler) = 0;
};

/// make_admin(), make_consumer() and make_producer().
[[nodiscard]] ClientFactory& librdkafka_clients();

}  // namespace iw::kafka
