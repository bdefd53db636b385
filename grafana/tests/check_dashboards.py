#!/usr/bin/env python3
"""Checks every query of grafana/dashboards/*.json against the systems it reads.

    check_dashboards.py [--promtool BIN] [--scrape FILE]...
                        [--prometheus URL --prom-start T --prom-end T] DASHBOARD...

Always (no servers needed):
- every datasource reference (panel, target, variable, annotation) names a uid provisioned in
  grafana/provisioning/datasources/, with the same type; the Loki datasource has the derived
  field trace_id (matcherType label) to the provisioned Jaeger datasource;
- every PromQL expression parses with promtool (`promtool check rules` on a file with one
  recording rule per expression), and with the grammar of Grafana's Prometheus query editor
  (npm's @prometheus-io/lezer-promql, in parse_queries.mjs);
- every LogQL expression parses with the grammar of Grafana's Loki query editor (npm's
  @grafana/lezer-logql, in parse_queries.mjs), its stream selectors use only the labels
  ingest-loki-pusher sets (BRIEF §7: runs and alert events have their own sets), and without a
  parser stage it groups only by those labels.
The grammars are the npm packages pinned in package-lock.json, which npm-deps installs into
the cache on first use (node and npm are needed); Loki's own Go parser is AGPL-licensed and
not used. They check syntax only: promtool still checks PromQL's types, nothing LogQL's.
With --scrape (real /metrics expositions of the services, as scraped):
- every metric a PromQL selector names is exposed by a service, with every label it matches on
  (the target labels job, instance and service come from Prometheus; `up` is Prometheus's own).
With --prometheus (a running stack fed by the pipeline):
- every PromQL query returns data over [prom-start, prom-end] (wall time of the run).
LogQL queries are not run: the local log store is VictoriaLogs, which takes Loki's push
protocol but does not execute LogQL (it answers LogsQL), so there is no LogQL engine to ask.
Grafana's variables are replaced before parsing: $source, $objet and $service by `.*` (All),
$__range by the queried range, $__interval and $__rate_interval by a minute (Prometheus) or
the step (LogQL).
"""
import argparse
import json
import math
import pathlib
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATASOURCES = REPO / "grafana/provisioning/datasources/datasources.yml"
# What ingest-loki-pusher puts on its streams (BRIEF §7; libs/loki/src/entry.cc).
STREAM_LABELS = {
    "ingestion-logs": {"job", "source", "etat", "zone", "entreprise"},
    "ingestion-alerts": {"job", "alertname", "severity", "source", "status"},
}
TARGET_LABELS = {"job", "instance", "service"}
PROMETHEUS_OWN = {"up": {"job", "instance", "service"}}
GRAFANA_BUILTIN_UIDS = {"-- Grafana --", "grafana"}


class Query:
    def __init__(self, where, lang, expr):
        self.where, self.lang, self.expr = where, lang, expr

    def concrete(self, range_seconds: int, step_seconds: int) -> str:
        """The expression with Grafana's variables replaced as in the module docstring."""
        interval = f"{step_seconds}s" if self.lang == "logql" else "1m"
        expr = re.sub(r"\$__range\b", f"{range_seconds}s", self.expr)
        expr = re.sub(r"\$__rate_interval\b|\$__interval\b", interval, expr)
        return re.sub(r"\$\{?(source|objet|service)\}?", ".*", expr)


def provisioning_problems(datasources: list) -> list:
    """The provisioned datasources' links: Loki's derived field `trace_id` takes the entries'
    structured metadata of that name (matcherType label) to a provisioned Jaeger datasource, with
    the URL template escaped for provisioning ("$$": Grafana expands $VAR in these files)."""
    problems = []
    by_uid = {d.get("uid"): d for d in datasources}
    if by_uid.get("jaeger", {}).get("type") != "jaeger":
        problems.append("datasources: no jaeger datasource with uid 'jaeger'")
    loki = by_uid.get("loki", {})
    fields = {f.get("name"): f for f in loki.get("jsonData", {}).get("derivedFields", [])}
    trace = fields.get("trace_id")
    if trace is None:
        return problems + ["datasources: loki has no derived field 'trace_id'"]
    want = {"matcherType": "label", "matcherRegex": "trace_id", "datasourceUid": "jaeger",
            "url": "$${__value.raw}"}
    for key, value in want.items():
        if trace.get(key) != value:
            problems.append(f"datasources: loki derived field trace_id: {key} is "
                            f"{trace.get(key)!r}, expected {value!r}")
    return problems


