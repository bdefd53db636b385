#!/usr/bin/env python3
"""Tests of the seed design's enrichment (bench/seed_enricher.py, `enrich`): that the benchmark's
Python peer writes what ingest-enricher writes. Every accepted golden case of
tests/golden/enricher (ingest-enricher's contract, byte for byte) must come out the same,
except `event.id` (BLAKE2b here, XXH3 there: the same shape) and `pipeline.enricher`; and the
defects the seed checks are dead-lettered with ingest-enricher's reasons. Standard library
only: the Kafka and Prometheus parts are not imported."""

import re
import sys
import unittest
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
GOLDEN = BENCH.parent / "tests/golden/enricher"
sys.path.insert(0, str(BENCH))
import seed_enricher  # noqa: E402

# The golden files' fixed options (tests/golden/README.md).
ORIGIN = {"topic": "ingestion-logs", "partition": 3, "offset": 42,
          "processed_at": datetime(2025, 9, 15, 12, tzinfo=timezone.utc)}
EVENT_ID = re.compile(r'"id":"[0-9a-f]{32}"')


def raw_of(path: Path) -> bytes:
    raw = path.read_bytes()
    return raw[:-1] if raw.endswith(b"\n") else raw


def enrich(raw: bytes, execution_id="0f8c2d1e-golden") -> str:
    out, _ = seed_enricher.enrich(raw, execution_id=execution_id, **ORIGIN)
    return out.decode()


class GoldenTest(unittest.TestCase):
    def test_every_accepted_golden_case_is_written_as_ingest_enricher_writes_it(self):
        cases = sorted(GOLDEN.glob("ok-*.input.json"))
        self.assertGreater(len(cases), 40)
        for case in cases:
            with self.subTest(case.name):
                expected = (GOLDEN / case.name.replace(".input.json", ".output.json")
                            ).read_text().rstrip("\n")
                got = enrich(raw_of(case))
                self.assertRegex(got, EVENT_ID)
                got = EVENT_ID.sub('"id":"-"', got, count=1).replace(
                    f'"enricher":"{seed_enricher.VERSION}"', '"enricher":"0.1.0"')
                self.assertEqual(got, EVENT_ID.sub('"id":"-"', expected, count=1))

    def test_event_id_is_stable_for_the_same_bytes_and_changes_with_one_byte(self):
        raw = raw_of(GOLDEN / "ok-brief_example.input.json")
        first = EVENT_ID.search(enrich(raw)).group()
        self.assertEqual(EVENT_ID.search(enrich(raw)).group(), first)
        self.assertNotEqual(EVENT_ID.search(enrich(raw + b" ")).group(), first)

    def test_no_execution_id_is_null(self):
        raw = raw_of(GOLDEN / "ok-brief_example.input.json")
        self.assertIn('"execution_id":null,', enrich(raw, execution_id=None))

    def test_facts_for_the_metrics(self):
        _, facts = seed_enricher.enrich(raw_of(GOLDEN / "ok-brief_example.input.json"),
                                        execution_id=None, **ORIGIN)
        self.assertEqual(facts["source"], "PowerBI")
        self.assertEqual(facts["etat"], "SUCCESS")
        self.assertEqual(facts["memory"], 5849088)
        self.assertEqual(facts["end"], datetime(2025, 9, 15, 10, 30, 1, 154000,
                                                tzinfo=timezone.utc).timestamp())


class DefectTest(unittest.TestCase):
    BASE = ('"Source": "PowerBI", "Objet": "workspaces", "Etat": "SUCCESS", '
            '"Debut": "2025-09-15 10:30:00.000"')

    def reason(self, raw: bytes) -> str:
        with self.assertRaises(seed_enricher.Defect) as caught:
            seed_enricher.enrich(raw, execution_id=None, **ORIGIN)
        return caught.exception.reason

    def test_reasons(self):
        cases = {
            b'{"Source": ': "invalid_json",
            b"[1, 2]": "not_an_object",
            ('{"Objet": "w", "Etat": "OK", "Debut": "2025-09-15 10:30:00", "Fin": '
             '"2025-09-15 10:31:00"}').encode(): "missing_field",
            ("{" + self.BASE + ', "Fin": 5}').encode(): "wrong_type",
            ("{" + self.BASE + ', "Fin": "yesterday"}').encode(): "invalid_timestamp",
            ("{" + self.BASE + ', "Duree secondes": "n/a"}').encode(): "invalid_number",
            ("{" + self.BASE.replace("SUCCESS", "MAYBE") + ', "Duree secondes": 1}').encode():
                "invalid_etat",
            ("{" + self.BASE + "}").encode(): "missing_end",
            ("{" + self.BASE + ', "Duree secondes": -0.8}').encode(): "negative_duration",
            ("{" + self.BASE + ', "Fin": "2025-09-15 10:29:00"}').encode(): "end_before_start",
        }
        for raw, reason in cases.items():
            with self.subTest(raw):
                self.assertEqual(self.reason(raw), reason)

    def test_golden_defects_of_the_reasons_it_checks_are_rejected_with_that_reason(self):
        checked = {"not_an_object", "missing_field", "invalid_etat", "missing_end",
                   "negative_duration", "end_before_start"}
        cases = [c for c in sorted(GOLDEN.glob("defect-*.input.json"))
                 if c.name.split("-")[1] in checked]
        self.assertGreater(len(cases), 5)
        for case in cases:
            with self.subTest(case.name):
                self.assertEqual(self.reason(raw_of(case)), case.name.split("-")[1])


if __name__ == "__main__":
    unittest.main()
