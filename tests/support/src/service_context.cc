#include "iw/testing/service_context.h"

#include <gtest/gtest.h>

#include "iw/base/check.h"

namespace iw::testing {
namespace {

config::Config load(const runtime::ServiceInfo& info, const runtime::Service& service,
                    std::string_view yaml) {
  auto loaded = config::load_string(runtime::declare_keys(info, service), yaml, "test.yaml");
  if (!loaded) {
    ADD_FAILURE() << config::format_diagnostics(loaded.error());
    loaded = config::load_string(runtime::declare_keys(info, service), "", "<defaults>");
  }
  IW_CHECK(loaded.has_value(), "the service's defaults do not load");
  return std::move(*loaded);
}

}  // namespace

ServiceContext::ServiceContext(runtime::ServiceInfo info, const runtime::Service& service,
                               std::string_view yaml)
    : info_(std::move(info)),
      config_(load(info_, service, yaml)),
      logger_(info_.name, sink_),
      metrics_({info_.name, "test", "test"}),
      readiness_(service.readiness_checks()),
      ctx_(std::make_unique<runtime::Context>(
          runtime::Context{info_, config_, logger_, metrics_, readiness_, shutdown_,
                           base::SystemClock::instance(), args_})) {}

std::vector<std::string> ServiceContext::logged(std::string_view msg) const {
  const std::string needle = "\"msg\":\"" + std::string(msg) + "\"";
  std::vector<std::string> out;
  for (std::string& line : sink_.lines()) {
    if (line.find(needle) != std::string::npos) out.push_back(std::move(line));
  }
  return out;
}

}  // namespace iw::testing
