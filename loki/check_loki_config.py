#!/usr/bin/env python3
"""Checks what loki/loki-config.yml promises the pipeline (CTest loki.config). Field names and
types are Loki's own business (Loki checks them when compose or the chart starts it; its code is
under the AGPL, so the project does not build it to run `-verify-config`). What this checks:

- what ingest-loki-pusher and docs/LOKI.md rely on: single binary, no auth, TSDB + v13 on the
  filesystem with a schema starting before the oldest data in data/, retention on and long
  enough for replayed history, old samples accepted, unordered writes, structured metadata
  allowed (the entries' trace_id, docs/TRACING.md), no service_name label;
- with --pusher BINARY, against that pusher's effective defaults (`BINARY --check-config`):
  its URL's port, line size, label limits, max_behind / max_future / max_entry_age, and batch
  size against Loki's rate bursts.

Usage: check_loki_config.py [--pusher BINARY] [CONFIG]
Exit status 77 (CTest's SKIP_RETURN_CODE) when PyYAML is missing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - reported as a skip
    yaml = None

SKIP = 77
REPO = Path(__file__).resolve().parents[1]
DAY = 86400
MIB = 1 << 20

DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY,
                  "y": 365 * DAY}


def seconds(text: object) -> float:
    """A Prometheus-style duration (Loki's model.Duration, the services' durations): 1h30m."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * DURATION_UNITS[u] for n, u in parts)


