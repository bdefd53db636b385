#!/usr/bin/env python3
"""Checks of docker-compose.yml without a Docker engine (CTest deploy.compose_*):

  config   Debian's docker-compose (1.29) accepts the file, with .env.example and without any
           .env (which must then mean the same stack); the stack has what docs/DEPLOY.md says
           (services, healthchecks, depends_on conditions, pinned images, the ingestwatch
           services read-only and non-root, ports on BIND_ADDRESS only, every ingestwatch
           service exporting its spans to the jaeger service with a parent-based ratio).
  mounts   every file or directory a service mounts exists in the repo; Grafana's home
           dashboard and the producer's input are among them; Prometheus, assembled as its
           container sees /etc/prometheus, passes `promtool check config` and scrapes the
           compose services on the ports their configurations listen on; the provisioned
           datasources point at the compose Prometheus, Loki and Jaeger.
  configs  every ingestwatch service's configuration passes the service's own
           `--check-config`, with the environment compose gives it; it reaches Kafka, Loki and
           Alertmanager by their compose names, and its healthcheck asks its own port.
  topics   deploy/compose/create-topics.sh passes shellcheck and, run with stand-in Kafka
           tools, creates exactly the four topics of BRIEF §1 with .env.example's partitions
           and retention, and refuses an alerts retention shorter than the enriched one.

Exit 77 (skipped) when docker-compose or promtool is missing (scripts/setup installs them).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, SERVICES, Failures, check_config, parse_binaries, skip  # noqa: E402

COMPOSE_FILE = os.path.join(REPO, "docker-compose.yml")
ENV_EXAMPLE = os.path.join(REPO, ".env.example")
EXPECTED_SERVICES = {"kafka", "kafka-init", "kafka-ui", "prometheus", "alertmanager", "loki",
                     "grafana", "jaeger", "enricher", "alert-evaluator", "loki-pusher",
                     "producer"}
ONE_SHOT = {"kafka-init", "producer"}
FOUR_TOPICS = {"ingestion-logs", "ingestion-logs-enriched", "ingestion-alerts",
               "ingestion-logs-dlq"}


def compose(*args, env_file=None):
    """`docker-compose config` output, parsed; an isolated environment, so the shell's
    variables cannot leak into the interpolation."""
    exe = shutil.which("docker-compose")
    if not exe:
        skip("docker-compose is not installed (scripts/setup)")
    with tempfile.TemporaryDirectory() as tmp:
        # docker-compose reads .env from the project directory: use a copy of the compose file
        # next to no .env, with the project directory set back to the repo.
        cmd = [exe, "--project-directory", REPO, "-f", COMPOSE_FILE]
        if env_file:
            cmd += ["--env-file", env_file]
        else:
            empty = os.path.join(tmp, "empty.env")
            open(empty, "w").close()
            cmd += ["--env-file", empty]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
        proc = subprocess.run(cmd + ["config"] + list(args), capture_output=True, text=True,
                              env=env, cwd=tmp)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"docker-compose config refused {COMPOSE_FILE} (exit {proc.returncode})")
    return proc.stdout


def read_env_example():
    values = {}
    with open(ENV_EXAMPLE) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = line.partition("=")
                values[k] = v
    return values


def binds(service):
    """(source, target) of each bind mount of a service in `docker-compose config` output."""
    result = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            if v.get("type") == "bind":
                result.append((v["source"], v["target"]))
            continue
        parts = v.split(":")
        if parts[0].startswith("/"):
            result.append((parts[0], parts[1]))
    return result


def host_path(service, container_path):
    """Where a path inside the container comes from on the host, through its bind mounts."""
    best = None
    for source, target in binds(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[1]):
                best = (source, target)
    if best is None:
        return None
    return best[0] + container_path[len(best[1]):]


def tracing_env_problems(env, services):
    """What is wrong with a service's tracing environment (docs/TRACING.md): its spans go to the
    compose Jaeger's OTLP/HTTP port, sampled parent-based with a ratio in [0, 1]."""
    problems = []
    endpoint = str(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))
    if endpoint != "http://jaeger:4318":
        problems.append(f"OTEL_EXPORTER_OTLP_ENDPOINT is {endpoint!r}, not http://jaeger:4318")
    elif "jaeger" not in services:
        problems.append("no jaeger service to send spans to")
    if env.get("OTEL_TRACES_SAMPLER") != "parentbased_traceidratio":
        problems.append(f"OTEL_TRACES_SAMPLER is {env.get('OTEL_TRACES_SAMPLER')!r}, "
                        "not parentbased_traceidratio")
    try:
        ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG", ""))
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        problems.append(f"OTEL_TRACES_SAMPLER_ARG {env.get('OTEL_TRACES_SAMPLER_ARG')!r} is not "
                        "a ratio in [0, 1]")
    return problems


