#!/usr/bin/env python3
"""Writes grafana/dashboards/*.json, the two provisioned dashboards, from this file.

The dashboards are code so that their queries are reviewed like code and stay consistent (one
helper per kind of query), and JSON so that Grafana, the Helm chart and docker compose read
them as they are. `make test` checks that the committed JSON is what this script writes
(grafana.dashboards_generated), so edit here and run:

    python3 grafana/generate_dashboards.py

Datasources are referenced by the fixed uids of grafana/provisioning/datasources/: queries on
metrics go to Prometheus, queries on runs and alert events (event time, exact per run) to Loki.
The decisions behind each panel are in grafana/README.md.
"""
import json
import pathlib
import sys

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
DASHBOARDS = pathlib.Path(__file__).resolve().parent / "dashboards"
SCHEMA_VERSION = 41

# The ingestion dashboard's filters, as PromQL and LogQL matchers.
SOURCE = 'source=~"$source"'
SOURCE_OBJET = 'source=~"$source", objet=~"$objet"'
RUNS = '{job="ingestion-logs", source=~"$source"}'
# The line is the enriched JSON (BRIEF §3): `| json` makes objet.name the label objet_name.
RUNS_OF_OBJET = RUNS + ' | json | objet_name=~"$objet"'
FIRING_TRANSITIONS = 'ingestwatch_alert_transitions_total{to="firing"}'


def windowed(selector: str) -> str:
    """A counter's increase over the dashboard's range, exactly as the alert rules count.

    `x - x offset $__range` has no extrapolation; a series born inside the range (the enricher
    creates one at its first run) has no sample a range ago, so `or x` takes its whole value
    (prometheus/rules/ingestion-alerts.yml explains the same form)."""
    return f"(({selector} - {selector} offset $__range) >= 0 or {selector})"


def quantile_of(q: float, histogram: str, matchers: str, by: str = "", window: str = "") -> str:
    """histogram_quantile over the buckets' increase in the range (or a rate window)."""
    bucket = f"{histogram}_bucket{{{matchers}}}"
    counts = f"rate({bucket}[{window}])" if window else windowed(bucket)
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) ({counts}))"


class Board:
    """Lays panels out on Grafana's 24-column grid, row by row."""

    def __init__(self) -> None:
        self.panels: list[dict] = []
        self.y = 0
        self.x = 0
        self.row_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                            "id": len(self.panels) + 1,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}})
        self.y += 1

    def add(self, panel: dict, w: int, h: int) -> None:
        if self.x + w > 24:
            self._newline()
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def _newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0


def target(datasource: dict, expr: str, ref: str, legend: str = "", instant: bool = False,
           table: bool = False) -> dict:
    t = {"datasource": datasource, "refId": ref, "expr": expr}
    if legend:
        t["legendFormat"] = legend
    if datasource is PROMETHEUS:
        t["instant"] = instant
        t["range"] = not instant
        if table:
            t["format"] = "table"
    else:
        t["queryType"] = "instant" if instant else "range"
    return t


def targets(datasource: dict, queries: list, instant: bool = False, table: bool = False) -> list:
    """queries: [(expr, legend)], given refIds A, B, C, ..."""
    return [target(datasource, expr, chr(ord("A") + i), legend, instant, table)
            for i, (expr, legend) in enumerate(queries)]


