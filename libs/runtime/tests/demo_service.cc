// A minimal service built on the runtime the way every real service is, for process-level tests.
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "iw/runtime/service.h"

namespace {

struct DemoSettings {
  std::string greeting;
  std::chrono::milliseconds interval{0};
  iw::config::Secret token;
  bool slow = false;
  std::string shout;
};

class DemoService final : public iw::runtime::Service {
 public:
  void declare(iw::config::Schema& schema) const override {
    iw::config::Binder<DemoSettings> keys(schema);
    keys.key("demo.greeting", &DemoSettings::greeting)
        .describe("Said once at start-up.")
        .required()
        .flag("--greeting", "TEXT");
    keys.key("demo.interval", &DemoSettings::interval)
        .describe("Pause between loop turns.")
        .default_value("50ms");
    keys.key("demo.token", &DemoSettings::token).describe("A credential the demo never prints.");
    keys.key("demo.slow", &DemoSettings::slow)
        .describe("Pause 10 times longer.")
        .default_value(false)
        .flag("--slow");
    keys.key("demo.shout", &DemoSettings::shout).describe("Said instead, louder.");
    keys.check({"demo.shout", "demo.greeting"}, [](const DemoSettings& s) {
      return s.shout.empty() ? std::nullopt
                             : std::optional<std::string>(
                                   "set demo.greeting or demo.shout, not "
                                   "both");
    });
  }

  std::vector<std::string> readiness_checks() const override { return {"demo"}; }

  iw::base::Status run(iw::runtime::Context& ctx) override {
    auto& loops = prometheus::BuildCounter()
                      .Name("demo_loops_total")
                      .Help("Loop turns completed.")
                      .Register(ctx.metrics.registry())
                      .Add({});
    auto& turn_seconds =
        prometheus::BuildHistogram()
            .Name("demo_turn_duration_seconds")
            .Help("Time spent per loop turn.")
            .Register(ctx.metrics.registry())
            .Add({{"kind", "tick"}}, prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1});
    const auto settings = ctx.config.read<DemoSettings>();
    ctx.logger.info("greeting",
                    {{"text", settings.greeting}, {"token_set", !settings.token.empty()}});
    const auto interval = settings.slow ? settings.interval * 10 : settings.interval;
    while (!ctx.shutdown.requested()) {
      loops.Increment();
      turn_seconds.Observe(0.002);
      ctx.readiness.set_ready("demo");
      ctx.shutdown.wait_for(interval);
    }
    ctx.logger.info("draining", {{"turns", loops.Value()}});
    return {};
  }
};

}  // namespace

int main(int argc, char** argv) {
  const iw::runtime::ServiceInfo info{.name = "demo",
                                      .binary = "iw-demo-service",
                                      .summary = "exercises the runtime in tests",
                                      .default_http_port = 9999};
  DemoService service;
  return iw::runtime::run_service(info, service, argc, argv);
}
