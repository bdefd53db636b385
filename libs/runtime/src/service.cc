#include "iw/runtime/service.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "iw/kafka/client.h"
#include "iw/metrics/http_server.h"
#include "iw/runtime/version.h"

namespace iw::runtime {
namespace {

// Exit statuses, so scripts and orchestrators can tell a bad configuration (fix the file,
// do not restart-loop) from a failure at run time.
constexpr int kExitOk = 0;
constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;

struct CommandLine {
  std::optional<std::string> config_path;
  bool check_config = false;
  bool version = false;
  bool help = false;
  std::vector<std::string> args;
  std::vector<config::LoadOptions::Override> overrides;
};

// What the runtime itself reads of the common keys.
struct RuntimeSettings {
  log::Level log_level = log::Level::kInfo;
  std::string http_listen;
};

// The key that takes the positional argument, or nullptr.
const config::KeySpec* argument_key(const config::Schema& schema) {
  for (const config::KeySpec& key : schema.keys()) {
    if (!key.argument.empty()) return &key;
  }
  return nullptr;
}

std::expected<CommandLine, std::string> parse_command_line(const config::Schema& schema, int argc,
                                                           char** argv) {
  CommandLine cli;
  // A service flag: `--rate 5`, `--rate=5`, or a switch `--realtime`.
  const auto service_flag = [&](std::string_view arg, int& i) -> std::optional<std::string> {
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    for (const config::KeySpec& key : schema.keys()) {
      if (key.flag.empty() || key.flag != name) continue;
      if (key.flag_value_name.empty()) {
        if (eq != std::string_view::npos) return key.flag + " takes no value";
        cli.overrides.push_back({key.flag, key.path, "true"});
      } else if (eq != std::string_view::npos) {
        cli.overrides.push_back({key.flag, key.path, std::string(arg.substr(eq + 1))});
      } else if (i + 1 < argc) {
        cli.overrides.push_back({key.flag, key.path, argv[++i]});
      } else {
        return key.flag + " needs a value (" + key.flag_value_name + ")";
      }
      return std::string();
    }
    return std::nullopt;
  };
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (only_positional || arg.empty() || arg[0] != '-' || arg == "-") {
      cli.args.emplace_back(arg);
    } else if (arg == "--") {
      only_positional = true;
    } else if (arg == "--help" || arg == "-h") {
      cli.help = true;
    } else if (arg == "--version") {
      cli.version = true;
    } else if (arg == "--check-config") {
      cli.check_config = true;
    } else if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) return std::unexpected(std::string(arg) + " needs a file name");
      cli.config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      cli.config_path = std::string(arg.substr(9));
    } else if (auto problem = service_flag(arg, i)) {
      if (!problem->empty()) return std::unexpected(*problem);
    } else {
      return std::unexpected("unknown option " + std::string(arg));
    }
  }
  // Last, so the argument wins over its key's flag.
  if (const config::KeySpec* argument = argument_key(schema); argument && !cli.args.empty()) {
    if (cli.args.size() > 1) {
      return std::unexpected("expected one " + argument->argument + ", got " +
                             std::to_string(cli.args.size()) + " arguments");
    }
    cli.overrides.push_back({argument->argument, argument->path, cli.args.front()});
    cli.args.clear();
  }
  return cli;
}

void declare_common_keys(const ServiceInfo& info, config::Schema& schema) {
  config::Binder<RuntimeSettings> keys(schema);
  keys.choice("log.level",
              {{"debug", log::Level::kDebug},
               {"info", log::Level::kInfo},
               {"warn", log::Level::kWarn},
               {"error", log::Level::kError}},
              &RuntimeSettings::log_level)
      .describe("Lowest level written to stdout: debug, info, warn or error.")
      .default_value("info");
  keys.key("http.listen", &RuntimeSettings::http_listen)
      .describe("host:port serving /metrics, /healthz and /readyz; port 0 picks a free one.")
      .default_value("0.0.0.0:" + std::to_string(info.default_http_port));
  declare_tracing_keys(schema);
  if (!info.uses_kafka) return;
  config::Binder<kafka::ClientOptions> kafka(schema);
  kafka.key("kafka.bootstrap_servers", &kafka::ClientOptions::bootstrap_servers)
      .describe("Comma-separated Kafka brokers, host:port.")
      .default_value("127.0.0.1:9092")
      .flag("--bootstrap-servers", "HOSTS");
  kafka.key("kafka.client_id", &kafka::ClientOptions::client_id)
      .describe("client.id sent to Kafka, to tell this service apart in broker logs.")
      .default_value(info.binary);
  kafka.properties("kafka.properties", &kafka::validate_property, &kafka::ClientOptions::properties)
      .describe(
          "librdkafka settings passed through (security.protocol, sasl.*, linger.ms, ...). "
          "Credentials go in <key>_file entries that name a file.");
}

