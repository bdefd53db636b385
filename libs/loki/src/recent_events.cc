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
  return it != where_.end() && !it->second.refused && !(it->second.at == at);
}

void RecentEvents::refused(std::uint64_t key, const EntryRef& at) {
  const auto it = where_.find(key);
  if (it != where_.end() && it->second.at == at) it->second.refused = true;
}

void RecentEvents::remember(std::uint64_t key, const EntryRef& at) {
  if (key == 0 || capacity_ == 0) return;
  const auto [it, inserted] = where_.try_emplace(key, Taken{.at = at});
  if (!inserted) {
    // The same record read again, or a copy of a refused one (duplicate() said so).
    it->second = Taken{.at = at};
    return;
  }
  order_.push_back(key);
  while (where_.size() > capacity_) {
    where_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace iw::loki
