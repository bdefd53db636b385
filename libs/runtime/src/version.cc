#include "iw/runtime/version.h"

namespace iw::runtime {

std::string_view version() { return IW_VERSION; }
std::string_view commit() { return IW_COMMIT; }

}  // namespace iw::runtime