std::string usage(const ServiceInfo& info, const config::Schema& schema) {
  const config::KeySpec* argument = argument_key(schema);
  std::string text = info.binary + " - " + info.summary + "\n\nUsage: " + info.binary +
                     " [--config FILE] [--check-config] [--version] [--help] [FLAGS...]";
  if (argument != nullptr) {
    text += " [" + argument->argument + "]\n";
  } else {
    text += info.usage_notes.empty() ? "\n" : " [ARGS...]\n";
  }
  text +=
      "\n"
      "  --config FILE    YAML configuration (keys below); without it, defaults and env vars\n"
      "  --check-config   validate the configuration, print it with secrets redacted, exit\n"
      "  --version        print the version and exit\n"
      "  --help           print this help and exit\n";
  std::vector<std::pair<std::string, std::string>> flags;  // "  --rate N", "producer.rate"
  for (const config::KeySpec& key : schema.keys()) {
    if (!key.argument.empty()) flags.emplace_back("  " + key.argument, key.path);
    if (key.flag.empty()) continue;
    flags.emplace_back(
        "  " + key.flag + (key.flag_value_name.empty() ? "" : " " + key.flag_value_name), key.path);
  }
  if (!flags.empty()) {
    text += argument != nullptr ? "\nFlags and argument" : "\nFlags";
    text += " (each sets the configuration key named, and wins over env and file):\n";
    std::size_t width = 0;
    for (const auto& [left, key] : flags) width = std::max(width, left.size() + 2);
    for (auto& [left, key] : flags) {
      left.resize(width, ' ');
      text += left + key + "\n";
    }
  }
  if (!info.usage_notes.empty()) text += "\n" + info.usage_notes + "\n";
  text +=
      "\nEvery key can be set by an environment variable (ENV column), which wins over the "
      "file.\nSecret keys also take <key>_file in YAML or <ENV>_FILE, naming a file to read.\n"
      "\nExit status: 0 stopped cleanly, 1 failed while running, 2 bad command line or "
      "configuration.\n\nConfiguration keys:\n";
  return text;
}

std::optional<std::string> environment_variable(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string host_name() {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return host;
}

// The exporter's counts reach /metrics once a second and once more after its shutdown.
class TraceMetricsFeed {
 public:
  TraceMetricsFeed(prometheus::Registry& registry, const otlp::BatchExporter* exporter)
      : metrics_(registry), exporter_(exporter) {
    if (exporter_ == nullptr) return;
    thread_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
        metrics_.update(exporter_->stats());
      }
    });
  }
  ~TraceMetricsFeed() { stop(); }
  TraceMetricsFeed(const TraceMetricsFeed&) = delete;
  TraceMetricsFeed& operator=(const TraceMetricsFeed&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    metrics_.update(exporter_->stats());
  }

 private:
  TraceMetrics metrics_;
  const otlp::BatchExporter* exporter_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

config::Schema declare_keys(const ServiceInfo& info, const Service& service) {
  config::Schema schema;
  declare_common_keys(info, schema);
  service.declare(schema);
  return schema;
}

kafka::ClientOptions kafka_client_options(const Context& ctx) {
  auto options = ctx.config.read<kafka::ClientOptions>();
  options.logger = &ctx.logger;
  return options;
}

std::string host_scoped_id(std::string_view binary) {
  return std::string(binary) + "-" + host_name();
}

