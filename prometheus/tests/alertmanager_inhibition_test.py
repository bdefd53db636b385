#!/usr/bin/env python3
"""Inhibition and routing of prometheus/alertmanager.yml, checked on a real Alertmanager.

`amtool config routes test` (the prometheus.alertmanager_route.* CTests) shows where a label set
is routed, but amtool has nothing for inhibition. This starts Alertmanager (Debian's
prometheus-alertmanager) with the repo's configuration on a free loopback port, clustering off,
posts firing alerts through /api/v2/alerts, and reads back which receivers each one goes to
and which are inhibited, and by which alert.

Usage: alertmanager_inhibition_test.py [--alertmanager BINARY] [--config FILE]
Exit status 77 (CTest's SKIP_RETURN_CODE) when Alertmanager is not installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SKIP = 77
CONFIG = Path(__file__).resolve().parents[1] / "alertmanager.yml"

# (labels, resolved?) posted, and what must come back for each firing one: its receivers and
# the alertname of the alert inhibiting it (None: not inhibited).
LOKI_A = {"job": "ingest-loki-pusher", "instance": "a:9467", "service": "loki-pusher"}
LOKI_B = {"job": "ingest-loki-pusher", "instance": "b:9467", "service": "loki-pusher"}
CASES = [
    ({"alertname": "IngestionFailureDetected", "severity": "critical", "source": "Zoho",
      "objet": "deals"}, False, ["critical"], None),
    # The same source: silenced, for every objet of it.
    ({"alertname": "IngestionHighFailureRate", "severity": "warning", "source": "Zoho"}, False,
     ["warning"], "IngestionFailureDetected"),
    ({"alertname": "IngestionObjectErrorBurst", "severity": "warning", "source": "Zoho",
      "objet": "contacts"}, False, ["warning"], "IngestionFailureDetected"),
    # Another source, or a warning the failure does not cover: not silenced.
    ({"alertname": "IngestionHighFailureRate", "severity": "warning", "source": "Salesforce"},
     False, ["warning"], None),
    ({"alertname": "IngestionObjectErrorBurst", "severity": "warning", "source": "Salesforce",
      "objet": "deals"}, False, ["warning"], None),
    ({"alertname": "IngestionSourceSilent", "severity": "warning", "source": "Zoho"}, False,
     ["warning"], None),
    # A failure that has resolved silences nothing.
    ({"alertname": "IngestionFailureDetected", "severity": "critical", "source": "HubSpot",
      "objet": "deals"}, True, None, None),
    ({"alertname": "IngestionHighFailureRate", "severity": "warning", "source": "HubSpot"}, False,
     ["warning"], None),
    # Loki: nothing gets through on a, so its retries warning is silenced; b is another pusher.
    ({"alertname": "IngestwatchLokiPushesFailing", "severity": "critical", **LOKI_A}, False,
     ["critical"], None),
    ({"alertname": "IngestwatchLokiPushRetries", "severity": "warning", **LOKI_A}, False,
     ["warning"], "IngestwatchLokiPushesFailing"),
    ({"alertname": "IngestwatchLokiPushRetries", "severity": "warning", **LOKI_B}, False,
     ["warning"], None),
    # No severity: the default receiver.
    ({"alertname": "Watchdog"}, False, ["default"], None),
]


def listening_port(log: Path) -> int | None:
    """The port Alertmanager logged it listens on ("Listening on" address=127.0.0.1:PORT)."""
    # Read through a file of its own: seeking the file Alertmanager writes to would move its
    # write position too (they share one open file description).
    match = re.search(r'msg="Listening on" address=127\.0\.0\.1:(\d+)', log.read_text())
    return int(match.group(1)) if match else None


def rfc3339(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def request(url: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as response:
        text = response.read()
    return json.loads(text) if text.strip() else None


def key(labels: dict) -> tuple:
    return tuple(sorted(labels.items()))


def observe(base: str) -> dict:
    """Firing alerts by label set: (receivers, alertname of the inhibiting alert or None)."""
    alerts = request(base + "/api/v2/alerts")
    by_fingerprint = {a["fingerprint"]: a["labels"]["alertname"] for a in alerts}
    seen = {}
    for a in alerts:
        inhibited = a["status"]["inhibitedBy"]
        seen[key(a["labels"])] = (sorted(r["name"] for r in a["receivers"]),
                                  by_fingerprint.get(inhibited[0], "?") if inhibited else None)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alertmanager", default=None)
    parser.add_argument("--config", default=str(CONFIG))
    args = parser.parse_args()
    binary = args.alertmanager or shutil.which("prometheus-alertmanager") or shutil.which(
        "alertmanager")
    if not binary or not shutil.which(binary):
        print("skipped: Alertmanager is not installed (Debian: prometheus-alertmanager)")
        return SKIP

    expected = {key(labels): (receivers, by)
                for labels, resolved, receivers, by in CASES if not resolved}
    with tempfile.TemporaryDirectory() as storage:
        log_path = Path(storage) / "alertmanager.log"
        log = open(log_path, "w+")
        # Port 0: the kernel picks a free port as Alertmanager binds it, and Alertmanager logs
        # it; no port is chosen here and released for it to take (another test could take it).
        am = subprocess.Popen(
            [binary, f"--config.file={args.config}", f"--storage.path={storage}",
             "--web.listen-address=127.0.0.1:0", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    port = listening_port(log_path)
                    if port is None:
                        raise OSError("not listening yet")
                    base = f"http://127.0.0.1:{port}"
                    urllib.request.urlopen(base + "/-/ready", timeout=1).close()
                    break
                except OSError:
                    if am.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        print("Alertmanager did not start:\n" + log.read(), file=sys.stderr)
                        return 1
                    time.sleep(0.1)

            now = dt.datetime.now(dt.timezone.utc)
            request(base + "/api/v2/alerts", [
                {"labels": labels,
                 "annotations": {"summary": "test"},
                 "startsAt": rfc3339(now - dt.timedelta(minutes=10)),
                 "endsAt": rfc3339(now + (dt.timedelta(minutes=-1) if resolved
                                          else dt.timedelta(hours=1)))}
                for labels, resolved, _, _ in CASES])

            # The inhibitor learns of new alerts asynchronously: wait until it has settled.
            deadline = time.monotonic() + 10
            seen = observe(base)
            while seen != expected and time.monotonic() < deadline:
                time.sleep(0.2)
                seen = observe(base)
        finally:
            am.terminate()
            am.wait(timeout=10)
            log.close()

    failures = 0
    for k in sorted(set(expected) | set(seen)):
        if expected.get(k) != seen.get(k):
            failures += 1
            print(f"FAIL {dict(k)}\n  expected (receivers, inhibited by): {expected.get(k)}\n"
                  f"  got: {seen.get(k)}")
    print(f"{len(expected) - failures} of {len(expected)} alerts routed and inhibited as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
