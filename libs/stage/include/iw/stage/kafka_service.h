#pragma once

#include <string>
#include <vector>

#include "iw/kafka/client_factory.h"
#include "iw/runtime/service.h"

namespace iw::stage {

/// A service whose work is a Kafka stage: it is ready once its stage is connected ("kafka"),
/// and its Kafka clients come from a factory — librdkafka's in the binary, in-memory fakes in a
/// test of its wiring (tests/support: iw/testing/fake_kafka.h).
class KafkaService : public runtime::Service {
 public:
  /// `clients` must outlive run().
  explicit KafkaService(kafka::ClientFactory& clients = kafka::librdkafka_clients())
      : clients_(clients) {}

  [[nodiscard]] std::vector<std::string> readiness_checks() const override { return {"kafka"}; }

 protected:
  [[nodiscard]] kafka::ClientFactory& clients() const { return clients_; }

 private:
  kafka::ClientFactory& clients_;
};

}  // namespace iw::stage
