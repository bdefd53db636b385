#include "iw/loki/recent_events.h"

#include <functional>

namespace iw::loki {

std::uint64_t event_key(std::string_view event_id) {
  const std::uint64_t key = std::hash<std::string_view>{}(event_id);
  return key == 0 ? 1 : key;
}

bool RecentEvents::duplicate(std::uint64_t key, const EntryRef& at) const {
  if (key == 0) return false;
  const auto it = where_.find(key);
  return it != where_.end() && !(it->second == at);
}

void RecentEvents::remember(std::uint64_t key, const EntryRef& at) {
  if (key == 0 || capacity_ == 0) return;
  const auto [it, inserted] = where_.try_emplace(key, at);
  if (!inserted) {
    it->second = at;  // the same record read again (duplicate() said so): nothing new to order
    return;
  }
  order_.push_back(key);
  while (where_.size() > capacity_) {
    where_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace iw::loki
