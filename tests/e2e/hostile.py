"""The hostile inputs of the fault suite (`make chaos`, issue 15), and the pure checks on what
became of them. No I/O: tests/e2e/test_hostile.py tests this module without a stack.

The hostile phase mixes into the feed, at chosen seconds, inputs that must neither stop nor
blind the pipeline:
- an oversized line (1.1 MB, 20 MB): a valid run padded to an exact size in bytes; it must be
  dead-lettered as `oversized_record` with its size and SHA-256 (or, if a stage takes it, have
  its one outcome), and the stream must go on;
- a connector whose clock runs 2 h fast: runs of its own source stamped at the data's current
  time plus 2 h (a time in the past: it may affect only its own source);
- a run dated 2261: dead-lettered as `future_timestamp`;
- 2 000 new sources within a minute, each with one run at the data's current time;
and, outside this module, a producer re-sending 500 records and an evaluator restart on a broker
with Kafka's default group.initial.rebalance.delay.ms.

The well-behaved sources are the scenario sources: data/scenarios/expected.yaml holds their
exact alert episodes, so "their alerts are unchanged" is checked against it, transition by
transition (scenario_alerts()).
"""
from __future__ import annotations

import bisect
import collections
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

STAMP = "%Y-%m-%d %H:%M:%S.%f"  # the connectors' Debut/Fin: naive, milliseconds
OVERSIZED = "oversized_record"
FUTURE = "future_timestamp"
FAST_SOURCE, FUTURE_SOURCE, BIG_SOURCE, FLOOD_PREFIX = (
    "ChaosFastClock", "ChaosFutureYear", "ChaosOversize", "ChaosFlood")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, STAMP)


def format_stamp(t: datetime) -> str:
    return t.strftime(STAMP)[:-3]


def run_record(ident: int, source: str, objet: str, fin: datetime, etat: str = "SUCCESS",
               seconds: float = 1.5, description: str = "") -> dict:
    """A connector record (BRIEF §2) of one run ending at `fin`."""
    return {"ID": ident, "Source": source, "Objet": objet,
            "Transformation": f"{source}_API_get_data", "Etat": etat,
            "Debut": format_stamp(fin - timedelta(seconds=seconds)), "Fin": format_stamp(fin),
            "Duree secondes": seconds, "cpu_time": 0.1, "memory_used": 10485760,
            "Description": description, "Zone": "1-Raw", "Entreprise": "akonovia"}


def padded_line(record: dict, size: int) -> str:
    """The record as one JSON line of exactly `size` bytes (UTF-8), its Description padded."""
    bare = json.dumps({**record, "Description": ""})
    pad = size - len(bare.encode())
    if pad < 0:
        raise ValueError(f"a record of {len(bare.encode())} bytes cannot be padded to {size}")
    return json.dumps({**record, "Description": "x" * pad})