def datasource_problems(dashboard: dict, provisioned: dict) -> list:
    problems = []

    def visit(node, where):
        if isinstance(node, dict):
            if "gridPos" in node:  # a panel
                where = f'{where} panel "{node.get("title")}"'
            ds = node.get("datasource")
            if isinstance(ds, dict):
                uid, kind = ds.get("uid"), ds.get("type")
                if uid in GRAFANA_BUILTIN_UIDS and kind in ("grafana", "datasource"):
                    pass
                elif uid not in provisioned:
                    problems.append(f"{where}: datasource uid {uid!r} is not provisioned")
                elif provisioned[uid] != kind:
                    problems.append(f"{where}: datasource {uid!r} is a {provisioned[uid]}, "
                                    f"not a {kind}")
            elif ds is not None:
                problems.append(f"{where}: datasource {ds!r} is not a {{type, uid}} reference")
            for value in node.values():
                visit(value, where)
        elif isinstance(node, list):
            for item in node:
                visit(item, where)

    visit(dashboard, dashboard.get("uid", "?"))
    return problems


def queries_of(dashboard: dict) -> list:
    out = []
    kinds = {"prometheus": "promql", "loki": "logql"}
    panels = [p for top in dashboard.get("panels", []) for p in [top, *top.get("panels", [])]]
    for panel in panels:
        for target in panel.get("targets", []):
            ds = target.get("datasource") or panel.get("datasource") or {}
            out.append(Query(f'panel "{panel["title"]}" {target["refId"]}', kinds[ds["type"]],
                             target["expr"]))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        text = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", text)
        if not match:
            raise SystemExit(f"variable {var['name']}: only label_values(SELECTOR, LABEL) is "
                             f"understood here, not {text!r}")
        out.append(Query(f"variable {var['name']}", "promql", match.group(1)))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        target = annotation.get("target", {})
        if "expr" in target:
            out.append(Query(f'annotation "{annotation["name"]}"',
                             kinds[annotation["datasource"]["type"]], target["expr"]))
    return out


def promtool_problems(promtool: str, queries: list) -> list:
    """promtool parses each expression as a recording rule; one file, so one promtool run."""
    exprs = [q for q in queries if q.lang == "promql"]
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query{i}", "expr": q.concrete(3600, 60)}
        for i, q in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump(rules, f, allow_unicode=True)
        f.flush()
        run = subprocess.run([promtool, "check", "rules", f.name], capture_output=True,
                             text=True)
    if run.returncode == 0:
        return []
    return [f"promtool rejects the PromQL: {run.stdout}{run.stderr}"]


def query_parser() -> list:
    """The command that runs parse_queries.mjs from npm-deps's folder, next to the packages."""
    deps = subprocess.run([str(HERE / "npm-deps")], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip()
    return ["node", str(pathlib.Path(deps) / "parse_queries.mjs")]


# Lezer parsers recover from syntax errors and still build a tree: were parse_queries.mjs ever
# to stop seeing the error nodes (a grammar upgrade, a renamed node type), every query would
# pass. These must fail, or the parse check proves nothing.
BROKEN = [("logql", 'sum(count_over_time({job="ingestion-logs"} [1m])'),
          ("promql", "sum(rate(up[1m])")]


def parse(parser: list, queries: list) -> list:
    lines = "".join(json.dumps({"lang": lang, "expr": expr}) + "\n"
                    for lang, expr in [*BROKEN, *((q.lang, q.concrete(3600, 60))
                                                  for q in queries)])
    run = subprocess.run(parser, input=lines, capture_output=True, text=True)
    results = [json.loads(line) for line in run.stdout.splitlines()]
    if run.returncode or len(results) != len(BROKEN) + len(queries):
        raise SystemExit(f"parse_queries.mjs (exit {run.returncode}) answered {len(results)} "
                         f"lines for {len(BROKEN) + len(queries)}: {run.stderr}")
    for (lang, expr), result in zip(BROKEN, results):
        if "error" not in result:
            raise SystemExit(f"parse_queries.mjs accepts broken {lang} {expr!r}: {result}")
    return results[len(BROKEN):]


def logql_problems(query: Query, result: dict) -> list:
    job = re.search(r'job\s*=\s*"([^"]+)"', query.expr)
    allowed = STREAM_LABELS.get(job.group(1)) if job else None
    if allowed is None:
        return [f"{query.where}: LogQL must select job=\"ingestion-logs\" or "
                f"job=\"ingestion-alerts\": {query.expr}"]
    problems = [f"{query.where}: stream label {name!r} is not one the pusher sets on "
                f"{job.group(1)} ({', '.join(sorted(allowed))})"
                for name in result.get("stream_labels", []) if name not in allowed]
    if not result.get("parsers"):
        problems += [f"{query.where}: groups by {name!r}, neither a stream label nor parsed"
                     for name in result.get("grouping", []) if name not in allowed]
    return problems


def parse_scrapes(files: list) -> dict:
    """Series name -> label names, over every exposition given."""
    series = {}
    line_re = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s")
    for file in files:
        for line in pathlib.Path(file).read_text().splitlines():
            match = line_re.match(line)
            if not match:
                continue
            names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(3) or ""))
            series.setdefault(match.group(1), set()).update(names)
    return series


