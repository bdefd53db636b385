#!/usr/bin/env python3
"""Checks of the Helm chart deploy/helm/ingestwatch, offline (CTest deploy.helm_*):

  lint [VALUES]      `helm lint --strict` (values.schema.json included).
  template [VALUES]  `helm template`, then:
    - every manifest validates against the Kubernetes JSON schemas bundled in PyPI's
      kubernetes-validate, strict (unknown fields rejected), for the oldest Kubernetes the
      chart admits (Chart.yaml kubeVersion) and the newest the package knows;
    - ServiceMonitor and PrometheusRule validate against the openAPIV3Schema of
      prometheus-operator's CRDs (its Go module, scripts/deploy-tools), made strict the way
      the API server prunes: no field a schema does not declare, unless it preserves unknown
      fields;
    - object names and label values are valid Kubernetes names and values;
    - the PrometheusRules carry exactly prometheus/rules/*.yml (one per file, the same groups,
      expressions byte for byte) and the dashboard ConfigMaps exactly grafana/dashboards/*.json
      (byte-identical), both read by Helm through the chart's links, which Helm must report
      following;
    - each Deployment's ConfigMap passes the service's own `--check-config`, with the
      Deployment's environment and stand-ins for its mounted Secrets; probes ask /healthz and
      /readyz on the port the configuration listens on; the tracing environment is what
      `tracing` asks (none when off; endpoint, parent-based ratio, OTLP headers only by
      reference to their Secret); resources, a non-root read-only
      security context, a Service, the ServiceMonitor's job label, a PodDisruptionBudget and
      an autoscaler select what they should.
  package            `helm package`: the archive holds the rules and dashboards as files,
                     byte-identical to the repo's (the links are followed, not packaged).

Tools come from scripts/deploy-tools (CTest deploy.tools installs them): exit 77 (skipped)
without them. Runs itself under the tools' venv.
"""

import argparse
import copy
import glob
import os
import re
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (REPO, SERVICES, Failures, check_config, in_venv,  # noqa: E402
                    parse_binaries, tool_paths)

CHART = os.path.join(REPO, "deploy", "helm", "ingestwatch")
RULES = os.path.join(REPO, "prometheus", "rules")
DASHBOARDS = os.path.join(REPO, "grafana", "dashboards")
RELEASE, NAMESPACE = "ingestwatch", "ingestwatch"
CRD_KINDS = {("monitoring.coreos.com", "ServiceMonitor"),
             ("monitoring.coreos.com", "PrometheusRule")}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
COMPONENT_BY_BINARY = {binary: name for name, (binary, _) in SERVICES.items()}


def values_args(values):
    return ["-f", values] if values else []


def cmd_lint(fail, args, tools):
    proc = subprocess.run([tools["helm"], "lint", "--strict", CHART] + values_args(args.values),
                          capture_output=True, text=True)
    print(proc.stdout)
    fail.check(proc.returncode == 0, f"helm lint --strict {args.values or ''}: {proc.stderr}")


def kube_versions(kv):
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        import yaml
        constraint = yaml.safe_load(f)["kubeVersion"]
    oldest = re.search(r">=\s*(\d+\.\d+)", constraint).group(1)
    return [f"{oldest}.0", kv.latest_version()]


def crd_schemas(crds_dir):
    """(apiVersion, kind) -> strict openAPIV3Schema, for the CRD kinds the chart renders."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # PyYAML reads a bare `=` as YAML 1.1's "value" type, which it cannot build; it is text.
    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)
    schemas = {}
    for _, kind in sorted(CRD_KINDS):
        path = os.path.join(crds_dir, f"monitoring.coreos.com_{kind.lower()}s.yaml")
        with open(path) as f:
            crd = yaml.load(f, Loader=Loader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = strict(
                version["schema"]["openAPIV3Schema"])
    return schemas


def strict(schema):
    """The API server drops (and `kubectl --validate=strict` rejects) fields a structural
    schema does not declare: make that a validation error."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return schema


def render(tools, values):
    proc = subprocess.run([tools["helm"], "template", RELEASE, CHART, "--namespace", NAMESPACE]
                          + values_args(values), capture_output=True, text=True)
    return proc


