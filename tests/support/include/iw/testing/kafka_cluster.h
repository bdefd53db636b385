#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "iw/kafka/admin.h"
#include "iw/kafka/producer.h"

namespace iw::testing {

/// Counts the delivery reports of a test's producer (served on the thread that polls it).
class CountingDeliveries final : public kafka::DeliveryHandler {
 public:
  void on_delivery(const kafka::DeliveryReport& report) override {
    if (report.error) {
      ++failed;
    } else {
      ++delivered;
    }
  }
  int delivered = 0;
  int failed = 0;
};

/// The broker CTest's `kafka` fixture started (scripts/kafka-local), found through
/// IW_TEST_KAFKA_BOOTSTRAP_FILE; "" when the test runs without the fixture.
[[nodiscard]] std::string fixture_bootstrap_servers();

/// Creates `topics` on the broker `client` names (replication 1), waiting up to 30 s for the
/// answer; the error says which topic and why.
[[nodiscard]] base::Status create_topics(const kafka::ClientOptions& client,
                                         const std::vector<kafka::TopicSpec>& topics);

/// Fences every producer using `transactional_id`, as a restarted instance does: a producer of
/// its own with that id calls init_transactions, so the broker bumps the id's epoch and the old
/// producer's next transactional request fails as fenced (a fatal error for it).
[[nodiscard]] base::Status fence(const kafka::ClientOptions& client,
                                 const std::string& transactional_id);

/// A name no other test uses: "<prefix>-<16 hex digits>".
[[nodiscard]] std::string random_name(std::string_view prefix);

/// One record as a test sees it: copies, so it outlives the consumer.
struct ConsumedRecord {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
  std::map<std::string, std::string> headers;
};

/// Reads `topic` from the beginning (read_committed) until `expected` records arrived, or until
/// nothing new arrived for `quiet` after at least `expected` (to catch extra records), or
/// `limit` passed. Uses a throw-away consumer group.
[[nodiscard]] std::vector<ConsumedRecord> read_topic(
    const std::string& bootstrap, const std::string& topic, std::size_t expected,
    std::chrono::milliseconds limit = std::chrono::seconds{60},
    std::chrono::milliseconds quiet = std::chrono::milliseconds{500});

/// A broker of the test's own (scripts/kafka-local in a temp dir), for tests that stop or
/// crash it. Stopped by the destructor; owned by the test process, so it also stops if the
/// test dies.
class OwnBroker {
 public:
  /// `properties`: server.properties lines on top of kafka-local's test defaults, such as
  /// "group.initial.rebalance.delay.ms=3000" (Kafka's default; the fixture's broker has 0).
  explicit OwnBroker(const std::vector<std::string>& properties = {});
  ~OwnBroker();
  OwnBroker(const OwnBroker&) = delete;
  OwnBroker& operator=(const OwnBroker&) = delete;
  [[nodiscard]] const std::string& bootstrap() const { return bootstrap_; }
  /// SIGKILL, keeping data and address. The broker's ports (client and controller) stay this
  /// test's until restart(): the test process takes the broker's listening sockets before the
  /// kill and stops them listening after it, so they stay bound. Clients get "connection
  /// refused", as from a crashed broker, and no other test can bind the ports meanwhile (its
  /// server would get this test's clients, and the restart would fail). Where the broker's
  /// sockets cannot be taken (pidfd_getfd() needs ptrace rights over it), the ports are bound
  /// again right after the kill instead: best effort, the port is free for that moment.
  void crash();
  /// Back on the same address with its data; the ports held since crash() are let go once the
  /// broker listens on them again.
  void restart();

 private:
  void release_ports();

  std::string dir_;
  std::string bootstrap_;
  std::vector<int> held_ports_;  ///< sockets bound to the crashed broker's ports
};

}  // namespace iw::testing