def size_bytes(text: object) -> int:
    """Loki's byte sizes ("256KB", "3MB"), read in powers of 1024, or a plain number."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"(\d+)\s*([KMG]i?B|B)?", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    unit = (match.group(2) or "B").upper().replace("I", "")
    return int(match.group(1)) * {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[unit]


def oldest_data_date() -> str:
    """The earliest date of a run (Debut or Fin) in the sample data, as YYYY-MM-DD."""
    pattern = re.compile(r'"(?:Debut|Fin)"\s*:\s*"(\d{4}-\d{2}-\d{2})')
    files = [REPO / "data" / "logs.json", *sorted((REPO / "data" / "scenarios").glob("*.ndjson"))]
    return min(d for f in files if f.exists() for d in pattern.findall(f.read_text()))


def pusher_defaults(binary: str) -> dict:
    out = subprocess.run([binary, "--check-config"], capture_output=True, text=True, check=True,
                         timeout=30)
    return yaml.safe_load(out.stdout)["loki_pusher"]


def check(config: dict, pusher: dict | None) -> list[str]:
    errors = []

    def expect(ok: bool, message: str) -> None:
        if not ok:
            errors.append(message)

    server = config.get("server", {})
    limits = config.get("limits_config", {})
    compactor = config.get("compactor", {})
    expect(config.get("target", "all") == "all", "target: must be all (single binary)")
    expect(config.get("auth_enabled") is False, "auth_enabled: must be false (no tenants)")

    periods = config.get("schema_config", {}).get("configs", [])
    expect(bool(periods), "schema_config.configs: empty")
    if periods:
        last = periods[-1]
        expect((last.get("store"), last.get("object_store"), last.get("schema")) ==
               ("tsdb", "filesystem", "v13"),
               "schema_config: the current period must be tsdb / filesystem / v13")
        expect(last.get("index", {}).get("period") == "24h", "schema_config: TSDB needs 24h")
        oldest = oldest_data_date()
        expect(str(periods[0].get("from")) <= oldest,
               f"schema_config: the first period starts after the oldest data ({oldest})")
    fs = config.get("common", {}).get("storage", {}).get("filesystem", {})
    expect(bool(fs.get("chunks_directory")) and bool(fs.get("rules_directory")),
           "common.storage.filesystem: chunks_directory and rules_directory are required")

    expect(compactor.get("retention_enabled") is True, "compactor.retention_enabled: not true")
    expect(compactor.get("delete_request_store") == "filesystem",
           "compactor.delete_request_store: Loki 3 needs it with retention")
    # Retention counts from the entries' (event) timestamps: a replayed year must survive it.
    retention = seconds(limits.get("retention_period", "0s"))
    expect(retention >= 365 * DAY, "limits_config.retention_period: under a year")
    expect(limits.get("reject_old_samples") is False or
           seconds(limits.get("reject_old_samples_max_age", "1w")) >= 365 * DAY,
           "limits_config: replayed history (a year and more) would be refused as too old")
    expect(limits.get("unordered_writes", True) is True, "limits_config.unordered_writes: off")
    # The pusher sends every entry's trace id as structured metadata (docs/TRACING.md): Loki
    # refuses the whole push when it is off. Written out, not left to the v13 default.
    expect(limits.get("allow_structured_metadata") is True,
           "limits_config.allow_structured_metadata: must be true (entries carry trace_id)")
    expect(limits.get("max_line_size_truncate", False) is False,
           "limits_config.max_line_size_truncate: a truncated line is no longer JSON")
    expect(limits.get("discover_service_name") == [],
           "limits_config.discover_service_name: must be [] (stream labels = BRIEF §7)")
    line_size = size_bytes(limits.get("max_line_size", "256KB"))
    expect(size_bytes(limits.get("per_stream_rate_limit", "3MB")) >= 3 * MIB and
           float(limits.get("ingestion_rate_mb", 4)) >= 4,
           "limits_config: ingestion rates below Loki's defaults")

    if pusher is None:
        expect(line_size == 256 * 1024, "limits_config.max_line_size: not the pusher's 262144")
        return errors
    limit = pusher["limits"]
    url = urllib.parse.urlsplit(pusher["url"])
    expect(url.port == server.get("http_listen_port", 3100),
           f"server.http_listen_port: the pusher's default url is {pusher['url']}")
    expect(line_size == limit["max_line_bytes"],
           f"limits_config.max_line_size: {line_size} bytes, the pusher's max_line_bytes "
           f"{limit['max_line_bytes']}")
    half_chunk = seconds(config.get("ingester", {}).get("max_chunk_age", "2h")) / 2
    expect(0 < seconds(limit["max_behind"]) <= half_chunk,
           "the pusher's max_behind must be at most ingester.max_chunk_age / 2")
    grace = seconds(limits.get("creation_grace_period", "10m"))
    expect(seconds(limit["max_future"]) <= grace,
           "the pusher's max_future exceeds creation_grace_period")
    expect(limits.get("reject_old_samples") is False or
           0 < seconds(limit["max_entry_age"]) <= seconds(limits.get("reject_old_samples_max_age",
                                                                      "1w")),
           "Loki refuses old entries: the pusher's max_entry_age must be set, at most "
           "reject_old_samples_max_age, so that it refuses them itself, with a reason")
    expect(limit["max_labels"] <= limits.get("max_label_names_per_series", 15) and
           limit["max_label_name_length"] <= limits.get("max_label_name_length", 1024) and
           limit["max_label_value_length"] <= limits.get("max_label_value_length", 2048),
           "the pusher allows labels Loki refuses")
    batch = pusher["batch"]["max_bytes"]
    expect(float(limits.get("ingestion_burst_size_mb", 6)) * MIB >= batch and
           size_bytes(limits.get("per_stream_rate_limit_burst", "15MB")) >= batch,
           "a full batch of the pusher exceeds Loki's ingestion or per-stream burst")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", nargs="?", default=str(REPO / "loki" / "loki-config.yml"))
    parser.add_argument("--pusher", help="ingest-loki-pusher binary, for its defaults")
    args = parser.parse_args()
    if yaml is None:
        print("skipped: PyYAML is missing (Debian: python3-yaml)")
        return SKIP
    config = yaml.safe_load(Path(args.config).read_text())
    if args.pusher and not Path(args.pusher).is_file():
        print(f"{args.pusher}: not built")
        return 1
    pusher = pusher_defaults(args.pusher) if args.pusher else None
    try:
        errors = check(config, pusher)
    except KeyError as e:  # the pusher's configuration changed: this check must follow
        print(f"{args.pusher}: no loki_pusher key {e} in its --check-config output")
        return 1
    for e in errors:
        print(f"{args.config}: {e}")
    if not errors:
        print(f"{args.config}: OK" + ("" if pusher else " (without the pusher's defaults)"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
