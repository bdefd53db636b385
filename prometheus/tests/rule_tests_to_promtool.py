#!/usr/bin/env python3
"""Turns the rule test files of rules/tests/ into `promtool test rules` files.

A rule test file (docs/ALERTING.md, "Rule test files") is a timeline of runs with checks at
event-time instants, written for the in-stream evaluator. This script replays the same runs as
the enricher's metrics (services/enricher/src/business_metrics.cc) scraped at a fixed interval,
and writes a promtool test of prometheus/rules/ingestion-alerts.yml with the same checks:

- Every scrape sample at instant s reflects the runs whose end τ is ≤ s, as an enricher that
  counts each run at its end would expose them: ingestion_runs_total{source,objet,etat}
  counters, the duration / cpu / memory histograms with the enricher's own buckets (read from
  business_metrics.cc), and ingestion_last_run_timestamp_seconds{source} = the latest τ. A
  series appears at the first sample after its first run (the enricher creates children
  lazily) and is '_' (missing) before. Out-of-order arrival therefore changes nothing, and a run
  the in-stream evaluator drops as late is counted here, as the enricher counts it.
- promtool's time 0 is mapped to T0, a whole hour at least an hour before the first run or
  check; every instant, and the gauge's value (time() is seconds since 0), is shifted by T0.
- evaluation_interval = the scrape interval (default 15s), so every check on the grid sees
  exactly the samples an aligned Prometheus would. promtool compares a check at eval_time with
  the evaluation at the grid instant at or before it.
- Each check becomes an alert_rule_test at the same instant with the same exp_alerts, except
  the checks marked `prometheus_skip: "<reason>"`. exp_starts_at and exp_late_runs have no
  promtool equivalent and are dropped.
- Annotations: promtool compares all of an alert's annotations. The rules are tested through a
  copy that keeps only the annotations whose templates use nothing but {{ $labels.<name> }}
  (the summaries); the converter renders those from the expected labels, or takes the test's
  own exp_annotations value for them. Annotations that print {{ $value }} are dropped from the
  copy: their number formatting is Prometheus's own, checked by `promtool check rules`.

Usage:
  rule_tests_to_promtool.py [--rules FILE] [--out-dir DIR] [--interval 15s] [--run] TEST.yml...
  rule_tests_to_promtool.py --check-rules RULES.yml...

--run runs `promtool test rules` on what it wrote; --check-rules runs `promtool check rules`.
Exit status 77 (CTest's SKIP_RETURN_CODE) when promtool or PyYAML is missing.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import math
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import yaml
except ImportError:  # pragma: no cover - reported as a skip
    yaml = None

SKIP = 77
REPO = Path(__file__).resolve().parents[2]
DEFAULT_RULES = REPO / "prometheus" / "rules" / "ingestion-alerts.yml"
BUSINESS_METRICS = REPO / "services" / "enricher" / "src" / "business_metrics.cc"
# Labels the scrape adds to every series; the rules must aggregate them away.
TARGET_LABELS = (("job", "ingest-enricher"), ("instance", "ingest-enricher:9464"))
HOUR_MS = 3_600_000


class ConversionError(Exception):
    pass


# --- runs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    source: str
    objet: str
    etat: str  # SUCCESS, FAILED or RUNNING
    tau_ms: int  # end, milliseconds since the epoch
    duration: float
    cpu: float | None
    memory: float | None


# docs/ENRICHED_RECORD.md, "Etat mapping".
ETATS = {
    **dict.fromkeys(("success", "succeeded", "ok", "done", "warning"), "SUCCESS"),
    **dict.fromkeys(("failed", "failure", "error", "ko", "echec", "\u00e9chec"), "FAILED"),
    **dict.fromkeys(("running", "started", "pending"), "RUNNING"),
}


def canonical_etat(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    return ETATS.get(text.strip().replace("\u00c9", "\u00e9").lower())


def parse_instant_ns(text: Any, what: str) -> int:
    """RFC 3339 / ISO 8601 (with or without T, fraction, offset) to ns; naive is UTC."""
    if not isinstance(text, str):
        raise ConversionError(f"{what}: expected a timestamp string, got {text!r}")
    m = re.fullmatch(
        r"\s*(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))?"
        r"\s*(Z|z|[+-]\d{2}:?\d{2})?\s*",
        text,
    )
    if not m:
        raise ConversionError(f"{what}: not a timestamp: {text!r}")
    date, clock, fraction, offset = m.groups()
    try:
        base = dt.datetime.fromisoformat(f"{date}T{clock}").replace(tzinfo=dt.timezone.utc)
    except ValueError as e:
        raise ConversionError(f"{what}: not a timestamp ({e}): {text!r}") from None
    seconds = (base - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(seconds=1)
    nanos = int((fraction or "0")[:9].ljust(9, "0"))
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds * 1_000_000_000 + nanos


def parse_instant_ms(text: Any, what: str) -> int:
    return parse_instant_ns(text, what) // 1_000_000  # written to the millisecond


def parse_number(value: Any, what: str) -> float | None:
    """A JSON number or a numeric string (decimal comma allowed); None when null/absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConversionError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?(\d+[.,]?\d*|[.,]\d+)([eE][+-]?\d+)?\s*",
                                               value):
        return float(value.strip().replace(",", "."))
    raise ConversionError(f"{what}: not a number: {value!r}")


