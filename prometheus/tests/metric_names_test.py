#!/usr/bin/env python3
"""Every metric an alert rule reads is one a service registers (CTest prometheus.metric_names).

The rule tests feed promtool series written by hand, so a metric renamed in a service (the
loki-pusher's are new) would leave a rule that tests green and never fires. This reads each
`expr` of prometheus/rules/*.yml and checks that every ingestwatch_* / ingestion_* name (less
a histogram's _bucket/_count/_sum) and every label value it matches on, except `job` (set by
prometheus.yml), appears as a string literal in the C++ sources of services/ and libs/.

Usage: metric_names_test.py [RULES.yml...]   (default: every prometheus/rules/*.yml)
Exit status 77 (CTest's SKIP_RETURN_CODE) when PyYAML is missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - reported as a skip
    yaml = None

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\b((?:ingestwatch|ingestion)_[a-z0-9_]+)")
MATCHER = re.compile(r'(\w+)\s*(?:=~|!~|!=|=)\s*"([^"]*)"')
# C++ tokens that hold or hide a double quote, so that string literals are found whatever comes
# before them in a file: raw strings (JSON in tests), ordinary strings (group 2), character
# literals ('"') and comments.
TOKEN = re.compile(r"""R"([^(\s]*)\(.*?\)\1"|"((?:[^"\\\n]|\\.)*)"|'(?:[^'\\\n]|\\.)*'"""
                   r"|//[^\n]*|/\*.*?\*/", re.S)


def string_literals(source: str) -> set[str]:
    return {m.group(2) for m in TOKEN.finditer(source) if m.group(2) is not None}


def main() -> int:
    if yaml is None:
        print("skipped: PyYAML is missing (Debian: python3-yaml)")
        return 77
    literals = set().union(*(string_literals(p.read_text()) for d in ("services", "libs")
                             for p in (REPO / d).rglob("*.cc")))
    missing = []
    files = [Path(a) for a in sys.argv[1:]] or sorted((REPO / "prometheus" / "rules").glob("*.yml"))
    for rules in files:
        for group in yaml.safe_load(rules.read_text())["groups"]:
            for rule in group["rules"]:
                expr = rule["expr"]
                names = {re.sub(r"_(bucket|count|sum)$", "", n) for n in NAME.findall(expr)}
                values = {v for label, alt in MATCHER.findall(expr) if label != "job"
                          for v in alt.split("|")}
                what = f"{rules.name}: {rule.get('alert') or rule.get('record')}"
                missing += [f"{what}: metric {n}" for n in sorted(names) if n not in literals]
                missing += [f"{what}: label value {v!r}" for v in sorted(values)
                            if v not in literals]
    for m in missing:
        print(f"not found in services/ or libs/: {m}")
    print("every metric and label value the rules read is registered" if not missing else
          f"{len(missing)} name(s) not found")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
