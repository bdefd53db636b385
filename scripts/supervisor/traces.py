"""Jaeger's answers read (its query API: GET /api/traces/<trace id>, GET /api/traces?service=..):
one trace's spans, the checks of the end-to-end test on them (the four stages and their parent
links, docs/TRACING.md) and make run's lines about one run's trace. Pure: no I/O; tested in
scripts/tests/test_traces.py against answers written from Jaeger's format."""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field

PRODUCER, ENRICHER, EVALUATOR, PUSHER = ("ingest-producer", "ingest-enricher",
                                         "ingest-alert-evaluator", "ingest-loki-pusher")
SERVICES = (PRODUCER, ENRICHER, EVALUATOR, PUSHER)
# The span each service opens per record (the tracing contract, docs/TRACING.md) and its kind.
STAGE = {PRODUCER: "publish", ENRICHER: "enrich", EVALUATOR: "evaluate", PUSHER: "push"}
KIND = {PRODUCER: "producer", ENRICHER: "consumer", EVALUATOR: "consumer", PUSHER: "consumer"}
DEAD_LETTER_REASON = "ingestwatch.dead_letter.reason"


def trace_key(trace_id: str) -> str:
    """A trace id as 32 lowercase hex digits: Jaeger prints one whose high half is zero with 16
    (its model's TraceID.String()), a traceparent always with 32."""
    return trace_id.lower().rjust(32, "0")


def traceparent_trace_id(traceparent: str) -> str | None:
    """The trace id of a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>), None if it is not one."""
    parts = traceparent.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1].lower()


@dataclass
class Span:
    span_id: str
    parent_id: str | None  # the CHILD_OF reference (the first reference without one)
    service: str
    name: str
    start_us: int
    duration_us: int
    tags: dict = field(default_factory=dict)
    events: list = field(default_factory=list)  # the names of its span events (Jaeger's logs)

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


def spans_of(trace: dict) -> list[Span]:
    """The spans of one trace of Jaeger's answer (an element of its "data"), by start time."""
    processes = trace.get("processes") or {}
    spans = []
    for s in trace.get("spans") or []:
        refs = s.get("references") or []
        parent = next((r for r in refs if r.get("refType") == "CHILD_OF"), refs[0] if refs
                      else None)
        process = processes.get(s.get("processID"), s.get("process") or {})
        events = []
        for log in s.get("logs") or []:
            fields = {f["key"]: f.get("value") for f in log.get("fields") or []}
            events.append(str(fields.get("event", "")))
        spans.append(Span(span_id=s["spanID"], parent_id=parent["spanID"] if parent else None,
                          service=process.get("serviceName", "?"), name=s["operationName"],
                          start_us=int(s["startTime"]), duration_us=int(s["duration"]),
                          tags={t["key"]: t.get("value") for t in s.get("tags") or []},
                          events=events))
    return sorted(spans, key=lambda sp: (sp.start_us, sp.span_id))


def traces_of(answer: dict) -> list[dict]:
    """The traces of a query answer ({"data": [...]})."""
    return list(answer.get("data") or [])


def trace_id_of(trace: dict) -> str:
    return trace_key(trace.get("traceID") or (trace.get("spans") or [{}])[0].get("traceID", ""))


# ---------------------------------------------------------------- the end-to-end checks