def thresholds(*steps) -> dict:
    """steps: (color, value) pairs, the first value None (the base)."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def stat(title: str, description: str, datasource: dict, expr: str, unit: str,
         steps: tuple = (("green", None),)) -> dict:
    return {
        "type": "stat", "title": title, "description": description, "datasource": datasource,
        "targets": targets(datasource, [(expr, "")], instant=True),
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds(*steps),
                                     "color": {"mode": "thresholds"}}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "none", "justifyMode": "auto",
                    "textMode": "auto", "orientation": "auto", "wideLayout": True,
                    "showPercentChange": False, "percentChangeColorMode": "standard"},
    }


def timeseries(title: str, description: str, datasource: dict, queries: list, unit: str,
               stacked: bool = False, bars: bool = False) -> dict:
    custom = {"drawStyle": "bars" if bars else "line", "fillOpacity": 60 if bars else 10,
              "lineWidth": 1, "showPoints": "never", "spanNulls": False,
              "stacking": {"mode": "normal" if stacked else "none", "group": "A"}}
    return {
        "type": "timeseries", "title": title, "description": description,
        "datasource": datasource, "targets": targets(datasource, queries),
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom,
                                     "color": {"mode": "palette-classic"}}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True,
                               "calcs": []},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def bargauge(title: str, description: str, datasource: dict, expr: str, legend: str, unit: str,
             steps: tuple) -> dict:
    return {
        "type": "bargauge", "title": title, "description": description,
        "datasource": datasource,
        "targets": targets(datasource, [(expr, legend)], instant=True),
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds(*steps),
                                     "color": {"mode": "thresholds"}}, "overrides": []},
        "options": {"orientation": "horizontal", "displayMode": "gradient",
                    "showUnfilled": True, "valueMode": "color", "namePlacement": "auto",
                    "sizing": "auto", "minVizHeight": 16, "minVizWidth": 8,
                    "maxVizHeight": 300,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "legend": {"displayMode": "list", "placement": "bottom",
                               "showLegend": False, "calcs": []}},
    }


def variable(name: str, label: str, metric: str) -> dict:
    query = f"label_values({metric}, {name})"
    return {"name": name, "label": label, "type": "query", "datasource": PROMETHEUS,
            "query": {"query": query, "refId": f"{name}-values", "qryType": 1},
            "refresh": 2, "sort": 1, "multi": True, "includeAll": True,
            "allValue": ".*", "current": {"text": ["All"], "value": ["$__all"]},
            "options": [], "hide": 0, "regex": ""}


def dashboard(uid: str, title: str, description: str, tags: list, board: Board,
              variables: list, annotations: list, time_from: str) -> dict:
    builtin = {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
               "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
               "name": "Annotations & Alerts", "type": "dashboard",
               "target": {"limit": 100, "matchAny": False, "tags": [], "type": "dashboard"}}
    return {
        "uid": uid, "title": title, "description": description, "tags": tags,
        "editable": True, "graphTooltip": 1, "schemaVersion": SCHEMA_VERSION, "version": 1,
        "refresh": "30s", "time": {"from": time_from, "to": "now"}, "timezone": "browser",
        "fiscalYearStartMonth": 0, "liveNow": False, "links": [],
        "annotations": {"list": [builtin, *annotations]},
        "templating": {"list": variables},
        "panels": board.panels,
    }


# --- ingestion-health.json: the data team's dashboard (BRIEF §8), in French -----------------


def ingestion_health() -> dict:
    runs = f"ingestion_runs_total{{{SOURCE_OBJET}}}"
    failed = f'ingestion_runs_total{{{SOURCE_OBJET}, etat="FAILED"}}'
    success = f'ingestion_runs_total{{{SOURCE_OBJET}, etat="SUCCESS"}}'
    b = Board()

    b.row("Vue d'ensemble")
    b.add(stat("Exécutions réussies", "Exécutions SUCCESS sur la période (métriques de "
               "l'enricher, comptées comme les règles d'alerte).", PROMETHEUS,
               f"sum({windowed(success)})", "short"), 4, 4)
    b.add(stat("Échecs", "Exécutions FAILED sur la période.", PROMETHEUS,
               f"sum({windowed(failed)})", "short", (("green", None), ("red", 1))), 4, 4)
    b.add(stat("Taux d'échec", "FAILED / toutes les exécutions sur la période (la règle 2 "
               "alerte au-dessus de 2 % sur 15 min).", PROMETHEUS,
               f"sum({windowed(failed)}) / sum({windowed(runs)})", "percentunit",
               (("green", None), ("orange", 0.02), ("red", 0.1))), 4, 4)
    b.add(stat("Durée p95", "95e centile de la durée des exécutions sur la période (la règle 4 "
               "alerte au-dessus de 60 s).", PROMETHEUS,
               quantile_of(0.95, "ingestion_run_duration_seconds", SOURCE), "s",
               (("green", None), ("orange", 30), ("red", 60))), 4, 4)
    b.add(stat("Mémoire max", "Plus forte mémoire utilisée par une exécution sur la période "
               "(valeur exacte, lue dans les exécutions stockées dans Loki).", LOKI,
               f"max(max_over_time({RUNS_OF_OBJET} | unwrap performance_memory_used_bytes "
               "[$__range]))", "bytes",
               (("green", None), ("orange", 104857600), ("red", 157286400))), 4, 4)
    b.add(stat("Alertes actives", "Alertes en cours selon l'évaluateur (les six règles, en "
               "temps des événements).", PROMETHEUS,
               f'count(ingestwatch_alerts{{{SOURCE}, alertstate="firing"}}) or vector(0)',
               "short", (("green", None), ("orange", 1))), 4, 4)
    b.add(timeseries("Exécutions dans le temps", "Exécutions par état, à l'heure où elles se "
                     "sont terminées (Loki, temps des événements : fonctionne aussi sur un "
                     "historique rejoué).", LOKI,
                     [(f"sum by (etat) (count_over_time({RUNS_OF_OBJET} [$__interval]))",
                       "{{etat}}")], "short", stacked=True, bars=True), 16, 8)
    b.add(bargauge("Sources les plus lentes (p95)", "Les 10 sources dont la durée p95 est la "
                   "plus haute sur la période.", PROMETHEUS,
                   f"topk(10, {quantile_of(0.95, 'ingestion_run_duration_seconds', SOURCE, 'source')})",
                   "{{source}}", "s", (("green", None), ("orange", 30), ("red", 60))), 8, 8)

    b.row("Fiabilité")
    b.add(timeseries("Taux d'échec par source", "FAILED / toutes les exécutions, par source et "
                     "par intervalle (Loki, temps des événements).", LOKI,
                     [(f'sum by (source) (count_over_time({{job="ingestion-logs", {SOURCE}, '
                       f'etat="FAILED"}} [$__interval])) / sum by (source) (count_over_time('
                       f"{RUNS} [$__interval]))", "{{source}}")], "percentunit"), 12, 8)
    b.add(stat("MTTR (échecs)", "Temps moyen entre le début d'une alerte "
               "IngestionFailureDetected et sa résolution (temps des événements), sur les "
               "alertes résolues depuis le démarrage de l'évaluateur.", PROMETHEUS,
               'sum(ingestwatch_alert_firing_duration_seconds_sum{alertname='
               f'"IngestionFailureDetected", {SOURCE}}}) / sum(ingestwatch_alert_firing_'
               f'duration_seconds_count{{alertname="IngestionFailureDetected", {SOURCE}}})',
               "s", (("green", None), ("orange", 1800), ("red", 3600))), 4, 4)
    b.add(stat("SLO fraîcheur", "Part des sources dont la dernière exécution date de moins de "
               "75 min (au-delà, la règle 3 les déclare silencieuses).", PROMETHEUS,
               f"(count((time() - max by (source) (ingestion_last_run_timestamp_seconds{{"
               f"{SOURCE}}})) < 4500) or vector(0)) / count(max by (source) ("
               f"ingestion_last_run_timestamp_seconds{{{SOURCE}}}))", "percentunit",
               (("red", None), ("orange", 0.9), ("green", 0.99))), 4, 4)
    b.add(stat("Alertes déclenchées", "Passages à l'état firing sur la période, toutes règles.",
               PROMETHEUS,
               f"sum({windowed(FIRING_TRANSITIONS)})",
               "short", (("green", None), ("orange", 1))), 4, 4)
    b.add(bargauge("Fraîcheur par source", "Temps depuis la dernière exécution de chaque "
                   "source ; rouge au-delà de 75 min.", PROMETHEUS,
                   f"time() - max by (source) (ingestion_last_run_timestamp_seconds{{{SOURCE}}})",
                   "{{source}}", "s", (("green", None), ("orange", 3600), ("red", 4500))),
          12, 4)

    b.row("Performance")
    b.add(timeseries("Durée des exécutions (p50, p95, p99)", "Centiles de durée sur les "
                     "exécutions vues par intervalle.", PROMETHEUS,
                     [(quantile_of(q, "ingestion_run_duration_seconds", SOURCE,
                                   window="$__rate_interval"), f"p{int(q * 100)}")
                      for q in (0.5, 0.95, 0.99)], "s"), 12, 8)
    b.add(timeseries("Débit", "Exécutions par minute, par source (au rythme où l'enricher "
                     "les traite).", PROMETHEUS,
                     [(f"sum by (source) (rate({runs}[$__rate_interval])) * 60", "{{source}}")],
                     "short"), 12, 8)
    b.add(timeseries("CPU p95 par source", "95e centile du temps CPU des exécutions (la règle "
                     "5 alerte au-dessus de 60 s).", PROMETHEUS,
                     [(quantile_of(0.95, "ingestion_run_cpu_seconds", SOURCE, "source",
                                   "$__rate_interval"), "{{source}}")], "s"), 12, 8)
    b.add(timeseries("Mémoire p95 par source", "95e centile de la mémoire des exécutions (la "
                     "règle 5 alerte au-dessus de 150 Mo).", PROMETHEUS,
                     [(quantile_of(0.95, "ingestion_run_memory_bytes", SOURCE, "source",
                                   "$__rate_interval"), "{{source}}")], "bytes"), 12, 8)

    b.row("Détails par connecteur")
    table_queries = [
        (f"sum by (source, objet) ({windowed(runs)})", ""),
        (f"sum by (source, objet) ({windowed(failed)})", ""),
        (f"max by (source) (ingestion_last_run_timestamp_seconds{{{SOURCE}}}) * 1000", ""),
        (quantile_of(0.95, "ingestion_run_duration_seconds", SOURCE, "source"), ""),
    ]
    renames = {"Value #A": "Exécutions", "Value #B": "Échecs", "Value #C": "Dernière exécution",
               "Value #D": "Durée p95 (source)", "source": "Source", "objet": "Objet"}
    b.add({
        "type": "table", "title": "Connecteurs", "description": "Une ligne par source et objet "
        "sur la période ; filtrable par colonne. La durée p95 et la dernière exécution sont "
        "celles de la source.", "datasource": PROMETHEUS,
        "targets": targets(PROMETHEUS, table_queries, instant=True, table=True),
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True},
                                           "renameByName": renames}},
        ],
        "fieldConfig": {
            "defaults": {"custom": {"filterable": True, "align": "auto", "inspect": False,
                                    "cellOptions": {"type": "auto"}}},
            "overrides": [
                {"matcher": {"id": "byName", "options": "Dernière exécution"},
                 "properties": [{"id": "unit", "value": "dateTimeAsIso"}]},
                {"matcher": {"id": "byName", "options": "Durée p95 (source)"},
                 "properties": [{"id": "unit", "value": "s"}]},
                {"matcher": {"id": "byName", "options": "Échecs"},
                 "properties": [{"id": "custom.cellOptions",
                                 "value": {"type": "color-background", "mode": "basic"}},
                                {"id": "thresholds", "value": thresholds(("transparent", None),
                                                                         ("red", 1))}]},
            ]},
        "options": {"showHeader": True, "cellHeight": "sm", "frameIndex": 0,
                    "sortBy": [{"displayName": "Échecs", "desc": True}]},
    }, 24, 10)

    b.row("Derniers messages d'erreur")
    b.add({
        "type": "logs", "title": "Dernières exécutions en échec", "description": "Les "
        "exécutions FAILED les plus récentes avec leur description (Loki).", "datasource": LOKI,
        "targets": [target(LOKI, f'{{job="ingestion-logs", {SOURCE}, etat="FAILED"}} | json | '
                           'objet_name=~"$objet" | line_format "{{.source_name}} / '
                           '{{.objet_name}} : {{.description}}"', "A")],
        "options": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                    "enableLogDetails": True, "dedupStrategy": "none", "showLabels": False,
                    "showCommonLabels": False, "prettifyLogMessage": False,
                    "showLogContextToggle": False},
    }, 24, 10)

    alerts = {
        "name": "Alertes", "enable": True, "iconColor": "red", "datasource": LOKI,
        "target": {"refId": "Alertes", "expr": f'{{job="ingestion-alerts", {SOURCE}}} | json',
                   "limit": 100, "matchAny": False, "tags": [], "type": "tags"},
        "tagKeys": "alertname,severity,status,source",
        "titleFormat": "{{alertname}} ({{status}})",
        "textFormat": "{{annotations_summary}}",
    }
    return dashboard(
        "ingestion-health", "Santé des ingestions",
        "Exécutions des connecteurs : réussites, échecs, fiabilité, performance, détails par "
        "connecteur et derniers messages d'erreur.", ["ingestwatch", "ingestion"], b,
        [variable("source", "Source", "ingestion_runs_total"),
         variable("objet", "Objet", 'ingestion_runs_total{source=~"$source"}')],
        [alerts], "now-24h")


# --- pipeline.json: the services themselves, for whoever runs them ----------------------------


def pipeline() -> dict:
    svc = 'service=~"$service"'
    b = Board()
    b.row("Throughput")
    b.add(timeseries("Records in", "Records each service takes from its input, per second.",
                     PROMETHEUS, [(f"sum by (service) (rate(ingestwatch_records_in_total{{{svc}}}"
                                   "[$__rate_interval]))", "{{service}}")], "rps"), 8, 8)
    b.add(timeseries("Records out", "Records acknowledged downstream, per second, by service "
                     "and destination (a topic, or loki).", PROMETHEUS,
                     [(f"sum by (service, topic) (rate(ingestwatch_records_out_total{{{svc}}}"
                       "[$__rate_interval]))", "{{service}} → {{topic}}")], "rps"), 8, 8)
    b.add(timeseries("Services up", "1 while Prometheus scrapes the service.", PROMETHEUS,
                     [(f'up{{job=~"ingest-.*", {svc}}}', "{{service}} {{instance}}")],
                     "short"), 8, 8)

    b.row("Lag")
    b.add(timeseries("Consumer lag (records)", "Records behind, by service and topic.",
                     PROMETHEUS,
                     [(f"sum by (service, topic) (ingestwatch_consumer_lag_records{{{svc}}})",
                       "{{service}} {{topic}}")], "short"), 12, 8)
    b.add(timeseries("Consumer lag (seconds)", "Age of the oldest record not yet processed; "
                     "0 when caught up.", PROMETHEUS,
                     [(f"max by (service, topic) (ingestwatch_consumer_lag_seconds{{{svc}}})",
                       "{{service}} {{topic}}")], "s"), 12, 8)

    b.row("Dead letters and latency")
    b.add(timeseries("Dead letters by reason", "Records sent to ingestion-logs-dlq, per "
                     "second, by service and reason.", PROMETHEUS,
                     [(f"sum by (service, reason) (rate(ingestwatch_records_dead_lettered_total"
                       f"{{{svc}}}[$__rate_interval]))", "{{service}} {{reason}}")], "rps",
                     stacked=True), 12, 8)
    b.add(timeseries("Processing latency", "A record's arrival in the input topic to its outcome "
                     "committed (p50, p99), and the producer's produce-to-acknowledgement p99.",
                     PROMETHEUS,
                     [(quantile_of(0.5, "ingestwatch_record_latency_seconds", svc, "service",
                                   "$__rate_interval"), "{{service}} p50"),
                      (quantile_of(0.99, "ingestwatch_record_latency_seconds", svc, "service",
                                   "$__rate_interval"), "{{service}} p99"),
                      (quantile_of(0.99, "ingestwatch_delivery_latency_seconds", svc, "service",
                                   "$__rate_interval"), "{{service}} delivery p99")], "s"),
          12, 8)

    b.row("Loki")
    b.add(timeseries("Loki pushes by outcome", "Push requests per second by outcome and HTTP "
                     "status.", PROMETHEUS,
                     [(f"sum by (outcome, status) (rate(ingestwatch_loki_pushes_total{{{svc}}}"
                       "[$__rate_interval]))", "{{outcome}} {{status}}")], "reqps",
                     stacked=True), 8, 8)
    b.add(timeseries("Loki entries stored", "Entries Loki accepted per second, and entries "
                     "refused (dead-lettered) by reason.", PROMETHEUS,
                     [(f"sum(rate(ingestwatch_loki_entries_pushed_total{{{svc}}}"
                       "[$__rate_interval]))", "stored"),
                      (f"sum by (reason, by) (rate(ingestwatch_loki_rejected_entries_total"
                       f"{{{svc}}}[$__rate_interval]))", "refused {{reason}} ({{by}})")],
                     "rps"), 8, 8)
    b.add(timeseries("Loki backoff and pending bytes", "The current wait before a retry, and "
                     "what is held for Loki.", PROMETHEUS,
                     [(f"max(ingestwatch_loki_backoff_seconds{{{svc}}})", "backoff (s)"),
                      (f"sum(ingestwatch_loki_pending_bytes{{{svc}}}) / 1048576",
                       "pending (MiB)")], "short"), 8, 8)

    b.row("Alerts")
    b.add(timeseries("Alert transitions", "State changes per alert rule and state entered.",
                     PROMETHEUS,
                     [(f"sum by (alertname, to) (increase(ingestwatch_alert_transitions_total"
                       f"{{{svc}}}[$__rate_interval]))", "{{alertname}} → {{to}}")], "short",
                     bars=True), 12, 8)
    b.add(timeseries("Evaluation clock behind now", "How far the evaluator's event-time clock "
                     "is behind the wall clock (large on a replay of old logs).", PROMETHEUS,
                     [(f"time() - max(ingestwatch_alert_clock_timestamp_seconds{{{svc}}})",
                       "behind")], "s"), 12, 8)

    b.row("Process")
    b.add(timeseries("CPU", "CPU seconds per second, by service.", PROMETHEUS,
                     [(f'sum by (service) (rate(process_cpu_seconds_total{{job=~"ingest-.*", '
                       f"{svc}}}[$__rate_interval]))", "{{service}}")], "percentunit"), 12, 8)
    b.add(timeseries("Memory", "Resident memory, by service.", PROMETHEUS,
                     [(f'sum by (service) (process_resident_memory_bytes{{job=~"ingest-.*", '
                       f"{svc}}})", "{{service}}")], "bytes"), 12, 8)

    return dashboard(
        "ingestion-pipeline", "ingestwatch pipeline",
        "The four services: throughput, lag, dead letters, latency, Loki pushes, alert "
        "transitions, CPU and memory.", ["ingestwatch", "pipeline"], b,
        [variable("service", "Service", "ingestwatch_build_info")], [], "now-1h")


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in (("ingestion-health.json", ingestion_health()),
                        ("pipeline.json", pipeline())):
        text = json.dumps(board, indent=2, ensure_ascii=False) + "\n"
        path = DASHBOARDS / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("not what grafana/generate_dashboards.py writes (run it and commit): "
              + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