def run_from_inline(item: Any, where: str) -> Run:
    if not isinstance(item, dict):
        raise ConversionError(f"{where}: a run is a map")
    for key in ("source", "objet", "etat", "end"):
        if key not in item:
            raise ConversionError(f"{where}: missing '{key}'")
    etat = canonical_etat(item["etat"])
    if etat is None:
        raise ConversionError(f"{where}: unknown etat {item['etat']!r}")
    duration = parse_number(item.get("duration", 1), f"{where}.duration")
    return Run(
        source=str(item["source"]),
        objet=str(item["objet"]),
        etat=etat,
        tau_ms=parse_instant_ms(item["end"], f"{where}.end"),
        duration=1.0 if duration is None else duration,
        cpu=parse_number(item.get("cpu"), f"{where}.cpu"),
        memory=parse_number(item.get("memory"), f"{where}.memory"),
    )


def run_from_raw(record: Any, where: str) -> Run | None:
    """A connector record (BRIEF §2) as the enricher reads it; None when it would be
    dead-lettered (neither the metrics nor the evaluator see it)."""
    try:
        if not isinstance(record, dict):
            return None
        source, objet = record.get("Source"), record.get("Objet")
        etat = canonical_etat(record.get("Etat"))
        if not isinstance(source, str) or not source or not isinstance(objet, str) or not etat:
            return None
        start_ns = parse_instant_ns(record.get("Debut"), f"{where}.Debut")
        duree = parse_number(record.get("Duree secondes"), f"{where}.Duree secondes")
        if record.get("Fin") is not None:
            end_ns = parse_instant_ns(record["Fin"], f"{where}.Fin")
            if end_ns < start_ns:
                return None
            if duree is None:
                duree = (end_ns - start_ns) / 1e9
        elif duree is not None:
            end_ns = start_ns + math.floor(duree * 1e9 + 0.5)  # llround, as the enricher
        else:
            return None
        if duree < 0:
            return None
        memory = parse_number(record.get("memory_used"), f"{where}.memory_used")
        return Run(source, objet, etat, end_ns // 1_000_000, duree,
                   parse_number(record.get("cpu_time"), f"{where}.cpu_time"), memory)
    except ConversionError:
        return None


def read_runs_file(path: Path) -> list[Run]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        records = json.loads(text)
    else:
        records = []
        for line in text.splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    records.append(None)  # dead-lettered
    runs = []
    for i, record in enumerate(records):
        run = run_from_raw(record, f"{path.name}:{i + 1}")
        if run is not None:
            runs.append(run)
    return runs


# --- the enricher's metrics ----------------------------------------------------------------