def sha256_hex(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()


@dataclass
class Item:
    """One line of the feed, sent `at` seconds after the feed starts; `kind` is "base" for the
    well-behaved input, else the hostile input it belongs to."""
    at: float
    line: str
    kind: str = "base"


def base_schedule(lines: list, seconds: float) -> list:
    """The well-behaved lines evenly over `seconds`, in order."""
    step = seconds / len(lines)
    return [Item(i * step, line) for i, line in enumerate(lines)]


class DataClock:
    """The data's current time during the feed: the end (Fin) of the latest base run sent at or
    before a feed second (lines without a readable Fin are skipped)."""

    def __init__(self, base: list):
        self.at, self.fin = [], []
        latest = None
        for item in base:
            try:
                fin = parse_stamp(json.loads(item.line)["Fin"])
            except (KeyError, TypeError, ValueError):
                continue
            latest = fin if latest is None else max(latest, fin)
            self.at.append(item.at)
            self.fin.append(latest)
        if not self.fin:
            raise ValueError("no base line has a readable Fin")

    def __call__(self, second: float) -> datetime:
        i = bisect.bisect_right(self.at, second) - 1
        return self.fin[max(i, 0)]

    @property
    def last(self) -> datetime:
        return self.fin[-1]


@dataclass
class Plan:
    """When each hostile input strikes, in seconds of a feed of `seconds` (the default feed is
    200 s: the scenarios, the well-behaved sources checked to the millisecond, are its last
    ~25 s, so the fast clock and the 2261 run overlap them)."""
    big: tuple = ((95.0, 1_100_000), (100.0, 20_000_000))
    fast_from: float = 110.0
    fast_every: float = 2.0
    fast_ahead: timedelta = timedelta(hours=2)
    future_at: float = 185.0
    future_year: int = 2261
    flood_from: float = 105.0
    flood_seconds: float = 60.0
    flood_sources: int = 2000
    resend_at: float = 190.0
    resend_records: int = 500

    def scaled(self, seconds: float) -> "Plan":
        """The same plan for a feed of another length (every instant scaled from 200 s)."""
        k = seconds / 200.0
        return Plan(big=tuple((at * k, size) for at, size in self.big),
                    fast_from=self.fast_from * k, fast_every=self.fast_every * k,
                    fast_ahead=self.fast_ahead, future_at=self.future_at * k,
                    future_year=self.future_year, flood_from=self.flood_from * k,
                    flood_seconds=self.flood_seconds * k, flood_sources=self.flood_sources,
                    resend_at=self.resend_at * k, resend_records=self.resend_records)


def hostile_items(plan: Plan, clock: DataClock, seconds: float) -> list:
    """The hostile lines of `plan` (kinds "big", "fast", "future", "flood"), each stamped from
    the data clock at the instant it is sent."""
    items, ident = [], 990000

    def next_id() -> int:
        nonlocal ident
        ident += 1
        return ident

    for at, size in plan.big:
        record = run_record(next_id(), BIG_SOURCE, "blob", clock(at))
        items.append(Item(at, padded_line(record, size), "big"))
    at = plan.fast_from
    while at < seconds:
        record = run_record(next_id(), FAST_SOURCE, "sync", clock(at) + plan.fast_ahead)
        items.append(Item(at, json.dumps(record), "fast"))
        at += plan.fast_every
    fin = clock(plan.future_at)
    items.append(Item(plan.future_at, json.dumps(run_record(
        next_id(), FUTURE_SOURCE, "orders", fin.replace(year=plan.future_year))), "future"))
    for i in range(plan.flood_sources):
        at = plan.flood_from + plan.flood_seconds * i / plan.flood_sources
        record = run_record(next_id(), f"{FLOOD_PREFIX}{i + 1:04d}", "items", clock(at))
        items.append(Item(at, json.dumps(record), "flood"))
    return items


def merge(base: list, hostile: list) -> list:
    """Every item in the order it is sent (a stable sort: base lines keep their order)."""
    return sorted(base + hostile, key=lambda item: item.at)


# ---- what became of the inputs ------------------------------------------------------------------


def canonical(line: str) -> str:
    return json.dumps(json.loads(line), sort_keys=True)


def digest_letters(dead: list) -> dict:
    """The oversized_record dead letters (kcat envelopes, headers as a dict) by their dlq.sha256:
    a list of (stage, original size) for each digest."""
    out = collections.defaultdict(list)
    for r in dead:
        h = r["headers"]
        if h.get("dlq.reason") == OVERSIZED and h.get("dlq.sha256"):
            size = h.get("dlq.original_size")
            out[h["dlq.sha256"].lower()].append(
                (h.get("dlq.stage"), int(size) if size and size.isdigit() else None))
    return out


def input_accounting(lines: list, raw: list, dead: list) -> tuple:
    """(lost, doubled, producer letters, by digest): each input line is in ingestion-logs, or a
    producer dead letter holds it whole, or an oversized_record letter names its SHA-256 and
    size. `lost` counts the lines with none of these (a Counter of canonical lines); `doubled`
    the extra copies in ingestion-logs (a producer's resend)."""
    want = collections.Counter(canonical(line) for line in lines)
    got = collections.Counter(canonical(r["payload"]) for r in raw)
    whole = collections.Counter()
    for r in dead:
        if r["headers"].get("dlq.stage") == "producer":
            try:
                whole[canonical(r["payload"])] += 1
            except (ValueError, TypeError):
                pass  # the head of an oversized line: not JSON, accounted by its digest
    letters = digest_letters(dead)
    by_digest = collections.Counter()
    for line in lines:
        size = len(line.encode())
        if any(s == size for _, s in letters.get(sha256_hex(line), [])):
            by_digest[canonical(line)] += 1
    lost = want - got - whole - by_digest
    doubled = sum(n - 1 for n in got.values() if n > 1)
    return lost, doubled, sum(whole.values()), sum(by_digest.values())


def big_line_outcome(line: str, raw: list, dead: list) -> tuple:
    """(ok, what happened) for one oversized input line: dead-lettered as oversized_record with
    its exact size and digest, or taken whole into ingestion-logs (a stage downstream then owes
    it one outcome, which RawOutcomes checks)."""
    size, digest = len(line.encode()), sha256_hex(line)
    letters = digest_letters(dead).get(digest, [])
    exact = [stage for stage, s in letters if s == size]
    if exact:
        return True, f"dead-lettered {OVERSIZED} by {'+'.join(sorted(set(exact)))}, " \
                     f"dlq.original_size {size}, dlq.sha256 matches"
    if letters:
        return False, f"a letter names its digest with size {letters[0][1]}, not {size}"
    if any(len(r["payload"]) == len(line) and r["payload"] == line for r in raw):
        return True, f"taken into ingestion-logs whole ({size} bytes)"
    return False, f"neither in ingestion-logs nor dead-lettered with its digest ({size} bytes)"


def future_outcome(line: str, enriched: list, dead: list) -> tuple:
    """(ok, what happened) for the run dated in the far future: dead-lettered future_timestamp
    (by the enricher, from its raw value, or by the evaluator, from its enriched record) and
    never passed on as a run by the enricher without that."""
    record = json.loads(line)
    ident = str(record["ID"])
    stages = []
    for r in dead:
        h = r["headers"]
        if h.get("dlq.reason") == FUTURE and ident in r["payload"] and \
                record["Source"] in r["payload"]:
            stages.append(h.get("dlq.stage"))
    runs = sum(1 for r in enriched if record["Source"] in r["payload"])
    if stages:
        return True, f"dead-lettered {FUTURE} by {'+'.join(sorted(set(stages)))}" + (
            f" ({runs} enriched record(s) of it reached the evaluator)" if runs else "")
    return False, f"no {FUTURE} dead letter; {runs} enriched record(s) of its source"


def dedupe_expected(records: list, stored: collections.Counter, event_id) -> tuple:
    """The records the store must hold, when a store or pusher may keep one line per event:
    of records sharing an event id (a producer's resend), those whose line is stored, or all of
    them when none is (so a loss is still a loss). Returns (records, dropped as duplicates)."""
    groups = collections.defaultdict(list)
    for r in records:
        groups[event_id(r)].append(r)
    out, dropped = [], 0
    for group in groups.values():
        kept = [r for r in group if stored[r["payload"]] > 0]
        if len(group) > 1 and kept:
            out += kept
            dropped += len(group) - len(kept)
        else:
            out += group
    return out, dropped


# ---- the well-behaved sources' alerts -------------------------------------------------------------


def event_key(event: dict) -> tuple:
    """(status, alertname, labels without alertname and severity, startsAt, the instant)."""
    labels = tuple(sorted((k, v) for k, v in event["labels"].items()
                          if k not in ("alertname", "severity")))
    at = event["startsAt"] if event["status"] == "firing" else event.get("endsAt")
    return (event["status"], event["labels"]["alertname"], labels, event["startsAt"], at)


def scenario_alerts(events: list, expected: list, due_until: float, to_epoch) -> tuple:
    """Compares the alert events of the scenario sources with data/scenarios/expected.yaml's
    episodes: (due, missing, unexpected). An instant is due when it is at or before
    `due_until` (epoch seconds); `missing` lists the due ones with no event, `unexpected` the
    events of a scenario source that match no expected instant (due or not)."""
    sources = {a["labels"]["source"] for a in expected}
    want, due, missing = set(), 0, []
    for a in expected:
        labels = tuple(sorted(a["labels"].items()))
        for status, at in (("firing", a["starts_at"]), ("resolved", a["resolved_at"])):
            if at is None:
                continue
            key = (status, a["alertname"], labels, a["starts_at"], at)
            want.add(key)
            if to_epoch(at) <= due_until:
                due += 1
                missing.append(key)
    seen = {event_key(e) for e in events if e["labels"].get("source") in sources}
    missing = [k for k in missing if k not in seen]
    unexpected = sorted(k for k in seen if k not in want)
    return due, missing, unexpected


def describe_key(key: tuple) -> str:
    status, alertname, labels, _, at = key
    return f"{alertname} {dict(labels)} {status} at {at}"


# ---- a run of the same data without the hostile inputs -----------------------------------------


def well_behaved(source: str) -> bool:
    """A source of the base input: not one of the hostile inputs', not the overflow series."""
    return not source.startswith("Chaos") and source != "_other"


def baseline_input(payloads: list) -> list:
    """The enriched records of the well-behaved sources, once per event.id (the first), ordered
    by their end τ (stable): the input a clean run of the same data gives the evaluator, in
    order, so no run of it is late."""
    seen, out = set(), []
    for p in payloads:
        record = json.loads(p)
        if not well_behaved(record["source"]["name"]) or record["event"]["id"] in seen:
            continue
        seen.add(record["event"]["id"])
        out.append((record["event"]["end"], p))
    out.sort(key=lambda pair: pair[0])
    return [p for _, p in out]


def compare_transitions(live: list, baseline: list, due_until: float, to_epoch) -> tuple:
    """The alert transitions (event_key) of the well-behaved sources at instants up to
    `due_until`, in the live run and in the baseline: (compared, missing from the live run,
    in the live run only)."""
    def keys(events):
        return {k for k in map(event_key, events)
                if well_behaved(dict(k[2]).get("source", "")) and to_epoch(k[4]) <= due_until}

    want, got = keys(baseline), keys(live)
    return len(want), sorted(want - got), sorted(got - want)