int run_service(const ServiceInfo& info, Service& service, int argc, char** argv) {
  // Before any other thread exists, so every later thread inherits the blocked signals.
  ShutdownSignal shutdown;

  const config::Schema schema = declare_keys(info, service);
  auto cli = parse_command_line(schema, argc, argv);
  if (!cli) {
    std::cerr << info.binary << ": " << cli.error() << " (see --help)\n";
    return kExitUsage;
  }

  if (cli->help) {
    std::cout << usage(info, schema) << schema.help();
    return kExitOk;
  }
  if (cli->version) {
    std::cout << info.binary << " " << version() << " (" << commit() << ")\n";
    return kExitOk;
  }

  config::LoadOptions load_options;
  load_options.overrides = cli->overrides;
  auto loaded = cli->config_path ? config::load_file(schema, *cli->config_path, load_options)
                                 : config::load_string(schema, "", "<defaults>", load_options);
  // The OTEL_* variables win over the tracing.* keys; a bad one is a configuration problem,
  // reported and counted with the file's (one line per variable).
  auto otel = otlp::read_environment(environment_variable);
  if (!loaded || !otel) {
    std::size_t problems = 0;
    if (!loaded) {
      std::cerr << config::format_diagnostics(loaded.error());
      problems += loaded.error().size();
    }
    if (!otel) {
      std::istringstream lines(otel.error().message());
      for (std::string line; std::getline(lines, line);) {
        std::cerr << info.binary << ": " << line << "\n";
        ++problems;
      }
    }
    std::cerr << info.binary << ": " << problems << " configuration problem"
              << (problems == 1 ? "" : "s") << "\n";
    return kExitUsage;
  }
  const config::Config& config = *loaded;
  const TracingPlan tracing_plan = plan_tracing(config.read<TracingSettings>(), *otel,
                                                {.service_name = info.binary,
                                                 .service_version = std::string(version()),
                                                 .host_name = host_name()});
  if (cli->check_config) {
    std::cout << config.dump();
    std::cerr << info.binary << ": configuration OK\n";
    return kExitOk;
  }

  const auto settings = config.read<RuntimeSettings>();
  log::StdoutSink sink;
  log::Logger logger(info.name, sink, base::SystemClock::instance(), settings.log_level);
  metrics::Metrics metrics({info.name, std::string(version()), std::string(commit())});
  metrics::Readiness readiness(service.readiness_checks());
  metrics::HttpServerOptions http_options;
  http_options.listen_address = settings.http_listen;
  http_options.on_error = [&logger](std::string_view message) {
    logger.warn("http server error", {{"detail", message}});
  };
  auto http = metrics::HttpServer::start(http_options, metrics, readiness);
  if (!http) {
    logger.error("cannot start http server", {{"detail", http.error().message()}});
    return kExitRunFailed;
  }
  logger.info("started", {{"version", version()},
                          {"commit", commit()},
                          {"http_listen", http->listen_address()},
                          {"http_port", static_cast<std::uint32_t>(http->bound_port())}});

  // Off without an endpoint: no exporter, no span recorded (new traces still carry the
  // sampling decision in their flags, for the services after this one).
  std::unique_ptr<otlp::BatchExporter> exporter;
  if (tracing_plan.exporting) {
    exporter = std::make_unique<otlp::BatchExporter>(tracing_plan.exporter);
  }
  logger.info("tracing", {{"exporting", tracing_plan.exporting},
                          {"endpoint", otlp::loggable_url(tracing_plan.exporter.endpoint)},
                          {"sampling_ratio", tracing_plan.sampling_ratio}});
  TraceMetricsFeed trace_metrics(metrics.registry(), exporter.get());
  const Tracing tracing(tracing_plan.sampling_ratio, exporter.get());

  Context ctx{.info = info,
              .config = config,
              .logger = logger,
              .metrics = metrics,
              .readiness = readiness,
              .shutdown = shutdown,
              .clock = base::SystemClock::instance(),
              .args = cli->args,
              .tracing = tracing};
  const base::Status status = service.run(ctx);
  if (exporter) {
    // After the drain: the spans of the last records go, within a bound.
    exporter->shutdown(std::chrono::seconds(2));
    trace_metrics.stop();
  }
  if (!status) {
    logger.error("stopped on error", {{"code", base::code_name(status.error().code())},
                                      {"detail", status.error().message()}});
    return kExitRunFailed;
  }
  logger.info("stopped", {{"signal", static_cast<std::int64_t>(shutdown.signal_number())}});
  return kExitOk;
}

}  // namespace iw::runtime