def metric_problems(query: Query, result: dict, exposed: dict) -> list:
    problems = []
    known = {**exposed, **PROMETHEUS_OWN}
    for sel in result.get("selectors", []):
        if sel["name"] not in known:
            problems.append(f"{query.where}: no service exposes {sel['name']!r}")
            continue
        for label in sel.get("labels") or []:
            if label not in known[sel["name"]] | TARGET_LABELS:
                problems.append(f"{query.where}: {sel['name']} has no label {label!r}")
    selected = set(TARGET_LABELS) | {"le"}
    for sel in result.get("selectors", []):
        selected |= known.get(sel["name"], set())
    problems += [f"{query.where}: groups by {g!r}, which none of its metrics has"
                 for g in result.get("grouping", []) if g not in selected]
    return problems


def get_json(url: str, params: dict) -> dict:
    full = url + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(full, timeout=120) as answer:
        return json.load(answer)


def live_problems(queries: list, prometheus: str, prom_window) -> list:
    problems = []
    start, end = prom_window
    step = max(15, math.ceil((end - start) / 200))
    for q in queries:
        if q.lang != "promql":
            continue
        expr = q.concrete(max(60, int(end - start)), step)
        body = get_json(f"{prometheus}/api/v1/query_range",
                        {"query": expr, "start": start, "end": end, "step": step})
        if body.get("status") != "success":
            problems.append(f"{q.where}: {body}")
        elif not body["data"]["result"]:
            problems.append(f"{q.where}: no data for {expr}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dashboards", nargs="+")
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--scrape", action="append", default=[])
    ap.add_argument("--prometheus")
    ap.add_argument("--prom-start", type=float)
    ap.add_argument("--prom-end", type=float)
    args = ap.parse_args()
    if args.prometheus and (args.prom_start is None or args.prom_end is None):
        ap.error("--prometheus needs --prom-start and --prom-end")

    datasources = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    provisioned = {d["uid"]: d["type"] for d in datasources}
    problems, counts = provisioning_problems(datasources), {"promql": 0, "logql": 0}
    exposed = parse_scrapes(args.scrape) if args.scrape else None
    parser = query_parser()
    for path in args.dashboards:
        dashboard = json.loads(pathlib.Path(path).read_text())
        problems += datasource_problems(dashboard, provisioned)
        queries = queries_of(dashboard)
        problems += promtool_problems(args.promtool, queries)
        for q, result in zip(queries, parse(parser, queries)):
            counts[q.lang] += 1
            if "error" in result:
                problems.append(f"{path} {q.where}: does not parse: {result['error']}")
            elif q.lang == "logql":
                problems += [f"{path} {p}" for p in logql_problems(q, result)]
            elif exposed is not None:
                problems += [f"{path} {p}" for p in metric_problems(q, result, exposed)]
        if args.prometheus:
            problems += [f"{path} {p}" for p in live_problems(
                queries, args.prometheus, (args.prom_start, args.prom_end))]
    for p in problems:
        print(f"FAIL {p}")
    checks = ["datasource uids", "trace_id derived field", "promtool parse",
              "Grafana query-editor grammars parse",
              "LogQL labels"]
    if exposed is not None:
        checks.append(f"metric names and labels against {len(args.scrape)} scrapes")
    if args.prometheus:
        checks.append("every PromQL query returns data")
    print(f"{'FAIL' if problems else 'ok'}: {counts['promql']} PromQL and {counts['logql']} "
          f"LogQL queries in {len(args.dashboards)} dashboards ({', '.join(checks)})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