def cmd_config(fail, _args):
    with_env = compose(env_file=ENV_EXAMPLE)
    without_env = compose()
    fail.check(with_env == without_env,
               ".env.example and the compose file's defaults differ: the same stack must come "
               "out of both (docs/DEPLOY.md)")
    doc = yaml.safe_load(with_env)
    services = doc["services"]
    fail.check(set(services) == EXPECTED_SERVICES,
               f"services: expected {sorted(EXPECTED_SERVICES)}, got {sorted(services)}")
    # grafana/provisioning/datasources/datasources.yml names http://prometheus:9090 and
    # http://loki:3100.
    for name in ("prometheus", "loki"):
        fail.check(name in services, f"no compose service named {name} (the datasources' host)")
    for name, svc in services.items():
        image = svc.get("image", "")
        fail.check(image and not image.endswith(":latest") and ":" in image,
                   f"{name}: image '{image}' is not pinned to a tag")
        if name not in ONE_SHOT:
            fail.check("healthcheck" in svc, f"{name}: no healthcheck")
            fail.check(svc.get("restart") == "unless-stopped",
                       f"{name}: restart is {svc.get('restart')!r}, expected unless-stopped")
        else:
            fail.check(svc.get("restart") == "no", f"{name}: a one-shot job must not restart")
        for dep, cond in (svc.get("depends_on") or {}).items():
            condition = cond.get("condition") if isinstance(cond, dict) else None
            fail.check(dep in services, f"{name}: depends on unknown service {dep}")
            want = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            fail.check(condition == want,
                       f"{name}: depends_on {dep} with condition {condition}, expected {want}")
            if dep in services and dep not in ONE_SHOT:
                fail.check("healthcheck" in services[dep],
                           f"{name}: waits for {dep} to be healthy, which has no healthcheck")
        for port in svc.get("ports", []):
            published = port if isinstance(port, str) else port.get("host_ip", "")
            fail.check(str(published).startswith("127.0.0.1:") or
                       (isinstance(port, dict) and port.get("host_ip") == "127.0.0.1"),
                       f"{name}: port {port} is not published on BIND_ADDRESS (127.0.0.1)")
    for name in SERVICES:
        svc = services.get(name, {})
        command = svc.get("command", [])
        binary = SERVICES[name][0]
        fail.check(command[:1] == [binary], f"{name}: command {command} does not start {binary}")
        fail.check(svc.get("read_only") is True, f"{name}: root file system not read-only")
        fail.check(svc.get("cap_drop") == ["ALL"], f"{name}: capabilities not dropped")
        fail.check(svc.get("build", {}).get("dockerfile") == "deploy/docker/Dockerfile",
                   f"{name}: not built from deploy/docker/Dockerfile")
        depends = svc.get("depends_on") or {}
        fail.check("kafka-init" in depends, f"{name}: starts before the topics exist")
        problems = tracing_env_problems(svc.get("environment") or {}, services)
        fail.check(not problems, f"{name}: tracing: {'; '.join(problems)}")
    # The compose file itself: no `version:` (the Compose specification), ${VAR:-default}
    # everywhere a variable is used, and every variable documented in .env.example.
    with open(COMPOSE_FILE) as f:
        raw = "\n".join(line for line in f.read().splitlines()
                        if not line.lstrip().startswith("#"))
    fail.check(not re.search(r"^version:", raw, re.M), "a `version:` key (obsolete)")
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", raw))
    bare = set(re.findall(r"\$\{([A-Z0-9_]+)\}", raw))
    fail.check(not bare, f"variables without a default: {sorted(bare)}")
    documented = set(read_env_example())
    fail.check(used <= documented,
               f"variables missing from .env.example: {sorted(used - documented)}")
    fail.check(documented - used <= {"COMPOSE_PROJECT_NAME"},
               f".env.example sets variables the compose file ignores: "
               f"{sorted(documented - used - {'COMPOSE_PROJECT_NAME'})}")