def read_buckets(source: Path) -> dict[str, list[float]]:
    """The histogram bucket boundaries, read from business_metrics.cc itself."""
    text = source.read_text(encoding="utf-8")
    mib = 1024.0 * 1024.0
    out = {}
    for field, name in (("duration", "kDurationBuckets"), ("cpu", "kCpuBuckets"),
                        ("memory", "kMemoryBuckets")):
        m = re.search(name + r"\s*=\s*\{([^}]*)\}", text)
        if not m:
            raise ConversionError(f"{source}: no {name}")
        bounds = []
        for item in m.group(1).split(","):
            item = item.strip()
            if not item:
                continue
            factor = re.fullmatch(r"([0-9.]+)\s*\*\s*kMiB", item)
            bounds.append(float(factor.group(1)) * mib if factor else float(item))
        out[field] = bounds
    return out


HISTOGRAMS = (
    ("duration", "ingestion_run_duration_seconds"),
    ("cpu", "ingestion_run_cpu_seconds"),
    ("memory", "ingestion_run_memory_bytes"),
)


def number(value: float) -> str:
    """A sample value or a bound as prometheus-cpp would print it (%.16g-like)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_name(metric: str, labels: list[tuple[str, str]]) -> str:
    body = ",".join(f'{k}="{escape(v)}"' for k, v in [*labels, *TARGET_LABELS])
    return f"{metric}{{{body}}}"


def encode(values: list[str | None]) -> str:
    """promtool's expanding notation: '_xN' for N missing samples, 'v+0xN' for N+1 equal ones."""
    tokens = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        count = j - i + 1
        if values[i] is None:
            tokens.append("_" if count == 1 else f"_x{count}")
        else:
            tokens.append(values[i] if count == 1 else f"{values[i]}+0x{count - 1}")
        i = j + 1
    return " ".join(tokens)