def check_names(fail, doc):
    kind, meta = doc["kind"], doc["metadata"]
    name = meta["name"]
    if kind == "Service":
        fail.check(len(name) <= 63 and DNS1035_LABEL.match(name),
                   f"Service {name}: not a DNS-1035 label")
    else:
        fail.check(len(name) <= 253 and DNS1123_SUBDOMAIN.match(name),
                   f"{kind} {name}: not a DNS-1123 subdomain")
    if kind == "Deployment":
        # Pod names append 16 characters to the Deployment's name.
        fail.check(len(name) <= 47, f"Deployment {name}: longer than 47 characters")
    for where in (meta.get("labels") or {}, ((doc.get("spec") or {}).get("template") or {})
                  .get("metadata", {}).get("labels") or {}):
        for k, v in where.items():
            fail.check(isinstance(v, str) and len(v) <= 63 and LABEL_VALUE.match(v),
                       f"{kind} {name}: label {k}={v!r} is not a valid label value")


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def cmd_template(fail, args, tools):
    import jsonschema
    import kubernetes_validate as kv
    import yaml

    binaries = parse_binaries(args.binary)
    proc = render(tools, args.values)
    if not fail.check(proc.returncode == 0, f"helm template: {proc.stderr}"):
        return
    # Helm reports each link it follows; both must be there.
    for link, target in (("rules", RULES), ("dashboards", DASHBOARDS)):
        fail.check(f"{os.path.join(CHART, link)} resolves to {target}" in proc.stderr,
                   f"helm did not report following the chart's {link} link to {target}")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    fail.check(docs, "helm template rendered nothing")
    versions = kube_versions(kv)
    schemas = crd_schemas(tools["crds"])
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
        ident = f"{doc['kind']} {doc['metadata']['name']}"
        group = doc["apiVersion"].split("/")[0]
        check_names(fail, doc)
        if (group, doc["kind"]) in CRD_KINDS:
            schema = schemas.get((doc["apiVersion"], doc["kind"]))
            if fail.check(schema, f"{ident}: no CRD schema for {doc['apiVersion']}"):
                errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
                for e in errors:
                    fail(f"{ident}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
            continue
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                where = "/".join(map(str, e.absolute_path))
                fail(f"{ident} (Kubernetes {version}): {where}: {e.message}")
            except (kv.SchemaNotFoundError, kv.VersionNotSupportedError) as e:
                fail(f"{ident} (Kubernetes {version}): {e.message}")
    kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_kind.items()))
    print(f"{len(docs)} manifests: {kinds}; Kubernetes schemas {', '.join(versions)} "
          f"(kubernetes-validate {kv.__version__})")

    check_notes(fail, tools, args.values)
    merged = merged_values(args.values)
    check_rules(fail, by_kind, merged)
    check_dashboards(fail, by_kind, merged)
    check_workloads(fail, by_kind, merged, binaries)