def cmd_mounts(fail, args):
    doc = yaml.safe_load(compose())
    services = doc["services"]
    count = 0
    for name, svc in services.items():
        for source, target in binds(svc):
            count += 1
            fail.check(os.path.realpath(source).startswith(REPO + os.sep),
                       f"{name}: mounts {source}, outside the repository")
            fail.check(os.path.exists(source), f"{name}: mounts {source} ({target}): missing")
            if os.path.isdir(source):
                fail.check(any(os.scandir(source)), f"{name}: mounts {source}: empty directory")
    fail.check(count > 0, "no bind mounts found")

    grafana = services["grafana"]
    home = grafana.get("environment", {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    home_host = host_path(grafana, home or "")
    fail.check(home_host and os.path.isfile(home_host),
               f"grafana: home dashboard {home} is not a mounted file")
    provider_dir = "/var/lib/grafana/dashboards"
    dash_host = host_path(grafana, provider_dir)
    fail.check(dash_host and os.path.isdir(dash_host)
               and any(f.endswith(".json") for f in os.listdir(dash_host)),
               f"grafana: no dashboards at {provider_dir}")
    providers = host_path(grafana, "/etc/grafana/provisioning/dashboards/dashboards.yml")
    if fail.check(providers and os.path.isfile(providers), "grafana: no dashboards provider"):
        with open(providers) as f:
            paths = [p.get("options", {}).get("path") for p in yaml.safe_load(f)["providers"]]
        fail.check(provider_dir in paths,
                   f"grafana: the dashboards provider reads {paths}, not {provider_dir}")
    sources = host_path(grafana, "/etc/grafana/provisioning/datasources/datasources.yml")
    if fail.check(sources and os.path.isfile(sources), "grafana: no datasources provisioned"):
        with open(sources) as f:
            urls = {d.get("uid"): d.get("url") for d in yaml.safe_load(f)["datasources"]}
        fail.check(urls.get("prometheus") == "http://prometheus:9090",
                   f"datasource prometheus: {urls.get('prometheus')}")
        fail.check(urls.get("loki") == "http://loki:3100", f"datasource loki: {urls.get('loki')}")
        fail.check(urls.get("jaeger") == "http://jaeger:16686",
                   f"datasource jaeger: {urls.get('jaeger')}")

    producer = services["producer"]
    with open(host_path(producer, "/etc/ingestwatch/producer.yml")) as f:
        input_path = yaml.safe_load(f)["producer"]["input"]
    input_host = host_path(producer, input_path)
    fail.check(input_host and os.path.isfile(input_host),
               f"producer: its input {input_path} is not a mounted file")

    # Prometheus as its container sees /etc/prometheus, through promtool.
    promtool = args.promtool or shutil.which("promtool")
    if not promtool or not shutil.which(promtool):
        skip("promtool is not installed (scripts/setup)")
    prom = services["prometheus"]
    with tempfile.TemporaryDirectory() as tmp:
        etc = os.path.join(tmp, "etc", "prometheus")
        os.makedirs(etc)
        for _, target in binds(prom):
            if target.startswith("/etc/prometheus/"):
                os.symlink(host_path(prom, target),
                           os.path.join(etc, target[len("/etc/prometheus/"):]))
        config = os.path.join(etc, "prometheus.yml")
        proc = subprocess.run([promtool, "check", "config", config], capture_output=True, text=True)
        fail.check(proc.returncode == 0,
                   f"promtool check config (compose layout): {proc.stdout}{proc.stderr}")
        # The ports are the services' defaults; deploy.compose.configs checks that each
        # service listens there.
        expected = {binary: f"{name}:{port}" for name, (binary, port) in SERVICES.items()}
        expected["ingest-producer"] = None  # one-shot: no target (prometheus/README.md)
        expected["prometheus"] = "prometheus:9090"
        expected["alertmanager"] = "alertmanager:9093"
        for job, want in expected.items():
            proc = subprocess.run([promtool, "check", "service-discovery", "--timeout=1s",
                                   config, job], capture_output=True, text=True)
            try:
                got = [t["labels"]["instance"] for t in json.loads(proc.stdout or "[]")]
            except ValueError:
                got = None
            fail.check(got == ([want] if want else []),
                       f"prometheus job {job}: targets {got}, expected {[want] if want else []}"
                       f" {proc.stderr.strip()}")
            if want:
                host = want.split(":")[0]
                fail.check(host in services,
                           f"prometheus job {job}: {host} is not a compose service")


def cmd_configs(fail, args):
    binaries = parse_binaries(args.binary)
    doc = yaml.safe_load(compose())
    services = doc["services"]
    kafka_listeners = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    for name, (binary_name, _) in SERVICES.items():
        binary = binaries.get(name)
        if not binary or not os.access(binary, os.X_OK):
            fail(f"{name}: no {binary_name} binary given (--binary {name}=PATH)")
            continue
        svc = services[name]
        command = svc["command"]
        config_path = command[command.index("--config") + 1]
        host = host_path(svc, config_path)
        if not fail.check(host and os.path.isfile(host), f"{name}: {config_path} is not mounted"):
            continue
        with open(host) as f:
            text = f.read()
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        code, out, err = check_config(binary, text, env)
        if not fail.check(code == 0, f"{name}: {binary_name} --check-config --config "
                                     f"{os.path.relpath(host, REPO)} (compose environment {env}) "
                                     f"exit {code}:\n{err}"):
            continue
        # What compose wires around it, from the effective configuration.
        effective = yaml.safe_load(out)
        port = int(effective["http"]["listen"].rsplit(":", 1)[1])
        fail.check(port == SERVICES[name][1],
                   f"{name}: listens on {port}, not its default {SERVICES[name][1]} (the "
                   f"compose Prometheus targets, deploy/compose/prometheus-targets/)")
        health = " ".join(svc.get("healthcheck", {}).get("test", []))
        fail.check(f"127.0.0.1:{port}/readyz" in health,
                   f"{name}: healthcheck '{health}' does not ask its /readyz on port {port}")
        fail.check(effective["kafka"]["bootstrap_servers"] in kafka_listeners,
                   f"{name}: kafka.bootstrap_servers {effective['kafka']['bootstrap_servers']} is "
                   f"not an advertised listener of the kafka service ({kafka_listeners})")
        section = effective.get(name.replace("-", "_"), {})
        if "create_topics" in section:
            fail.check(section["create_topics"] is False,
                       f"{name}: creates topics itself; kafka-init owns them in compose")
        if name == "loki-pusher":
            fail.check(section.get("url") == "http://loki:3100",
                       f"loki-pusher: url {section.get('url')}")
        if name == "alert-evaluator":
            fail.check(section.get("alertmanager_url") == "http://alertmanager:9093",
                       f"alert-evaluator: alertmanager_url {section.get('alertmanager_url')}")
        if name == "producer":
            fail.check(section.get("realtime") is True, "producer: not in realtime mode")


def cmd_topics(fail, _args):
    script = os.path.join(REPO, "deploy", "compose", "create-topics.sh")
    doc = yaml.safe_load(compose(env_file=ENV_EXAMPLE))
    init = doc["services"]["kafka-init"]
    fail.check(host_path(init, init["entrypoint"][-1]) == script,
               f"kafka-init does not run {script}: {init['entrypoint']}")
    env_example = read_env_example()
    # scripts/lint's shellcheck does not look into deploy/: this one is checked here.
    if shutil.which("shellcheck"):
        proc = subprocess.run(["shellcheck", script], capture_output=True, text=True)
        fail.check(proc.returncode == 0, f"shellcheck {script}:\n{proc.stdout}")

    def run(env):
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "calls")
            for tool in ("kafka-topics.sh", "kafka-configs.sh"):
                path = os.path.join(tmp, tool)
                with open(path, "w") as f:
                    f.write(f'#!/bin/sh\nprintf "%s" "{tool}" >> "{log}"\n'
                            f'for a in "$@"; do printf " %s" "$a" >> "{log}"; done\n'
                            f'echo >> "{log}"\n')
                os.chmod(path, 0o755)
            run_env = {"PATH": os.environ["PATH"], "KAFKA_BIN": tmp}
            run_env.update(env)
            proc = subprocess.run(["bash", script], env=run_env, capture_output=True, text=True)
            calls = open(log).read().splitlines() if os.path.exists(log) else []
            return proc, calls

    env = {k: str(v) for k, v in init["environment"].items()}
    proc, calls = run(env)
    fail.check(proc.returncode == 0, f"create-topics.sh exit {proc.returncode}: {proc.stderr}")
    created = {}
    for call in calls:
        words = call.split()
        if words[0] == "kafka-topics.sh" and "--create" in words:
            topic = words[words.index("--topic") + 1]
            configs = dict(words[i + 1].split("=", 1)
                           for i, w in enumerate(words) if w == "--config")
            created[topic] = (int(words[words.index("--partitions") + 1]), configs)
            fail.check("--if-not-exists" in words, f"{topic}: created without --if-not-exists")
            fail.check(words[words.index("--bootstrap-server") + 1] == "kafka:9092",
                       f"{topic}: bootstrap {words[words.index('--bootstrap-server') + 1]}")
        if words[0] == "kafka-configs.sh":
            topic = words[words.index("--entity-name") + 1]
            added = dict(kv.split("=", 1)
                         for kv in words[words.index("--add-config") + 1].split(","))
            fail.check(topic in created and added == created[topic][1],
                       f"{topic}: kafka-configs sets {added}, not what it was created with")
    fail.check(set(created) == FOUR_TOPICS, f"topics created: {sorted(created)}")
    want = {
        "ingestion-logs": ("KAFKA_PARTITIONS", "RETENTION_LOGS_MS"),
        "ingestion-logs-enriched": ("KAFKA_PARTITIONS", "RETENTION_ENRICHED_MS"),
        "ingestion-alerts": ("KAFKA_PARTITIONS", "RETENTION_ALERTS_MS"),
        "ingestion-logs-dlq": ("DLQ_PARTITIONS", "RETENTION_DLQ_MS"),
    }
    for topic, (parts_var, retention_var) in want.items():
        if topic not in created:
            continue
        parts, configs = created[topic]
        fail.check(parts == int(env_example[parts_var]),
                   f"{topic}: {parts} partitions, .env.example says {env_example[parts_var]}")
        fail.check(configs.get("retention.ms") == env_example[retention_var],
                   f"{topic}: retention.ms {configs.get('retention.ms')}, .env.example says "
                   f"{env_example[retention_var]}")
        fail.check(configs.get("cleanup.policy") == "delete",
                   f"{topic}: cleanup.policy {configs.get('cleanup.policy')} "
                   "(see create-topics.sh)")
        fail.check(configs.get("max.message.bytes") == "1048588",
                   f"{topic}: max.message.bytes {configs.get('max.message.bytes')}, not the "
                   "1048588 docs/DLQ.md sizes the clients against")
    bad = dict(env, RETENTION_ALERTS_MS="1000", RETENTION_ENRICHED_MS="2000")
    proc, calls = run(bad)
    fail.check(proc.returncode == 2 and not calls,
               f"an alerts retention below the enriched one was accepted (exit {proc.returncode})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("check", choices=["config", "mounts", "configs", "topics"])
    parser.add_argument("--binary", action="append", help="SERVICE=PATH of its binary")
    parser.add_argument("--promtool")
    args = parser.parse_args()
    fail = Failures()
    {"config": cmd_config, "mounts": cmd_mounts, "configs": cmd_configs,
     "topics": cmd_topics}[args.check](fail, args)
    fail.finish(f"compose {args.check}")


if __name__ == "__main__":
    main()
