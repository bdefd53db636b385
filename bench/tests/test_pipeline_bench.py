#!/usr/bin/env python3
"""Tests of bench/pipeline_bench.py's pure parts: a row's bar and verdict, the CPU shares under
the table, the median round, histogram_quantile over the increase between two scrapes, and the
tracing rows (the producer's tracing environment, span counts, the rows and their note). The
benchmark itself needs the whole stack and runs in make bench."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pipeline_bench as pb  # noqa: E402


class RowTest(unittest.TestCase):
    def test_without_a_bar_the_ratio_is_reported(self):
        self.assertEqual(pb.row("m", 3.0, 2.0), "| m | 3 | 2 | 1.50 | — | reported |")
        self.assertEqual(pb.row("m", 3.0, None), "| m | 3 | — | — | — | reported |")

    def test_an_at_most_bar_is_met_up_to_its_value_and_missed_above(self):
        self.assertEqual(pb.row("m", 15.0, 10.0, digits=2, at_most=1.5),
                         "| m | 15.00 | 10.00 | 1.50 | <= 1.50 | met |")
        self.assertEqual(pb.row("m", 27.1, 10.2, digits=1, at_most=1.5),
                         "| m | 27.1 | 10.2 | 2.66 | <= 1.50 | MISSED |")
        self.assertEqual(pb.row("m", 1.0, 0, at_most=1.5), "| m | 1 | 0 | — | <= 1.50 | — |")


class CpuSharesTest(unittest.TestCase):
    def test_each_process_per_million_share_of_the_side_and_of_a_core(self):
        run = {"rate": 20000, "seconds": 5.0,
               "cpu": {"producer": 0.5, "relay": 1.0, "sink": 0.5, "kafka": 3.0}}
        self.assertEqual(
            pb.cpu_shares(run, pb.RAW_LABELS, 100000),
            "raw producer 5.00 CPU-s/M (10 % of the side, 10 % of a core at that rate), "
            "raw relay 10.00 CPU-s/M (20 % of the side, 20 % of a core at that rate), "
            "raw sink 5.00 CPU-s/M (10 % of the side, 10 % of a core at that rate), "
            "Kafka 30.00 CPU-s/M (60 % of the side, 60 % of a core at that rate)")

    def test_the_median_round_by_records_per_second(self):
        runs = [{"rate": 3}, {"rate": 1}, {"rate": 2}]
        self.assertEqual(pb.median_run(runs), {"rate": 2})


class HistogramQuantileTest(unittest.TestCase):
    def test_interpolated_in_the_bucket_of_the_increase(self):
        before = {0.1: 10.0, 0.2: 10.0, float("inf"): 10.0}
        after = {0.1: 10.0, 0.2: 20.0, float("inf"): 20.0}  # ten new, all in (0.1, 0.2]
        self.assertAlmostEqual(pb.histogram_quantile(0.5, before, after), 0.15)
        self.assertIsNone(pb.histogram_quantile(0.5, after, after))


class TracingTest(unittest.TestCase):
    def test_span_counts_sum_every_reason_and_service(self):
        a = ("ingestwatch_trace_spans_exported_total 10\n"
             'ingestwatch_trace_spans_dropped_total{reason="queue_full"} 2\n'
             'ingestwatch_trace_spans_dropped_total{reason="export_failed"} 1\n')
        b = "ingestwatch_trace_spans_exported_total 5\n"
        self.assertEqual(pb.span_counts([a, b]), {"exported": 15, "dropped": 3})

    @staticmethod
    def run_of(rate, cpu):
        return {"rate": rate, "cpu": {"producer": cpu, "enricher": cpu, "loki-pusher": cpu,
                                      "alert-evaluator": cpu},
                "spans": {"exported": 0, "dropped": 0}}

    def test_rows_are_tracing_on_over_off_medians(self):
        off = [self.run_of(1000, 1.0), self.run_of(1200, 2.0), self.run_of(800, 3.0)]
        on = [self.run_of(950, 2.2), self.run_of(1100, 2.0), self.run_of(500, 9.0)]
        rate, cpu = pb.tracing_rows(off, on, 100000, "thr")
        self.assertTrue(rate.startswith("| end to end records/s (thr) with tracing at the "
                                        "default sampling"))
        self.assertTrue(rate.endswith("| 950 | 1000 | 0.95 | — | reported |"), rate)
        # (4 x 2.2 s) per 100000 records = 88 CPU-s per million, against 4 x 2.0 -> 80.
        self.assertTrue(cpu.endswith("| 88.00 | 80.00 | 1.10 | — | reported |"), cpu)

    def test_the_note_counts_spans_and_says_when_none_left(self):
        on = [self.run_of(1, 1), self.run_of(1, 1)]
        on[0]["spans"] = {"exported": 2900, "dropped": 4}
        on[1]["spans"] = {"exported": 3100, "dropped": 0}
        note = pb.tracing_note(on, 100000)
        self.assertIn("exported 6000 spans and dropped 4 (about 6000 expected", note)
        self.assertNotIn("NO SPAN", note)
        self.assertNotIn("Jaeger took", note)  # a stack without Jaeger's pid
        on[0]["cpu"]["jaeger"], on[1]["cpu"]["jaeger"] = 0.2, 0.4
        self.assertIn("Jaeger took 3.00 CPU-s per million records",
                      pb.tracing_note(on, 100000))
        on[0]["spans"] = on[1]["spans"] = {"exported": 0, "dropped": 0}
        self.assertIn("NO SPAN WAS EXPORTED", pb.tracing_note(on, 100000))


if __name__ == "__main__":
    unittest.main()
