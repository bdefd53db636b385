#include "iw/base/clock.h"

namespace iw::base {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace iw::base