def stage_problems(spans: list[Span], dead_letter_reason: str | None = None) -> list[str]:
    """What is wrong with the trace of one raw record against the contract ([] when nothing):
    one root `publish` by ingest-producer (kind producer); one `enrich` by ingest-enricher, its
    parent the publish span. Enriched (dead_letter_reason None): one `evaluate` by
    ingest-alert-evaluator and a `push` by ingest-loki-pusher, both children of enrich, and any
    other push (an alert event's) a child of the evaluate span. Dead-lettered by the enricher:
    enrich carries ingestwatch.dead_letter.reason = dead_letter_reason and status ERROR, and no
    later stage has a span."""
    problems = []
    by_id = {s.span_id: s for s in spans}

    def one(service: str) -> Span | None:
        found = [s for s in spans if s.service == service and s.name == STAGE[service]]
        if len(found) != 1:
            problems.append(f"{len(found)} {STAGE[service]!r} spans of {service} (want 1)")
            return None
        span = found[0]
        kind = span.tags.get("span.kind")
        if kind != KIND[service]:
            problems.append(f"{service}'s {span.name} has kind {kind!r} (want {KIND[service]!r})")
        return span

    strangers = sorted({f"{s.service}/{s.name}" for s in spans
                        if STAGE.get(s.service) != s.name})
    if strangers:
        problems.append(f"spans of no stage: {', '.join(strangers)}")
    publish, enrich = one(PRODUCER), one(ENRICHER)
    if publish and publish.parent_id is not None:
        problems.append(f"publish has a parent ({publish.parent_id}): it must be the root")
    if publish and enrich and enrich.parent_id != publish.span_id:
        problems.append(f"enrich's parent is {describe(by_id, enrich.parent_id)}, not publish")
    if dead_letter_reason is not None:
        if enrich:
            reason = enrich.tags.get(DEAD_LETTER_REASON)
            if reason != dead_letter_reason:
                problems.append(f"enrich's {DEAD_LETTER_REASON} is {reason!r} (the dead "
                                f"letter's dlq.reason: {dead_letter_reason!r})")
            if not is_error(enrich):
                problems.append("enrich of a dead-lettered record has no ERROR status")
        later = [s for s in spans if s.service in (EVALUATOR, PUSHER)]
        if later:
            problems.append(f"a dead-lettered record has later spans: "
                            f"{', '.join(sorted({s.service for s in later}))}")
        return problems
    evaluate = one(EVALUATOR)
    if enrich and enrich.tags.get(DEAD_LETTER_REASON):
        problems.append(f"enrich of an enriched record has {DEAD_LETTER_REASON}="
                        f"{enrich.tags[DEAD_LETTER_REASON]!r}")
    if enrich and evaluate and evaluate.parent_id != enrich.span_id:
        problems.append(f"evaluate's parent is {describe(by_id, evaluate.parent_id)}, not enrich")
    pushes = [s for s in spans if s.service == PUSHER and s.name == "push"]
    for s in pushes:
        if s.tags.get("span.kind") != "consumer":
            problems.append(f"a push has kind {s.tags.get('span.kind')!r} (want 'consumer')")
    if enrich:
        record_pushes = [s for s in pushes if s.parent_id == enrich.span_id]
        if len(record_pushes) != 1:
            problems.append(f"{len(record_pushes)} push spans children of enrich (want 1: the "
                            f"enriched record's)")
        others = [s for s in pushes if s.parent_id != enrich.span_id]
        for s in others:
            if not (evaluate and s.parent_id == evaluate.span_id):
                problems.append(f"a push's parent is {describe(by_id, s.parent_id)}, neither "
                                f"enrich nor evaluate")
    return problems


def is_error(span: Span) -> bool:
    """Span status ERROR as Jaeger shows an OTLP span's: otel.status_code=ERROR (and error)."""
    return span.tags.get("otel.status_code") == "ERROR" or span.tags.get("error") is True


def describe(by_id: dict, span_id: str | None) -> str:
    if span_id is None:
        return "none"
    span = by_id.get(span_id)
    # No id for a missing one: the same problem in many traces reads as one (stage_problems).
    return f"{span.service}/{span.name}" if span else "a span not in the trace"


# ---------------------------------------------------------------- make run's lines

def pick_trace(traces: list[dict]) -> dict | None:
    """The trace make run shows: one that went through the most of the four services, then the
    plainest (the fewest spans: a run whose evaluation wrote dozens of alert events has a push
    for each), then the earliest."""
    def rank(trace):
        spans = spans_of(trace)
        services = {s.service for s in spans} & set(SERVICES)
        return (-len(services), len(spans), min((s.start_us for s in spans), default=0))
    return min(traces, key=rank) if traces else None


