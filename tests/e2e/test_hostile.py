#!/usr/bin/env python3
"""Tests of tests/e2e/hostile.py, the fault suite's hostile inputs and the checks on what became
of them, without a stack (CTest e2e.hostile, label unit)."""
import collections
import hashlib
import json
import sys
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile  # noqa: E402
from hostile import Item, Plan  # noqa: E402


def line(ident, source, fin, etat="SUCCESS"):
    return json.dumps(hostile.run_record(ident, source, "deals", hostile.parse_stamp(fin), etat))


def envelope(payload, partition=0, offset=0, **headers):
    return {"payload": payload, "partition": partition, "offset": offset,
            "headers": {k.replace("dlq_", "dlq.", 1): v for k, v in headers.items()}}


def epoch(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


BASE = [line(1, "Zoho", "2025-09-15 00:01:00.000"), '{"ID": 2, "Source": "Bad"}',
        line(3, "Zoho", "2025-09-15 01:00:00.000"), line(4, "Zoho", "2025-09-15 00:30:00.000"),
        line(5, "Zoho", "2025-09-21 08:00:00.000")]


class RecordsTest(unittest.TestCase):
    def test_padded_line_is_exactly_the_size_and_still_a_run(self):
        record = hostile.run_record(7, "Big", "blob", datetime(2025, 9, 15, 8))
        for size in (1_100_000, 20_000_000, len(json.dumps({**record, "Description": ""}))):
            text = hostile.padded_line(record, size)
            self.assertEqual(len(text.encode()), size)
            self.assertEqual(json.loads(text)["Source"], "Big")
        with self.assertRaises(ValueError):
            hostile.padded_line(record, 10)

    def test_stamps_keep_the_connectors_format(self):
        r = hostile.run_record(1, "S", "o", datetime(2025, 9, 15, 8, 0, 1, 250000), seconds=1.5)
        self.assertEqual((r["Debut"], r["Fin"]), ("2025-09-15 07:59:59.750",
                                                  "2025-09-15 08:00:01.250"))
        self.assertEqual(hostile.parse_stamp(r["Fin"]), datetime(2025, 9, 15, 8, 0, 1, 250000))


class ScheduleTest(unittest.TestCase):
    def test_data_clock_is_the_latest_fin_sent_so_far(self):
        base = hostile.base_schedule(BASE, 10.0)  # one line every 2 s
        clock = hostile.DataClock(base)
        self.assertEqual(clock(0), datetime(2025, 9, 15, 0, 1))
        self.assertEqual(clock(3.9), datetime(2025, 9, 15, 0, 1))   # line 2 has no Fin
        self.assertEqual(clock(4), datetime(2025, 9, 15, 1))
        self.assertEqual(clock(6), datetime(2025, 9, 15, 1))        # an earlier Fin: no step back
        self.assertEqual(clock(100), datetime(2025, 9, 21, 8))
        self.assertEqual(clock.last, datetime(2025, 9, 21, 8))
        self.assertEqual(clock(-1), datetime(2025, 9, 15, 0, 1))

    def test_hostile_items_of_the_default_plan(self):
        base = hostile.base_schedule(BASE, 200.0)
        clock = hostile.DataClock(base)
        items = hostile.hostile_items(Plan(), clock, 200.0)
        kinds = collections.Counter(i.kind for i in items)
        self.assertEqual(kinds, {"big": 2, "fast": 45, "future": 1, "flood": 2000})
        big = [i for i in items if i.kind == "big"]
        self.assertEqual([len(i.line.encode()) for i in big], [1_100_000, 20_000_000])
        flood = [json.loads(i.line) for i in items if i.kind == "flood"]
        self.assertEqual(len({r["Source"] for r in flood}), 2000)
        flood_at = [i.at for i in items if i.kind == "flood"]
        self.assertEqual((min(flood_at), max(flood_at) < 165.0), (105.0, True))
        for i in items:
            if i.kind == "fast":
                fin = hostile.parse_stamp(json.loads(i.line)["Fin"])
                self.assertEqual(fin - clock(i.at), timedelta(hours=2))
        future = [json.loads(i.line) for i in items if i.kind == "future"][0]
        self.assertTrue(future["Fin"].startswith("2261-09-21 08:00:00"))
        self.assertEqual(len({json.loads(i.line)["ID"] for i in items if i.kind != "big"}),
                         len(items) - 2)

    def test_merge_keeps_the_base_order_and_sends_by_time(self):
        base = [Item(0.0, "a"), Item(1.0, "b"), Item(1.0, "c")]
        merged = hostile.merge(base, [Item(0.5, "x", "fast"), Item(1.0, "y", "flood")])
        self.assertEqual([i.line for i in merged], ["a", "x", "b", "c", "y"])

    def test_scaled_plan(self):
        plan = Plan().scaled(100.0)
        self.assertEqual((plan.fast_from, plan.future_at, plan.flood_seconds, plan.resend_at),
                         (55.0, 92.5, 30.0, 95.0))
        self.assertEqual(plan.big, ((47.5, 1_100_000), (50.0, 20_000_000)))
        self.assertEqual(plan.flood_sources, 2000)


class AccountingTest(unittest.TestCase):
    def setUp(self):
        self.big = hostile.padded_line(hostile.run_record(9, "Big", "b", datetime(2025, 9, 15)),
                                       5000)
        self.sha = hashlib.sha256(self.big.encode()).hexdigest()
        self.lines = [BASE[0], BASE[2], self.big, BASE[3]]

    def test_every_line_accounted(self):
        raw = [envelope(BASE[0]), envelope(json.dumps(json.loads(BASE[2]))), envelope(BASE[0])]
        dead = [envelope(BASE[3], dlq_stage="producer", dlq_reason="invalid_timestamp"),
                envelope(self.big[:4096], dlq_stage="producer", dlq_reason="oversized_record",
                         dlq_original_size="5000", dlq_sha256=self.sha.upper())]
        lost, doubled, whole, by_digest = hostile.input_accounting(self.lines, raw, dead)
        self.assertEqual((sum(lost.values()), doubled, whole, by_digest), (0, 1, 1, 1))

    def test_a_digest_with_the_wrong_size_is_not_an_account(self):
        dead = [envelope(self.big[:4096], dlq_stage="enricher", dlq_reason="oversized_record",
                         dlq_original_size="4999", dlq_sha256=self.sha)]
        raw = [envelope(x) for x in (BASE[0], BASE[2], BASE[3])]
        lost, _, _, _ = hostile.input_accounting(self.lines, raw, dead)
        self.assertEqual(list(lost), [hostile.canonical(self.big)])
        ok, what = hostile.big_line_outcome(self.big, raw, dead)
        self.assertFalse(ok)
        self.assertIn("4999", what)

    def test_big_line_outcomes(self):
        letter = envelope(self.big[:10], dlq_stage="producer", dlq_reason="oversized_record",
                          dlq_original_size="5000", dlq_sha256=self.sha)
        self.assertEqual(hostile.big_line_outcome(self.big, [], [letter]), (
            True, "dead-lettered oversized_record by producer, dlq.original_size 5000, "
                  "dlq.sha256 matches"))
        self.assertTrue(hostile.big_line_outcome(self.big, [envelope(self.big)], [])[0])
        ok, what = hostile.big_line_outcome(self.big, [], [])
        self.assertFalse(ok)
        self.assertIn("neither", what)

    def test_future_outcome(self):
        future = json.dumps(hostile.run_record(990004, hostile.FUTURE_SOURCE, "orders",
                                               datetime(2261, 9, 21, 8)))
        letter = envelope(future, dlq_stage="enricher", dlq_reason="future_timestamp")
        self.assertEqual(hostile.future_outcome(future, [], [letter]),
                         (True, "dead-lettered future_timestamp by enricher"))
        enriched = [envelope('{"source":{"name":"ChaosFutureYear"},"id":"990004"}')]
        self.assertFalse(hostile.future_outcome(future, enriched, [])[0])
        other = envelope(future, dlq_stage="enricher", dlq_reason="invalid_timestamp")
        self.assertFalse(hostile.future_outcome(future, [], [other])[0])

    def test_dedupe_expected(self):
        a1, a2 = envelope("a-1", offset=1), envelope("a-2", offset=2)   # a resend: one event
        b1, b2 = envelope("b-1", offset=3), envelope("b-2", offset=4)   # a resend, none stored
        c = envelope("c", offset=5)
        ids = {"a-1": "a", "a-2": "a", "b-1": "b", "b-2": "b", "c": "c"}
        records, dropped = hostile.dedupe_expected(
            [a1, a2, b1, b2, c], collections.Counter({"a-2": 1, "c": 1}),
            lambda r: ids[r["payload"]])
        self.assertEqual(([r["offset"] for r in records], dropped), ([2, 3, 4, 5], 1))


class ScenarioAlertsTest(unittest.TestCase):
    EXPECTED = [
        {"alertname": "IngestionFailureDetected", "labels": {"source": "S", "objet": "deals"},
         "starts_at": "2025-09-21T08:35:02.154Z", "resolved_at": "2025-09-21T08:40:02.154Z"},
        {"alertname": "IngestionSourceSilent", "labels": {"source": "S"},
         "starts_at": "2025-09-21T11:15:00.000Z", "resolved_at": None}]

    def event(self, status, alertname, starts, ends=None, source="S", **labels):
        return {"status": status, "startsAt": starts, "endsAt": ends or "0001-01-01T00:00:00Z",
                "labels": {"alertname": alertname, "severity": "critical", "source": source,
                           **labels}}

    def test_exact_episodes(self):
        events = [self.event("firing", "IngestionFailureDetected", "2025-09-21T08:35:02.154Z",
                             objet="deals"),
                  self.event("resolved", "IngestionFailureDetected", "2025-09-21T08:35:02.154Z",
                             "2025-09-21T08:40:02.154Z", objet="deals"),
                  # Another source's alerts are not compared.
                  self.event("firing", "IngestionSourceSilent", "2025-09-21T09:00:00.000Z",
                             source="ChaosFastClock")]
        due, missing, unexpected = hostile.scenario_alerts(
            events, self.EXPECTED, epoch("2025-09-21T10:00:00Z"), epoch)
        self.assertEqual((due, missing, unexpected), (2, [], []))
        # The silence is due later; once due, its absence is a miss.
        due, missing, _ = hostile.scenario_alerts(events, self.EXPECTED,
                                                  epoch("2025-09-21T11:15:00Z"), epoch)
        self.assertEqual((due, [hostile.describe_key(k) for k in missing]), (3, [
            "IngestionSourceSilent {'source': 'S'} firing at 2025-09-21T11:15:00.000Z"]))

    def test_a_shifted_or_extra_transition_is_unexpected(self):
        events = [self.event("firing", "IngestionFailureDetected", "2025-09-21T08:35:03.000Z",
                             objet="deals"),
                  self.event("firing", "IngestionHighFailureRate", "2025-09-21T08:35:02.154Z")]
        due, missing, unexpected = hostile.scenario_alerts(
            events, self.EXPECTED, epoch("2025-09-21T10:00:00Z"), epoch)
        self.assertEqual((due, len(missing), len(unexpected)), (2, 2, 2))



class BaselineTest(unittest.TestCase):
    @staticmethod
    def enriched(event_id, source, end):
        return json.dumps({"event": {"id": event_id, "end": end}, "source": {"name": source}})

    def test_baseline_input(self):
        payloads = [self.enriched("a", "Zoho", "2025-09-15T00:02:00.000Z"),
                    self.enriched("b", "Zoho", "2025-09-15T00:01:00.000Z"),
                    self.enriched("a", "Zoho", "2025-09-15T00:02:00.000Z"),    # a resend
                    self.enriched("c", "ChaosFastClock", "2025-09-15T02:00:00.000Z"),
                    self.enriched("d", "ChaosFlood0001", "2025-09-15T00:00:00.000Z"),
                    self.enriched("e", "_other", "2025-09-15T00:00:00.000Z"),
                    self.enriched("f", "SharePoint", "2025-09-15T00:01:00.000Z")]
        ids = [json.loads(p)["event"]["id"] for p in hostile.baseline_input(payloads)]
        self.assertEqual(ids, ["b", "f", "a"])

    def test_compare_transitions(self):
        def event(status, source, starts, ends=None):
            return {"status": status, "startsAt": starts, "endsAt": ends,
                    "labels": {"alertname": "IngestionSourceSilent", "source": source}}
        baseline = [event("firing", "Zoho", "2025-09-18T01:00:00.000Z"),
                    event("resolved", "Zoho", "2025-09-18T01:00:00.000Z",
                          "2025-09-18T02:00:00.000Z"),
                    event("firing", "Late", "2025-09-27T00:00:00.000Z")]   # after due_until
        live = [baseline[0], event("firing", "ChaosFastClock", "2025-09-18T01:00:00.000Z"),
                event("firing", "_other", "2025-09-18T01:00:00.000Z"),
                event("firing", "SharePoint", "2025-09-18T03:00:00.000Z")]
        compared, missing, extra = hostile.compare_transitions(
            live, baseline, epoch("2025-09-26T00:00:00Z"), epoch)
        self.assertEqual(compared, 2)
        self.assertEqual([hostile.describe_key(k) for k in missing], [
            "IngestionSourceSilent {'source': 'Zoho'} resolved at 2025-09-18T02:00:00.000Z"])
        self.assertEqual([hostile.describe_key(k) for k in extra], [
            "IngestionSourceSilent {'source': 'SharePoint'} firing at 2025-09-18T03:00:00.000Z"])

class FakeProducer:
    """A producer whose stdin is a list; `confirmed` records delivered, as its /metrics says."""

    def __init__(self, confirmed=0):
        self.written, self.confirmed, self.killed = [], confirmed, False
        self.metrics_url = self
        producer = self

        class Stdin:
            def write(self, text):
                if producer.killed:
                    raise BrokenPipeError
                producer.written.append(text)

            def flush(self):
                pass

        class Proc:
            stdin = Stdin()

            def kill(self):
                producer.killed = True

            def wait(self):
                return -9

        self.proc = Proc()

    def finish(self):
        return {"read": len(self.written)}


try:
    import yaml  # noqa: F401  (chaos.py reads data/scenarios/expected.yaml)
except ImportError:
    yaml = None


@unittest.skipIf(yaml is None, "PyYAML is missing (Debian: python3-yaml)")
class FeedTest(unittest.TestCase):
    def setUp(self):
        import chaos
        self.chaos = chaos
        self.producers = [FakeProducer(confirmed=4), FakeProducer()]
        made = iter(self.producers)
        self.feed = chaos.Feed([Item(0.0, f"l{i}") for i in range(8)], lambda: next(made))
        self.saved = chaos.http_text
        chaos.http_text = lambda producer: (
            f"ingestwatch_records_out_total{{topic=\"t\"}} {producer.confirmed - 1}\n"
            f"ingestwatch_records_dead_lettered_total{{reason=\"r\"}} 1\n")

    def tearDown(self):
        self.chaos.http_text = self.saved

    def test_a_killed_producers_unconfirmed_lines_go_to_the_next_then_a_resend(self):
        first, second = self.producers
        self.feed.items, rest = self.feed.items[:6], self.feed.items[6:]
        self.feed.run()
        self.assertEqual(first.written, [f"l{i}\n" for i in range(6)])
        self.assertEqual(self.feed.kill_producer(),
                         "2 records sent again (unconfirmed when killed)")
        self.feed.items += rest
        self.feed.run()
        self.assertEqual(second.written, ["l4\n", "l5\n", "l6\n", "l7\n"])
        self.assertEqual(self.feed.resend(3),
                         "the last 3 records given to the producer sent again")
        self.assertEqual(second.written[4:], ["l5\n", "l6\n", "l7\n"])
        self.feed.thread.start()  # nothing left to send: ends at once
        self.assertEqual(self.feed.finish(), {"read": 7})


if __name__ == "__main__":
    unittest.main()
