#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "iw/base/error.h"
#include "iw/log/logger.h"

namespace iw::kafka {

/// What every Kafka client needs. `properties` are librdkafka settings passed through as they
/// are (see validate_property); the named fields win over them.
struct ClientOptions {
  std::string bootstrap_servers;
  std::string client_id = "ingestwatch";
  std::map<std::string, std::string> properties;
  /// Where librdkafka's own log lines and error events go. Required.
  const log::Logger* logger = nullptr;
  /// Called for every client error event (fatal or not), e.g. to count them. Runs on
  /// librdkafka's threads or inside poll(); keep it cheap.
  std::function<void(const base::Error& error, bool fatal)> on_client_error;
};

/// Checks one librdkafka setting the way librdkafka will read it. Returns the reason it is
/// rejected, or nullopt. Settings through which the project keeps its delivery guarantees
/// (offset storing, commits, idempotence, transactions, group id) are rejected as managed.
[[nodiscard]] std::optional<std::string> validate_property(std::string_view key,
                                                           std::string_view value);

}  // namespace iw::kafka