def check_notes(fail, tools, values):
    """NOTES.txt renders (helm template leaves it out, and `helm install --dry-run` wants a
    cluster): rendered from a copy of the chart in which it is the data of a ConfigMap."""
    import shutil
    import yaml
    with tempfile.TemporaryDirectory() as tmp:
        chart = os.path.join(tmp, "ingestwatch")
        shutil.copytree(CHART, chart, symlinks=False)
        notes = os.path.join(chart, "templates", "NOTES.txt")
        with open(notes) as f:
            text = f.read()
        os.remove(notes)
        with open(os.path.join(chart, "templates", "_notes_check.tpl"), "w") as f:
            f.write('{{- define "ingestwatch.notesCheck" -}}\n' + text + "{{- end -}}\n")
        with open(os.path.join(chart, "templates", "notes-check.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes-check}\ndata:\n"
                    '  NOTES.txt: {{ include "ingestwatch.notesCheck" . | toJson }}\n')
        proc = subprocess.run([tools["helm"], "template", RELEASE, chart, "--namespace",
                               NAMESPACE, "--show-only", "templates/notes-check.yaml"]
                              + values_args(values), capture_output=True, text=True)
    if not fail.check(proc.returncode == 0, f"NOTES.txt does not render: {proc.stderr}"):
        return
    rendered = yaml.safe_load(proc.stdout)["data"]["NOTES.txt"]
    fail.check(f'installed as "{RELEASE}"' in rendered and "<no value>" not in rendered,
               f"NOTES.txt renders oddly:\n{rendered}")
    print(f"NOTES.txt: {len(rendered.splitlines())} lines")


def merged_values(values):
    """The values the chart rendered with: defaults, then the file."""
    import yaml
    with open(os.path.join(CHART, "values.yaml")) as f:
        merged = yaml.safe_load(f)
    if values:
        with open(values) as f:
            deep_merge(merged, yaml.safe_load(f) or {})
    return merged


def deep_merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v


def check_rules(fail, by_kind, values):
    import yaml
    rules = by_kind.get("PrometheusRule", [])
    files = sorted(glob.glob(os.path.join(RULES, "*.yml")))
    if not values["prometheusRule"]["enabled"]:
        fail.check(not rules, "PrometheusRules rendered while prometheusRule.enabled is false")
        return
    fail.check(files, f"no rules in {RULES}")
    seen = set()
    for rule in rules:
        source = rule["metadata"].get("annotations", {}).get("ingestwatch/source", "")
        path = os.path.join(REPO, source)
        if not fail.check(os.path.isfile(path), f"PrometheusRule {rule['metadata']['name']}: "
                                                f"source {source!r} is not a file"):
            continue
        seen.add(path)
        with open(path) as f:
            want = yaml.safe_load(f)["groups"]
        fail.check(rule["spec"]["groups"] == want,
                   f"PrometheusRule {rule['metadata']['name']}: its groups differ from {source}")
        for g_want, g_got in zip(want, rule["spec"]["groups"]):
            for r_want, r_got in zip(g_want["rules"], g_got["rules"]):
                fail.check(r_want["expr"] == r_got["expr"],
                           f"{source}: {r_want.get('alert')}: expression changed on the way")
    fail.check(seen == set(files), f"PrometheusRules for {sorted(seen)}, files {files}")
    names = ", ".join(os.path.relpath(f, REPO) for f in files)
    print(f"rules: {len(rules)} PrometheusRule(s) = {names}")


def check_dashboards(fail, by_kind, values):
    cms = [c for c in by_kind.get("ConfigMap", [])
           if values["dashboards"]["label"] in (c["metadata"].get("labels") or {})]
    files = sorted(glob.glob(os.path.join(DASHBOARDS, "*.json")))
    if not values["dashboards"]["enabled"]:
        fail.check(not cms, "dashboard ConfigMaps rendered while dashboards.enabled is false")
        return
    fail.check(files, f"no dashboards in {DASHBOARDS}")
    seen = set()
    for cm in cms:
        meta = cm["metadata"]
        dash = values["dashboards"]
        fail.check(meta["labels"][dash["label"]] == dash["labelValue"],
                   f"ConfigMap {meta['name']}: sidecar label value")
        fail.check(meta.get("annotations", {}).get(dash["folderAnnotation"]) == dash["folder"],
                   f"ConfigMap {meta['name']}: folder annotation")
        want_ns = dash["namespace"] or NAMESPACE
        fail.check(meta["namespace"] == want_ns,
                   f"ConfigMap {meta['name']}: namespace {meta['namespace']}")
        for key, data in cm["data"].items():
            path = os.path.join(DASHBOARDS, key)
            if not fail.check(os.path.isfile(path),
                              f"ConfigMap {meta['name']}: {key} is no dashboard file"):
                continue
            seen.add(path)
            with open(path, "rb") as f:
                fail.check(data.encode("utf-8") == f.read(),
                           f"ConfigMap {meta['name']}: {key} is not byte-identical to {path}")
            fail.check(len(data.encode()) < 262144,
                       f"{key}: {len(data)} bytes, over the 256 KiB a client-side kubectl "
                       "apply takes")
    fail.check(seen == set(files), f"dashboards rendered {sorted(seen)}, files {files}")
    print(f"dashboards: {len(cms)} ConfigMap(s), byte-identical to "
          f"{', '.join(os.path.relpath(f, REPO) for f in files)}")


def tracing_env_problems(env, tracing):
    """What is wrong with a container's tracing environment (a list of EnvVar) given the chart's
    `tracing` values (docs/TRACING.md)."""
    problems = []
    by_name = {e["name"]: e for e in env}
    otel = sorted(n for n in by_name if n.startswith(("OTEL_", "IW_OTLP_HEADER_")))
    if not (tracing.get("endpoint") or tracing.get("tracesEndpoint")):
        return [f"tracing off but {otel} set"] if otel else []
    want = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(tracing.get("samplingRatio"))}
    if tracing.get("endpoint"):
        want["OTEL_EXPORTER_OTLP_ENDPOINT"] = tracing["endpoint"]
    if tracing.get("tracesEndpoint"):
        want["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = tracing["tracesEndpoint"]
    keys = tracing.get("headersSecretKeys") or []
    if keys:
        want["OTEL_EXPORTER_OTLP_HEADERS"] = ",".join(
            f"{key}=$(IW_OTLP_HEADER_{i})" for i, key in enumerate(keys))
    for name, value in want.items():
        got = by_name.get(name, {}).get("value")
        if got != value:
            problems.append(f"{name} is {got!r}, expected {value!r}")
    names = [e["name"] for e in env]
    for i, key in enumerate(keys):
        name = f"IW_OTLP_HEADER_{i}"
        ref = by_name.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref != {"name": tracing.get("headersSecret"), "key": key}:
            problems.append(f"{name}: not key {key} of Secret "
                            f"{tracing.get('headersSecret')}: {ref}")
        elif "value" in by_name[name]:
            problems.append(f"{name}: a header value in clear")
        elif names.index(name) > names.index("OTEL_EXPORTER_OTLP_HEADERS"):
            problems.append(f"{name} comes after OTEL_EXPORTER_OTLP_HEADERS: $({name}) would not "
                            "be expanded")
    extra = set(otel) - set(want) - {f"IW_OTLP_HEADER_{i}" for i in range(len(keys))}
    if extra:
        problems.append(f"unexpected {sorted(extra)}")
    return problems


def expand(env):
    """Container environment as the kubelet gives it: values, $(VAR) of earlier variables
    expanded, stand-ins for values from Secrets."""
    out = {}
    for e in env:
        value = e.get("value", "stand-in")
        out[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                lambda m: out.get(m.group(1), m.group(0)), value)
    return out


def check_workloads(fail, by_kind, values, binaries):
    import yaml
    configmaps = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    services = by_kind.get("Service", [])
    monitors = by_kind.get("ServiceMonitor", [])
    pdbs = by_kind.get("PodDisruptionBudget", [])
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h
            for h in by_kind.get("HorizontalPodAutoscaler", [])}
    deployments = by_kind.get("Deployment", [])
    keys = {"producer": "producer", "enricher": "enricher", "alert-evaluator": "alertEvaluator",
            "loki-pusher": "lokiPusher"}
    enabled = {name for name, key in keys.items() if values[key]["enabled"]}
    rendered = set()
    for dep in deployments:
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]
        spec = pod["spec"]
        (container,) = spec["containers"]
        binary = container["args"][0]
        component = COMPONENT_BY_BINARY.get(binary)
        if not fail.check(component, f"Deployment {name}: runs {binary}, not a service"):
            continue
        rendered.add(component)
        ident = f"Deployment {name} ({binary})"
        # The image: its entrypoint (tini) runs the args.
        image = values["image"]
        want_image = (f"{image['repository']}@{image['digest']}" if image["digest"] else
                      f"{image['repository']}:{image['tag'] or chart_app_version()}")
        fail.check(container["image"] == want_image, f"{ident}: image {container['image']}")
        fail.check("command" not in container, f"{ident}: overrides the image's entrypoint")
        # Security.
        psc, csc = spec.get("securityContext", {}), container.get("securityContext", {})
        fail.check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
                   f"{ident}: pod not forced non-root")
        fail.check(csc.get("readOnlyRootFilesystem") is True, f"{ident}: root file system writable")
        fail.check(csc.get("allowPrivilegeEscalation") is False,
                   f"{ident}: privilege escalation allowed")
        fail.check("ALL" in csc.get("capabilities", {}).get("drop", []),
                   f"{ident}: capabilities kept")
        fail.check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
                   f"{ident}: no seccomp profile")
        fail.check(spec.get("automountServiceAccountToken") is False,
                   f"{ident}: mounts an API token")
        res = container.get("resources", {})
        fail.check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory")
                   and res.get("limits", {}).get("memory"), f"{ident}: resources incomplete: {res}")
        # The configuration, through the service itself.
        config_path = container["args"][container["args"].index("--config") + 1]
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        mount = mounts.get(config_path)
        if not fail.check(mount and "configMap" in volumes.get(mount["name"], {}),
                          f"{ident}: {config_path} is not mounted from a ConfigMap"):
            continue
        cm = configmaps.get(volumes[mount["name"]]["configMap"]["name"], {})
        text = cm.get("data", {}).get(mount.get("subPath", os.path.basename(config_path)))
        if not fail.check(text is not None, f"{ident}: ConfigMap or key missing for {config_path}"):
            continue
        files = {}
        for m in container.get("volumeMounts", []):
            secret = volumes.get(m["name"], {}).get("secret")
            if secret:
                for item in secret.get("items", []):
                    files[f"{m['mountPath']}/{item['path']}"] = "stand-in"
        # A stand-in CA must still be a CA bundle, should librdkafka read it.
        for path in files:
            if "kafka-ca" in path and os.path.isfile("/etc/ssl/certs/ca-certificates.crt"):
                with open("/etc/ssl/certs/ca-certificates.crt") as f:
                    files[path] = f.read()
        problems = tracing_env_problems(container.get("env", []), values["tracing"])
        fail.check(not problems, f"{ident}: tracing environment: {'; '.join(problems)}")
        env = expand(container.get("env", []))
        exe = binaries.get(component)
        if not fail.check(exe and os.access(exe, os.X_OK),
                          f"{ident}: no binary given for {component}"):
            continue
        code, out, err = check_config(exe, text, env, files)
        if not fail.check(code == 0, f"{ident}: {binary} --check-config on ConfigMap "
                                     f"{cm['metadata']['name']} exit {code}:\n{err}"):
            continue
        effective = yaml.safe_load(out)
        port = int(effective["http"]["listen"].rsplit(":", 1)[1])
        (cport,) = container["ports"]
        fail.check(cport["containerPort"] == port and cport["name"] == "http",
                   f"{ident}: container port {cport} but http.listen {effective['http']['listen']}")
        for probe, path in (("livenessProbe", "/healthz"), ("startupProbe", "/healthz"),
                            ("readinessProbe", "/readyz")):
            get = container.get(probe, {}).get("httpGet", {})
            fail.check(get.get("path") == path and get.get("port") in ("http", port),
                       f"{ident}: {probe} {get}, expected {path} on http")
        fail.check(effective["kafka"]["bootstrap_servers"] == values["kafka"]["bootstrapServers"],
                   f"{ident}: kafka.bootstrap_servers {effective['kafka']['bootstrap_servers']}")
        # Every file the configuration names is mounted.
        for path in files:
            fail.check(path.split("/")[-1] and any(path.startswith(mp) for mp in mounts),
                       f"{ident}: {path} not mounted")
        for ref in re.findall(r"(/etc/ingestwatch/secrets/[^\s\"']+)", text):
            fail.check(ref in files,
                       f"{ident}: the configuration reads {ref}, which no Secret provides")
        # Around it: Service, job label, ServiceMonitor, PDB, autoscaler.
        pod_labels = pod["metadata"]["labels"]
        fail.check(selects(dep["spec"]["selector"]["matchLabels"], pod_labels),
                   f"{ident}: its selector does not select its pods")
        svc = [s for s in services if selects(s["spec"]["selector"], pod_labels)]
        if fail.check(len(svc) == 1, f"{ident}: {len(svc)} Services select its pods"):
            (svc,) = svc
            fail.check(any(p["targetPort"] in ("http", port) and p["port"] == port
                           for p in svc["spec"]["ports"]),
                       f"{ident}: Service ports {svc['spec']['ports']}")
            svc_labels = svc["metadata"]["labels"]
            for mon in monitors:
                fail.check(selects(mon["spec"]["selector"]["matchLabels"], svc_labels),
                           f"{ident}: ServiceMonitor {mon['metadata']['name']} does not select "
                           "its Service")
                fail.check(svc_labels.get(mon["spec"]["jobLabel"]) == binary,
                           f"{ident}: Prometheus job would not be {binary} (prometheus/rules/ "
                           "expect it)")
            fail.check(svc["metadata"]["labels"].get("app.kubernetes.io/component") == component,
                       f"{ident}: the `service` label would not be {component}")
        key = keys[component]
        pdb = [p for p in pdbs if selects(p["spec"]["selector"]["matchLabels"], pod_labels)]
        fail.check(len(pdb) == (1 if values[key]["pdb"]["enabled"] else 0),
                   f"{ident}: {len(pdb)} PodDisruptionBudgets")
        auto = values[key].get("autoscaling", {}).get("enabled", False)
        fail.check((name in hpas) == auto,
                   f"{ident}: autoscaler rendered: {name in hpas}, wanted {auto}")
        fail.check(("replicas" in dep["spec"]) != auto,
                   f"{ident}: replicas set: {'replicas' in dep['spec']}, autoscaling: {auto}")
        if name in hpas:
            metric = hpas[name]["spec"]["metrics"][0]["external"]["metric"]
            fail.check(metric["name"] == "ingestwatch_consumer_lag_records"
                       and metric["selector"]["matchLabels"].get("job") == binary,
                       f"{ident}: autoscaler metric {metric}")
    fail.check(rendered == enabled,
               f"Deployments for {sorted(rendered)}, enabled {sorted(enabled)}")
    print(f"workloads: {len(deployments)} Deployment(s), each configuration accepted by its "
          "service")


