// A minimal service built on the runtime the way every real service is, for process-level tests.
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "iw/runtime/service.h"

namespace {

class DemoService final : public iw::runtime::Service {
 public:
  void declare(iw::config::Schema& schema) const override {
    schema.string("demo.greeting").describe("Said once at start-up.").required();
    schema.duration("demo.interval").describe("Pause between loop turns.").default_value("50ms");
    schema.string("demo.token").describe("A credential the demo never prints.").secret();
    schema.boolean("demo.slow").describe("Pause 10 times longer.").default_value(false);
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
    ctx.logger.info("greeting", {{"text", ctx.config.get_string("demo.greeting")},
                                 {"token_set", ctx.config.has("demo.token")}});
    const auto interval = ctx.config.get_duration("demo.interval");
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
  const iw::runtime::ServiceInfo info{
      .name = "demo",
      .binary = "iw-demo-service",
      .summary = "exercises the runtime in tests",
      .default_http_port = 9999,
      .flags = {{"--greeting", "demo.greeting", "TEXT", "what to say at start-up"},
                {"--slow", "demo.slow", "", "pause longer"}}};
  DemoService service;
  return iw::runtime::run_service(info, service, argc, argv);
}
