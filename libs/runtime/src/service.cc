#include "iw/runtime/service.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace

std::vector<Flag> flags_of(const ServiceInfo& info) {
  std::vector<Flag> flags;
  if (info.uses_kafka) {
    flags.push_back({"--bootstrap-servers", "kafka.bootstrap_servers", "HOSTS", "Kafka brokers"});
  }
  flags.insert(flags.end(), info.flags.begin(), info.flags.end());
  return flags;
}

namespace {

std::expected<CommandLine, std::string> parse_command_line(const ServiceInfo& info, int argc,
                                                           char** argv) {
  CommandLine cli;
  const std::vector<Flag> flags = flags_of(info);
  // A service flag: `--rate 5`, `--rate=5`, or a switch `--realtime`.
  const auto service_flag = [&](std::string_view arg, int& i) -> std::optional<std::string> {
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    for (const Flag& flag : flags) {
      if (flag.name != name) continue;
      if (flag.value_name.empty()) {
        if (eq != std::string_view::npos) return flag.name + " takes no value";
        cli.overrides.push_back({flag.name, flag.key, "true"});
      } else if (eq != std::string_view::npos) {
        cli.overrides.push_back({flag.name, flag.key, std::string(arg.substr(eq + 1))});
      } else if (i + 1 < argc) {
        cli.overrides.push_back({flag.name, flag.key, argv[++i]});
      } else {
        return flag.name + " needs a value (" + flag.value_name + ")";
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
  return cli;
}

void declare_common_keys(const ServiceInfo& info, config::Schema& schema) {
  schema.string("log.level")
      .describe("Lowest level written to stdout: debug, info, warn or error.")
      .default_value("info")
      .one_of({"debug", "info", "warn", "error"});
  schema.string("http.listen")
      .describe("host:port serving /metrics, /healthz and /readyz; port 0 picks a free one.")
      .default_value("0.0.0.0:" + std::to_string(info.default_http_port));
  if (!info.uses_kafka) return;
  schema.string("kafka.bootstrap_servers")
      .describe("Comma-separated Kafka brokers, host:port.")
      .default_value("127.0.0.1:9092");
  schema.string("kafka.client_id")
      .describe("client.id sent to Kafka, to tell this service apart in broker logs.")
      .default_value(info.binary);
  schema.properties("kafka.properties", &kafka::validate_property)
      .describe(
          "librdkafka settings passed through (security.protocol, sasl.*, linger.ms, ...). "
          "Credentials go in <key>_file entries that name a file.");
}

std::string usage(const ServiceInfo& info) {
  std::string text = info.binary + " - " + info.summary + "\n\nUsage: " + info.binary +
                     " [--config FILE] [--check-config] [--version] [--help]";
  text += info.usage_notes.empty() ? "\n" : " [ARGS...]\n";
  text +=
      "\n"
      "  --config FILE    YAML configuration (keys below); without it, defaults and env vars\n"
      "  --check-config   validate the configuration, print it with secrets redacted, exit\n"
      "  --version        print the version and exit\n"
      "  --help           print this help and exit\n";
  if (const std::vector<Flag> flags = flags_of(info); !flags.empty()) {
    text += "\nFlags (each sets a configuration key and wins over env and file):\n";
    for (const Flag& flag : flags) {
      std::string left = "  " + flag.name + (flag.value_name.empty() ? "" : " " + flag.value_name);
      left.resize(std::max<std::size_t>(left.size() + 2, 22), ' ');
      text += left + flag.help + "  [" + flag.key + "]\n";
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

}  // namespace

kafka::ClientOptions kafka_client_options(const Context& ctx) {
  kafka::ClientOptions options;
  options.bootstrap_servers = ctx.config.get_string("kafka.bootstrap_servers");
  options.client_id = ctx.config.get_string("kafka.client_id");
  options.properties = ctx.config.get_properties("kafka.properties");
  options.logger = &ctx.logger;
  return options;
}

std::string host_scoped_id(std::string_view binary) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return std::string(binary) + "-" + host;
}

int run_service(const ServiceInfo& info, Service& service, int argc, char** argv) {
  // Before any other thread exists, so every later thread inherits the blocked signals.
  ShutdownSignal shutdown;

  auto cli = parse_command_line(info, argc, argv);
  if (!cli) {
    std::cerr << info.binary << ": " << cli.error() << " (see --help)\n";
    return kExitUsage;
  }

  config::Schema schema;
  declare_common_keys(info, schema);
  service.declare(schema);

  if (cli->help) {
    std::cout << usage(info) << schema.help();
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
  if (!loaded) {
    std::cerr << config::format_diagnostics(loaded.error());
    std::cerr << info.binary << ": " << loaded.error().size() << " configuration problem"
              << (loaded.error().size() == 1 ? "" : "s") << "\n";
    return kExitUsage;
  }
  const config::Config& config = *loaded;
  if (cli->check_config) {
    std::cout << config.dump();
    std::cerr << info.binary << ": configuration OK\n";
    return kExitOk;
  }

  log::StdoutSink sink;
  log::Logger logger(info.name, sink, base::SystemClock::instance(),
                     *log::parse_level(config.get_string("log.level")));
  metrics::Metrics metrics({info.name, std::string(version()), std::string(commit())});
  metrics::Readiness readiness(service.readiness_checks());
  metrics::HttpServerOptions http_options;
  http_options.listen_address = config.get_string("http.listen");
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

  Context ctx{info,     config, logger, metrics, readiness, shutdown, base::SystemClock::instance(),
              cli->args};
  const base::Status status = service.run(ctx);
  if (!status) {
    logger.error("stopped on error", {{"code", base::code_name(status.error().code())},
                                      {"detail", status.error().message()}});
    return kExitRunFailed;
  }
  logger.info("stopped", {{"signal", static_cast<std::int64_t>(shutdown.signal_number())}});
  return kExitOk;
}

}  // namespace iw::runtime
