#!/usr/bin/env bash
# CTest prometheus.run_dir: a run directory written by scripts/prometheus-run-dir holds a
# configuration promtool accepts, whose targets are the ones given (with the job's `service`
# label), none for a job given no address, the defaults for the others, and a later call moves
# only the jobs it names. Exit 77 (skipped) without promtool.
set -euo pipefail
promtool=${1:-promtool}
if ! command -v "$promtool" >/dev/null; then
  echo "skipped: promtool is not installed (scripts/setup)"
  exit 77
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The instance and service labels Prometheus would scrape a job with, one "instance service"
# line per target.
targets() { # job
  # File discovery reports at once and then watches: a short timeout ends the watch.
  "$promtool" check service-discovery --timeout=1s "$dir/prometheus.yml" "$1" 2>/dev/null |
    python3 -c 'import json, sys
for t in json.load(sys.stdin): print(t["labels"]["instance"], t["labels"].get("service", "-"))'
}
expect() { # job expected-output
  local got
  got=$(targets "$1")
  if [[ $got != "$2" ]]; then
    echo "FAIL $1: expected '$2', got '$got'" >&2
    exit 1
  fi
}

"$repo/scripts/prometheus-run-dir" "$dir" ingest-enricher=127.0.0.1:40001 ingest-loki-pusher=
"$promtool" check config "$dir/prometheus.yml"
expect ingest-enricher "127.0.0.1:40001 enricher"
expect ingest-loki-pusher ""
expect ingest-producer "127.0.0.1:9464 producer"
expect alertmanager "127.0.0.1:9093 -"

"$repo/scripts/prometheus-run-dir" "$dir" alertmanager=127.0.0.1:40002
expect alertmanager "127.0.0.1:40002 -"
expect ingest-enricher "127.0.0.1:40001 enricher"

if "$repo/scripts/prometheus-run-dir" "$dir" no-such-job=127.0.0.1:1 2>/dev/null; then
  echo "FAIL: an unknown job was accepted" >&2
  exit 1
fi
echo "run directory OK"