def ms(us: int) -> str:
    """A duration for a person: 0.42 ms, 12.3 ms, 1.25 s."""
    if us >= 999_950:
        return f"{us / 1e6:.2f} s"
    if us >= 9_995:
        return f"{us / 1e3:.1f} ms"
    return f"{us / 1e3:.2f} ms"


def service_times(spans: list[Span]) -> tuple[dict, int, int]:
    """({service: µs inside its spans (overlaps counted once)}, the trace's extent from its
    first span's start to its last one's end, the part of it inside no span: the records
    waiting in Kafka and in the services' batches)."""
    if not spans:
        return {}, 0, 0
    def covered(intervals):
        total, end = 0, None
        for start, stop in sorted(intervals):
            if end is None or start > end:
                total += stop - start
                end = stop
            elif stop > end:
                total += stop - end
                end = stop
        return total
    per_service = {}
    for service in dict.fromkeys(s.service for s in spans):
        per_service[service] = covered([(s.start_us, s.end_us) for s in spans
                                        if s.service == service])
    first = min(s.start_us for s in spans)
    extent = max(s.end_us for s in spans) - first
    return per_service, extent, extent - covered([(s.start_us, s.end_us) for s in spans])


def tree(spans: list[Span]) -> list[tuple[int, Span]]:
    """(depth, span) in depth-first order, children by start time; a span whose parent is not in
    the trace is a root."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for s in spans:
        children.setdefault(s.parent_id if s.parent_id in ids else None, []).append(s)
    out: list[tuple[int, Span]] = []
    def walk(parent, depth):
        for s in children.get(parent, []):
            out.append((depth, s))
            walk(s.span_id, depth + 1)
    walk(None, 0)
    return out


def summary_lines(trace: dict, jaeger_url: str, max_spans: int = 10) -> list[str]:
    """make run's lines about one trace: its id, each span (service, name, start after the
    trace's first span, duration, its span events counted by name and the dead-letter reason
    it carries; the first max_spans of them), the time spent in each service and between them,
    and where to open it in Jaeger's UI."""
    spans = spans_of(trace)
    trace_id = trace_id_of(trace)
    if not spans:
        return [f"trace {trace_id}: no spans"]
    first = spans[0].start_us
    per_service, extent, between = service_times(spans)
    lines = [f"trace {trace_id}: {len(spans)} spans, {ms(extent)} from the first span's "
             f"start to the last one's end"]
    shown = tree(spans)[:max_spans]
    width = max(2 * depth + len(s.service) for depth, s in shown)
    for depth, s in shown:
        counted = Counter(e for e in s.events if e)
        notes = [name if n == 1 else f"{name} x{n}" for name, n in counted.items()]
        if s.tags.get(DEAD_LETTER_REASON):
            notes.append(f"dead-lettered: {s.tags[DEAD_LETTER_REASON]}")
        lines.append(f"  {'  ' * depth}{s.service:<{width - 2 * depth}}  {s.name:<9}"
                     f"at +{ms(s.start_us - first):<10} took {ms(s.duration_us):<9}"
                     + (f"  ({'; '.join(notes)})" if notes else "").rstrip())
    if len(spans) > len(shown):
        rest = Counter(f"{s.service} {s.name}" for _, s in tree(spans)[max_spans:])
        lines.append(f"  ... and {len(spans) - len(shown)} more: "
                     + ", ".join(f"{n} {what}" for what, n in rest.items()))
    # Wrapped between the services' figures, never inside one (\0 holds a figure together).
    figures = [f"{service} {ms(us)}".replace(" ", "\0") for service, us in per_service.items()]
    between_text = f"between them (Kafka, batching) {ms(between)}".replace(" ", "\0")
    lines += [line.replace("\0", " ") for line in textwrap.wrap(
        "time in each service: " + ", ".join(figures) + "; " + between_text, width=96,
        subsequent_indent="  ", break_on_hyphens=False)]
    url = jaeger_url.rstrip("/")
    lines.append(f"open it: {url}/trace/{trace_id}  (JSON: {url}/api/traces/{trace_id})")
    return [line.rstrip() for line in lines]