def input_series(runs: list[Run], t0_ms: int, interval_ms: int, samples: int,
                 buckets: dict[str, list[float]]) -> list[dict[str, str]]:
    grid = [t0_ms + k * interval_ms for k in range(samples)]

    def first_sample(tau_ms: int) -> int:
        return max(0, -(-(tau_ms - t0_ms) // interval_ms))  # first k with grid[k] >= τ

    def counts(taus: list[int]) -> list[int]:
        taus = sorted(taus)
        return [bisect.bisect_right(taus, s) for s in grid]

    out = []
    by_key: dict[tuple[str, str, str], list[int]] = {}
    by_source: dict[str, list[Run]] = {}
    for run in runs:
        by_key.setdefault((run.source, run.objet, run.etat), []).append(run.tau_ms)
        by_source.setdefault(run.source, []).append(run)

    def emit(name: str, created: int, values: list[str]) -> None:
        if created < samples:
            out.append({"series": name, "values": encode([None] * created + values[created:])})

    for (source, objet, etat), taus in sorted(by_key.items()):
        emit(series_name("ingestion_runs_total",
                         [("source", source), ("objet", objet), ("etat", etat)]),
             first_sample(min(taus)), [str(c) for c in counts(taus)])

    for source, source_runs in sorted(by_source.items()):
        created = first_sample(min(r.tau_ms for r in source_runs))
        for field, metric in HISTOGRAMS:
            observed = sorted(
                (r.tau_ms, getattr(r, field)) for r in source_runs if getattr(r, field) is not None)
            taus = [tau for tau, _ in observed]
            upto = [bisect.bisect_right(taus, s) for s in grid]
            for bound in [*buckets[field], float("inf")]:
                le = "+Inf" if bound == float("inf") else number(bound)
                below = [tau for tau, value in observed if value <= bound]
                emit(series_name(f"{metric}_bucket", [("source", source), ("le", le)]), created,
                     [str(c) for c in counts(below)])
            sums, total, done = [], 0.0, 0
            for n in upto:
                while done < n:
                    total += observed[done][1]
                    done += 1
                sums.append(number(total))
            emit(series_name(f"{metric}_sum", [("source", source)]), created, sums)
            emit(series_name(f"{metric}_count", [("source", source)]), created,
                 [str(n) for n in upto])
        # The gauge: event time of the latest run, in promtool's seconds (shifted by T0).
        taus = sorted(r.tau_ms for r in source_runs)
        latest = []
        for s in grid:
            i = bisect.bisect_right(taus, s)
            ms = taus[i - 1] - t0_ms if i else 0
            latest.append(f"{ms // 1000}.{ms % 1000:03d}".rstrip("0").rstrip("."))
        emit(series_name("ingestion_last_run_timestamp_seconds", [("source", source)]), created,
             latest)
    return out


# --- rules and annotations -----------------------------------------------------------------

LABEL_REF = re.compile(r"\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def label_only(template: str) -> bool:
    return "{{" not in LABEL_REF.sub("", template)


def render(template: str, labels: dict[str, str]) -> str:
    return LABEL_REF.sub(lambda m: labels.get(m.group(1), ""), template)


def rules_for_tests(rules_path: Path) -> tuple[dict, list[dict]]:
    """The Prometheus rules with only their label-only annotations, and those rules."""
    doc = yaml.safe_load(rules_path.read_text(encoding="utf-8"))
    alerting = []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            kept = {k: v for k, v in (rule.get("annotations") or {}).items() if label_only(v)}
            if kept:
                rule["annotations"] = kept
            else:
                rule.pop("annotations", None)
            alerting.append(rule)
    return doc, alerting


def expected_annotations(alertname: str, labels: dict[str, str], given: dict[str, str] | None,
                         rules: list[dict], where: str) -> dict[str, str]:
    matches = [r for r in rules if r["alert"] == alertname and all(
        labels.get(k) == str(v) for k, v in (r.get("labels") or {}).items())]
    if len(matches) != 1:
        raise ConversionError(
            f"{where}: {len(matches)} Prometheus rules match {alertname} {labels}")
    full = {**labels, "alertname": alertname}
    out = {}
    for key, template in (matches[0].get("annotations") or {}).items():
        out[key] = (given or {}).get(key, render(template, full))
    return out


# --- conversion ----------------------------------------------------------------------------


def parse_duration_ms(text: Any, what: str) -> int:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?", str(text))
    if not m or not any(m.groups()):
        raise ConversionError(f"{what}: not a duration: {text!r}")
    h, mnt, s, ms = (int(g or 0) for g in m.groups())
    return ((h * 60 + mnt) * 60 + s) * 1000 + ms


def promtool_duration(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def convert_test(test: dict, index: int, test_file: Path, interval_ms: int,
                 buckets: dict[str, list[float]], rules: list[dict],
                 keep_skipped: bool = False) -> tuple[dict | None, int]:
    """One rule test as one promtool test group; None when every check is skipped."""
    where = f"{test_file.name}: tests[{index}] ({test.get('name', '')})"
    if ("runs" in test) == ("runs_file" in test):
        raise ConversionError(f"{where}: exactly one of 'runs' and 'runs_file'")
    if "runs" in test:
        runs = [run_from_inline(r, f"{where}.runs[{i}]") for i, r in enumerate(test["runs"])]
    else:
        runs = read_runs_file((test_file.parent / test["runs_file"]).resolve())
    checks = test.get("alert_rule_test") or []
    instants = [parse_instant_ms(c.get("eval_time"), f"{where}: eval_time") for c in checks]
    if not runs or not checks:
        raise ConversionError(f"{where}: needs runs and checks")

    first = min(min(r.tau_ms for r in runs), min(instants))
    t0_ms = (first // HOUR_MS - 1) * HOUR_MS
    last = max(instants)
    samples = (last - t0_ms) // interval_ms + 1

    alert_tests, skipped = [], 0
    for check, at in zip(checks, instants):
        if check.get("prometheus_skip") and not keep_skipped:
            skipped += 1
            continue
        exp = []
        for a in check.get("exp_alerts") or []:
            labels = {k: str(v) for k, v in (a.get("exp_labels") or {}).items()}
            item: dict[str, Any] = {"exp_labels": labels}
            annotations = expected_annotations(check["alertname"], labels,
                                               a.get("exp_annotations"), rules, where)
            if annotations:
                item["exp_annotations"] = annotations
            exp.append(item)
        alert_tests.append({"eval_time": promtool_duration(at - t0_ms),
                            "alertname": check["alertname"], "exp_alerts": exp})
    if not alert_tests:
        return None, skipped
    t0 = dt.datetime.fromtimestamp(t0_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "name": f"{test.get('name', f'test {index}')} [time 0 = {t0}]",
        "interval": promtool_duration(interval_ms),
        "input_series": input_series(runs, t0_ms, interval_ms, samples, buckets),
        "alert_rule_test": alert_tests,
    }, skipped


def convert_file(test_file: Path, out_dir: Path, rules_path: Path, interval_ms: int,
                 buckets: dict[str, list[float]], keep_skipped: bool = False) -> Path:
    doc = yaml.safe_load(test_file.read_text(encoding="utf-8")) or {}
    rules_doc, rules = rules_for_tests(rules_path)
    stem = test_file.stem
    rules_copy = out_dir / f"{stem}.rules.yml"
    rules_copy.write_text(
        f"# {rules_path} with only its label-only annotations; generated by "
        f"{Path(__file__).name}.\n" + yaml.safe_dump(rules_doc, sort_keys=False, width=100),
        encoding="utf-8")
    groups, skipped = [], 0
    for i, test in enumerate(doc.get("tests") or []):
        group, n = convert_test(test, i, test_file, interval_ms, buckets, rules, keep_skipped)
        skipped += n
        if group is not None:
            groups.append(group)
    out = out_dir / f"{stem}.promtool.yml"
    header = (f"# Generated from {test_file} by {Path(__file__).name}; "
              f"{skipped} check(s) marked prometheus_skip left out.\n")
    body = {"rule_files": [rules_copy.name], "evaluation_interval": promtool_duration(interval_ms),
            "tests": groups}
    out.write_text(header + yaml.safe_dump(body, sort_keys=False, width=100), encoding="utf-8")
    checks = sum(len(g["alert_rule_test"]) for g in groups)
    print(f"{test_file.name}: {checks} check(s) in {len(groups)} test(s), "
          f"{skipped} skipped -> {out}")
    return out


def _block_strings(dumper: Any, value: str) -> Any:
    """Multi-line strings (the expressions) as YAML block scalars, so the output stays readable."""
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tests", nargs="*", type=Path, help="rule test files (rules/tests/*.yml)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES,
                        help="Prometheus rule file to test (default: %(default)s)")
    parser.add_argument("--business-metrics", type=Path, default=BUSINESS_METRICS,
                        help="where the histogram buckets are read (default: %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=Path("promtool-rule-tests"))
    parser.add_argument("--interval", default="15s",
                        help="scrape and evaluation interval (default: %(default)s)")
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--run", action="store_true", help="run promtool test rules on the output")
    parser.add_argument("--keep-skipped", action="store_true",
                        help="keep the prometheus_skip checks too (to see Prometheus disagree)")
    parser.add_argument("--check-rules", nargs="+", type=Path, metavar="RULES",
                        help="only run promtool check rules on these files")
    args = parser.parse_args(argv)

    promtool = shutil.which(args.promtool)
    if (args.run or args.check_rules) and promtool is None:
        print(f"skipped: {args.promtool} not found (scripts/setup installs prometheus)",
              file=sys.stderr)
        return SKIP
    if args.check_rules:
        return subprocess.run([promtool, "check", "rules", *map(str, args.check_rules)],
                              check=False).returncode
    if yaml is None:
        print("skipped: PyYAML is missing (apt-get install python3-yaml)", file=sys.stderr)
        return SKIP
    if not args.tests:
        parser.error("no rule test files")
    yaml.SafeDumper.add_representer(str, _block_strings)
    try:
        interval_ms = parse_duration_ms(args.interval, "--interval")
        buckets = read_buckets(args.business_metrics)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        outputs = [convert_file(t, args.out_dir, args.rules, interval_ms, buckets,
                                args.keep_skipped) for t in args.tests]
    except (ConversionError, OSError, ValueError, yaml.YAMLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.run:
        return 0
    return subprocess.run([promtool, "test", "rules", *map(str, outputs)], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