def chart_app_version():
    import yaml
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        return str(yaml.safe_load(f)["appVersion"])


def cmd_package(fail, _args, tools):
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([tools["helm"], "package", CHART, "--destination", tmp],
                              capture_output=True, text=True)
        if not fail.check(proc.returncode == 0, f"helm package: {proc.stderr}"):
            return
        (archive,) = glob.glob(os.path.join(tmp, "*.tgz"))
        with tarfile.open(archive) as tar:
            members = {m.name: m for m in tar.getmembers()}
            for link, source, pattern in (("rules", RULES, "*.yml"),
                                          ("dashboards", DASHBOARDS, "*.json")):
                files = sorted(glob.glob(os.path.join(source, pattern)))
                fail.check(files, f"no files in {source}")
                for path in files:
                    name = f"ingestwatch/{link}/{os.path.basename(path)}"
                    m = members.get(name)
                    if not fail.check(m and m.isfile(), f"{name}: not a file in the package"):
                        continue
                    with open(path, "rb") as f:
                        fail.check(tar.extractfile(m).read() == f.read(),
                                   f"{name}: differs from {os.path.relpath(path, REPO)}")
            print(f"package: {os.path.basename(archive)}, {len(members)} entries")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("check", choices=["lint", "template", "package"])
    parser.add_argument("--values", help="a values file (default: the chart's values.yaml)")
    parser.add_argument("--binary", action="append", help="SERVICE=PATH of its binary")
    args = parser.parse_args()
    tools = tool_paths()
    in_venv(tools)
    fail = Failures()
    check = {"lint": cmd_lint, "template": cmd_template, "package": cmd_package}[args.check]
    check(fail, args, tools)
    values = f" {os.path.relpath(args.values, REPO)}" if args.values else ""
    fail.finish(f"helm {args.check}{values}")


if __name__ == "__main__":
    main()
