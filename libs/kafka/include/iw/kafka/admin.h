#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "iw/base/error.h"
#include "iw/kafka/client.h"

namespace iw::kafka {

struct TopicSpec {
  std::string name;
  std::int32_t partitions = 1;
  std::int16_t replication_factor = 1;
  /// Topic-level settings, e.g. {"retention.ms", "604800000"}, {"cleanup.policy", "compact"}.
  std::map<std::string, std::string> config;
};

/// Cluster administration: creating topics and reading their shape.
class Admin {
 public:
  virtual ~Admin() = default;
  /// Creates the topics; ones that already exist are left as they are and are not an error.
  virtual base::Status create_topics(std::span<const TopicSpec> topics,
                                     std::chrono::milliseconds timeout) = 0;
  /// kNotFound when the topic does not exist.
  virtual base::Result<std::int32_t> partition_count(const std::string& topic,
                                                     std::chrono::milliseconds timeout) = 0;
};

[[nodiscard]] base::Result<std::unique_ptr<Admin>> make_admin(const ClientOptions& options);

}  // namespace iw::kafka
