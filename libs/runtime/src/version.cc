#include "iw/runtime/version.h"

#include "iw_commit.h"  // generated at build time: IW_COMMIT

namespace iw::runtime {

std::string_view version() { return IW_VERSION; }
std::string_view commit() { return IW_COMMIT; }

}  // namespace iw::runtime
