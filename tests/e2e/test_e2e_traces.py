#!/usr/bin/env python3
"""The end-to-end test's and the fault suite's trace parts without a stack (label unit): which
records' traces it looks up (e2e_support.TraceSample), the polling of Jaeger's query API
(trace_problems) against a fake Jaeger serving the hand-written answers of scripts/tests/data/
(Jaeger v1.75.0's format), which answers 404 until a trace "arrives"; the hung collector of the
fault suite (chaos.HungPort) and the end offsets it reads (kcat -Q)."""
import copy
import http.server
import json
import socket
import threading
import time
import unittest
import urllib.request

import chaos
from e2e_support import (REPO, TraceSample, describe_trace_problems, parse_end_offsets,
                         trace_problems)

DATA = REPO / "scripts/tests/data"
WHOLE = json.loads((DATA / "jaeger-trace.json").read_text())
DEAD = json.loads((DATA / "jaeger-dead-lettered.json").read_text())
T1 = "4bf92f3577b34da6a3ce929d0e0e4736"
T2 = "00000000000000005e1c0b2a9d8f7e6d"


def tp(trace_id: str, flags: str = "01") -> str:
    return f"00-{trace_id}-00f067aa0ba902b7-{flags}"


def record(partition: int, offset: int, **headers) -> dict:
    return {"partition": partition, "offset": offset, "headers": headers, "payload": "{}"}


def hexid(n: int) -> str:
    return f"{n:032x}"


class SampleTest(unittest.TestCase):
    def test_spread_alerts_and_every_reason_first(self):
        raw = [record(0, i, traceparent=tp(hexid(i + 1))) for i in range(100)]
        raw.append(record(1, 0, traceparent=tp(hexid(999), "00")))
        enriched = [record(0, i, traceparent=tp(hexid(i + 1), "01")) for i in range(90)]
        alerts = [record(0, 0, traceparent=tp(hexid(5))), record(0, 1, traceparent=tp(hexid(5))),
                  record(0, 2, traceparent=tp(hexid(5000))),  # a trace of no raw record
                  record(0, 3, traceparent=tp(hexid(77)))]
        dead = [
            # Its own traceparent names the trace.
            record(0, 0, **{"dlq.stage": "enricher", "dlq.reason": "invalid_json",
                            "dlq.partition": "0", "dlq.offset": "90",
                            "traceparent": tp(hexid(91))}),
            # None: the raw record it names gives it.
            record(0, 1, **{"dlq.stage": "enricher", "dlq.reason": "schema_violation",
                            "dlq.partition": "0", "dlq.offset": "91"}),
            record(0, 2, **{"dlq.stage": "enricher", "dlq.reason": "invalid_json",
                            "dlq.partition": "0", "dlq.offset": "92",
                            "traceparent": tp(hexid(93))}),
            record(0, 3, **{"dlq.stage": "producer", "dlq.reason": "missing_source"}),
            record(0, 4, **{"dlq.stage": "loki-pusher", "dlq.reason": "too_far_behind",
                            "traceparent": tp(hexid(3))}),
        ]
        sample = TraceSample(raw, enriched, dead, alerts, per_kind=2)
        self.assertEqual(sample.unsampled, 1)
        # Two spread enriched records (offsets 0 and 45), then two alert traces (5, 77).
        self.assertEqual(list(sample.enriched), [hexid(1), hexid(46), hexid(5), hexid(77)])
        # One of each reason before a second of any, per_kind in all.
        self.assertEqual(sample.dead_lettered, {hexid(91): "invalid_json",
                                                hexid(92): "schema_violation"})
        self.assertEqual(sample.wanted()[hexid(92)], "schema_violation")
        self.assertIsNone(sample.wanted()[hexid(1)])

    def test_nothing(self):
        sample = TraceSample([], [], [], [])
        self.assertEqual((sample.unsampled, sample.wanted()), (0, {}))


class FakeJaeger:
    """GET /api/traces/<id>: 404 until the trace has been asked for `after` times."""

    def __init__(self, answers: dict, after: int = 0):
        self.answers, self.after, self.asked = answers, after, {}
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                trace_id = self.path.rsplit("/", 1)[-1]
                fake.asked[trace_id] = fake.asked.get(trace_id, 0) + 1
                if trace_id in fake.answers and fake.asked[trace_id] > fake.after:
                    code, body = 200, fake.answers[trace_id]
                else:
                    code, body = 404, {"data": None, "errors": [{"code": 404,
                                                                  "msg": "trace not found"}]}
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class PollTest(unittest.TestCase):
    def jaeger(self, answers, after=0) -> FakeJaeger:
        fake = FakeJaeger(answers, after)
        self.addCleanup(fake.close)
        return fake

    def test_waits_for_traces_that_arrive_late(self):
        fake = self.jaeger({T1: WHOLE, T2: DEAD}, after=2)
        self.assertEqual(trace_problems(fake.url, {T1: None, T2: "invalid_json"}, 10), {})
        self.assertEqual(fake.asked, {T1: 3, T2: 3})  # asked until found, then no more

    def test_what_never_passes(self):
        broken = copy.deepcopy(WHOLE)
        for span in broken["data"][0]["spans"]:
            if span["operationName"] == "evaluate":
                span["references"][0]["spanID"] = "00f067aa0ba902b7"
        fake = self.jaeger({T1: broken, T2: DEAD})
        absent = "0" * 31 + "1"
        problems = trace_problems(fake.url, {T1: None, T2: "oversized_record", absent: None},
                                  1.5)
        self.assertEqual(problems[T1], ["evaluate's parent is ingest-producer/publish, not enrich"])
        self.assertEqual(problems[absent], ["not in Jaeger"])
        self.assertEqual(len(problems[T2]), 1)
        self.assertGreaterEqual(fake.asked[absent], 2)  # polled until the deadline
        text = describe_trace_problems(problems)
        self.assertIn("1 x not in Jaeger (e.g. " + absent + ")", text)


class CollectorOutageTest(unittest.TestCase):
    def test_a_hung_port_takes_an_export_and_never_answers(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        hung = chaos.HungPort(port)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/traces", data=b"{}" * 1000,
                                         headers={"Content-Type": "application/json"})
        t0 = time.monotonic()
        with self.assertRaises(OSError):  # the client's timeout, not a refusal
            urllib.request.urlopen(request, timeout=1)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertEqual(len(hung.held), 1)
        hung.close()
        # The port is free again at once: the collector binds it back.
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
            again.listen(1)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)

    def test_end_offsets(self):
        text = ("ingestion-logs-enriched [0] offset 412\n"
                "ingestion-logs-enriched [1] offset 398\n"
                "ingestion-logs-enriched [2] offset 0\n")
        self.assertEqual(parse_end_offsets(text), {0: 412, 1: 398, 2: 0})
        self.assertEqual(parse_end_offsets(""), {})


if __name__ == "__main__":
    unittest.main()
