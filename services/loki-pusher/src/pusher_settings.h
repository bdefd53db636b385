#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "iw/config/config.h"
#include "iw/config/schema.h"
#include "iw/loki/batcher.h"
#include "iw/loki/entry.h"
#include "iw/stage/stage.h"
#include "loki_client.h"
#include "sender.h"

namespace iw::loki_pusher {

enum class Kind { kRun, kAlert };

struct Settings {
  std::string runs_topic;
  std::string alerts_topic;
  std::vector<std::string> topics;  // the stage's input topics, in the order of their indices
  std::vector<Kind> kinds;          // what each topic holds
  std::string dlq_topic;
  std::string group_id;
  bool create_topics = true;
  LokiClientOptions client;
  SenderOptions sender;
  bool gzip = false;
  loki::BatcherOptions batcher;
  loki::EntryOptions entries;
  std::size_t max_pending_bytes = 0;
  std::size_t dedup_max_ids = 0;  // loki::RecentEvents' capacity
  std::chrono::milliseconds drain_timeout{0};
  stage::PoisonPolicy poison;
};

/// The loki_pusher.* keys (docs/LOKI_PUSHER.md, "Configuration") and the checks across them.
void declare_settings(config::Schema& schema);

/// The settings the keys declare, and what follows from them (the input topics, the encoding,
/// the User-Agent).
[[nodiscard]] Settings read_settings(const config::Config& config);

}  // namespace iw::loki_pusher
