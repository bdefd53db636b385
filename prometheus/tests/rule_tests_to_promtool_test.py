#!/usr/bin/env python3
"""Unit tests of rule_tests_to_promtool.py: what the series hold, sample by sample."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rule_tests_to_promtool as conv  # noqa: E402

T0 = conv.parse_instant_ms("2025-10-06T07:00:00Z", "t0")
SECOND = 1000


def series_values(series, metric_prefix):
    return {s["series"]: s["values"] for s in series if s["series"].startswith(metric_prefix)}


class InstantTest(unittest.TestCase):
    def test_naive_is_utc_and_offsets_apply(self):
        a = conv.parse_instant_ms("2025-09-21 08:35:02.154", "x")
        self.assertEqual(a, conv.parse_instant_ms("2025-09-21T08:35:02.154Z", "x"))
        self.assertEqual(a, conv.parse_instant_ms("2025-09-21T10:35:02.154+02:00", "x"))
        self.assertEqual(a, conv.parse_instant_ms("2025-09-21T03:35:02.154-0500", "x"))

    def test_fraction_is_floored_to_the_millisecond(self):
        self.assertEqual(conv.parse_instant_ms("1970-01-01T00:00:01.999999999Z", "x"), 1999)

    def test_bad_timestamps_are_errors(self):
        for text in ("2025-02-30 10:00:00", "10:00", 42):
            with self.assertRaises(conv.ConversionError):
                conv.parse_instant_ms(text, "x")


class RawRecordTest(unittest.TestCase):
    def record(self, **fields):
        base = {"Source": "Zoho", "Objet": "deals", "Etat": "SUCCESS",
                "Debut": "2025-09-21 08:00:00.000", "Fin": "2025-09-21 08:00:02.500",
                "Duree secondes": 2.5, "cpu_time": 0.2, "memory_used": 1048576}
        base.update(fields)
        return {k: v for k, v in base.items() if v is not ...}

    def test_tau_is_fin(self):
        run = conv.run_from_raw(self.record(), "r")
        self.assertEqual(run.tau_ms, conv.parse_instant_ms("2025-09-21T08:00:02.500Z", "x"))
        self.assertEqual((run.duration, run.cpu, run.memory), (2.5, 0.2, 1048576.0))

    def test_tau_is_debut_plus_duree_without_fin(self):
        run = conv.run_from_raw(self.record(Fin=..., **{"Duree secondes": "1,25"}), "r")
        self.assertEqual(run.tau_ms, conv.parse_instant_ms("2025-09-21T08:00:01.250Z", "x"))
        self.assertEqual(run.duration, 1.25)

    def test_duree_from_fin_minus_debut(self):
        run = conv.run_from_raw(self.record(**{"Duree secondes": ...}), "r")
        self.assertEqual(run.duration, 2.5)

    def test_etat_mapping(self):
        for word, etat in (("échec", "FAILED"), (" Error ", "FAILED"), ("Warning", "SUCCESS"),
                           ("ok", "SUCCESS"), ("PENDING", "RUNNING"), ("ÉCHEC", "FAILED")):
            self.assertEqual(conv.run_from_raw(self.record(Etat=word), "r").etat, etat, word)

    def test_dead_lettered_records_are_left_out(self):
        for record in (self.record(Etat="MAYBE"), self.record(Source=""),
                       self.record(Objet=...), self.record(Fin="2025-09-21 07:59:00"),
                       self.record(Fin=..., **{"Duree secondes": -1}),
                       self.record(Fin=..., **{"Duree secondes": ...}), "not a record"):
            self.assertIsNone(conv.run_from_raw(record, "r"), record)

    def test_scenario_files_parse_whole(self):
        scenarios = conv.REPO / "data" / "scenarios"
        counts = {p.name: len(conv.read_runs_file(p)) for p in scenarios.glob("*.ndjson")}
        self.assertEqual(counts["rule1-failure-detected.ndjson"], 37)
        self.assertEqual(counts["rule2-high-failure-rate.ndjson"], 181)
        self.assertEqual(counts["rule5-resource-overuse.ndjson"], 126)


class SeriesTest(unittest.TestCase):
    buckets = conv.read_buckets(conv.BUSINESS_METRICS)

    def test_buckets_are_the_enrichers_with_bounds_at_the_thresholds(self):
        self.assertIn(60.0, self.buckets["duration"])
        self.assertIn(60.0, self.buckets["cpu"])
        self.assertIn(157286400.0, self.buckets["memory"])

    def test_encode(self):
        self.assertEqual(conv.encode([None, None, "1", "1", "1", "2"]), "_x2 1+0x2 2")
        self.assertEqual(conv.encode([None, "3"]), "_ 3")

    def test_samples_hold_the_runs_ended_by_then(self):
        # Grid 0, 15, 30, 45, 60 s after T0; FAILED runs end at 20 s and 45 s (on a sample).
        runs = [conv.Run("Zoho", "deals", "FAILED", T0 + 20 * SECOND, 0.7, None, 150.0),
                conv.Run("Zoho", "deals", "FAILED", T0 + 45 * SECOND, 61.0, None, None)]
        series = conv.input_series(runs, T0, 15 * SECOND, 5, self.buckets)
        target = ',job="ingest-enricher",instance="ingest-enricher:9464"}'

        counters = series_values(series, "ingestion_runs_total")
        self.assertEqual(counters, {
            'ingestion_runs_total{source="Zoho",objet="deals",etat="FAILED"' + target:
                "_x2 1 2+0x1"})

        duration = series_values(series, "ingestion_run_duration_seconds")
        self.assertEqual(duration['ingestion_run_duration_seconds_bucket{source="Zoho",le="0.5"'
                                  + target], "_x2 0+0x2")
        self.assertEqual(duration['ingestion_run_duration_seconds_bucket{source="Zoho",le="1"'
                                  + target], "_x2 1+0x2")
        self.assertEqual(duration['ingestion_run_duration_seconds_bucket{source="Zoho",le="60"'
                                  + target], "_x2 1+0x2")
        self.assertEqual(duration['ingestion_run_duration_seconds_bucket{source="Zoho",le="90"'
                                  + target], "_x2 1 2+0x1")
        self.assertEqual(duration['ingestion_run_duration_seconds_bucket{source="Zoho",le="+Inf"'
                                  + target], "_x2 1 2+0x1")
        self.assertEqual(duration['ingestion_run_duration_seconds_count{source="Zoho"' + target],
                         "_x2 1 2+0x1")
        self.assertEqual(duration['ingestion_run_duration_seconds_sum{source="Zoho"' + target],
                         "_x2 0.7 61.7+0x1")

        # cpu: no run has it, the histogram exists (created with the source) and stays empty.
        cpu = series_values(series, "ingestion_run_cpu_seconds_count")
        self.assertEqual(list(cpu.values()), ["_x2 0+0x2"])
        memory = series_values(series, "ingestion_run_memory_bytes_bucket")
        self.assertEqual(memory['ingestion_run_memory_bytes_bucket{source="Zoho",le="157286400"'
                                + target], "_x2 1+0x2")

        # The gauge is the latest τ in promtool's seconds (T0 = 0).
        gauge = series_values(series, "ingestion_last_run_timestamp_seconds")
        self.assertEqual(list(gauge.values()), ["_x2 20 45+0x1"])

    def test_out_of_order_runs_give_the_same_series(self):
        runs = [conv.Run("Zoho", "deals", etat, T0 + s * SECOND, 1.0, 0.5, 1e6)
                for etat, s in (("SUCCESS", 10), ("FAILED", 40), ("RUNNING", 25))]
        a = conv.input_series(runs, T0, 15 * SECOND, 6, self.buckets)
        b = conv.input_series(list(reversed(runs)), T0, 15 * SECOND, 6, self.buckets)
        self.assertEqual(a, b)


@unittest.skipIf(conv.yaml is None, "PyYAML is missing")
class AnnotationsTest(unittest.TestCase):
    def test_summaries_are_kept_and_rendered(self):
        _, rules = conv.rules_for_tests(conv.DEFAULT_RULES)
        self.assertTrue(all(set(r.get("annotations", {})) <= {"summary"} for r in rules))
        labels = {"severity": "warning", "source": "Zoho", "resource": "cpu"}
        self.assertEqual(
            conv.expected_annotations("IngestionResourceOveruse", labels, None, rules, "x"),
            {"summary": "Zoho: p95 CPU time above 60 s"})


if __name__ == "__main__":
    unittest.main()
