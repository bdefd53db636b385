#!/usr/bin/env bash
# CTest grafana.schema: validate_dashboards.mjs on every dashboard, with the npm packages pinned
# in package-lock.json installed once into the cache by npm-deps (npm ci; the registry is
# reachable, and nothing is installed into the repo). Exit 77 (skipped) without node and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skipped: node and npm are needed"
  exit 77
fi
dir=$("$here/npm-deps")
exec node "$dir/validate_dashboards.mjs" "$@"
