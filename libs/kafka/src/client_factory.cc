#include "iw/kafka/client_factory.h"

namespace iw::kafka {
namespace {

class LibrdkafkaClients final : public ClientFactory {
 public:
  base::Result<std::unique_ptr<Admin>> admin(const ClientOptions& options) override {
    return make_admin(options);
  }
  base::Result<std::unique_ptr<Consumer>> consumer(const ConsumerOptions& options) override {
    return make_consumer(options);
  }
  base::Result<std::unique_ptr<Producer>> producer(const ProducerOptions& options,
                                                   DeliveryHandler& handler) override {
    return make_producer(options, handler);
  }
};

}  // namespace

ClientFactory& librdkafka_clients() {
  static LibrdkafkaClients clients;
  return clients;
}

}  // namespace iw::kafka
