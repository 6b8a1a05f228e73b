"""Unit tests of ovstats (run: /usr/bin/python3 -m unittest test_stats, or
cpu_http.py --self-test). No privileges, no network."""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ovstats  # noqa: E402


class Median(unittest.TestCase):
    def test_odd_even(self):
        self.assertEqual(ovstats.median([3, 1, 2]), 2)
        self.assertEqual(ovstats.median([4, 1, 3, 2]), 2.5)
        with self.assertRaises(ValueError):
            ovstats.median([])

    def test_quantile_matches_linear_interpolation(self):
        v = [10, 20, 30, 40]
        self.assertEqual(ovstats.quantile(v, 0), 10)
        self.assertEqual(ovstats.quantile(v, 1), 40)
        self.assertAlmostEqual(ovstats.quantile(v, 0.5), 25)
        self.assertAlmostEqual(ovstats.quantile(v, 0.25), 17.5)


class Bootstrap(unittest.TestCase):
    def test_constant_data_gives_a_point(self):
        self.assertEqual(ovstats.bootstrap_ci([0.7] * 8), (0.7, 0.7))

    def test_single_value(self):
        self.assertEqual(ovstats.bootstrap_ci([3.0]), (3.0, 3.0))

    def test_interval_brackets_median_and_stays_in_range(self):
        v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        lo, hi = ovstats.bootstrap_ci(v, n_boot=2000)
        self.assertLessEqual(lo, ovstats.median(v))
        self.assertGreaterEqual(hi, ovstats.median(v))
        self.assertGreaterEqual(lo, 1)
        self.assertLessEqual(hi, 10)
        self.assertLess(lo, hi)

    def test_deterministic_per_seed(self):
        v = [0.1, 0.5, -0.2, 0.3, 0.9]
        self.assertEqual(ovstats.bootstrap_ci(v, seed=4), ovstats.bootstrap_ci(v, seed=4))

    def test_coverage_of_a_known_median(self):
        # Normal data with median 5: a 95 % interval of the median of 30
        # values should contain 5 in most of 100 independent samples (the
        # percentile bootstrap of a median is somewhat liberal: accept >= 85).
        rng = random.Random(11)
        hits = 0
        for k in range(100):
            sample = [rng.gauss(5.0, 2.0) for _ in range(30)]
            lo, hi = ovstats.bootstrap_ci(sample, n_boot=400, seed=k)
            hits += lo <= 5.0 <= hi
        self.assertGreaterEqual(hits, 85)
        self.assertLess(hits, 100 + 1)

    def test_width_shrinks_with_more_data(self):
        rng = random.Random(3)
        small = [rng.gauss(0, 1) for _ in range(10)]
        large = [rng.gauss(0, 1) for _ in range(400)]
        ws = ovstats.bootstrap_ci(small, n_boot=1000)
        wl = ovstats.bootstrap_ci(large, n_boot=1000)
        self.assertLess(wl[1] - wl[0], ws[1] - ws[0])

    def test_summarise_scales_and_drops_missing(self):
        s = ovstats.summarise_values([0.01, None, 0.03, 0.02], scale=100.0, n_boot=500)
        self.assertEqual(s["rounds"], 3)
        self.assertAlmostEqual(s["median"], 2.0)
        self.assertLessEqual(s["ci95"][0], 2.0)
        self.assertIsNone(ovstats.summarise_values([None]))

    def test_paired_ratio(self):
        r = ovstats.paired_ratio_ci([2, 4, 6], [1, 2, 3], n_boot=500)
        self.assertAlmostEqual(r["median"], 2.0)
        self.assertEqual(r["ci95"], [2.0, 2.0])  # every pair has ratio 2
        self.assertIsNone(ovstats.paired_ratio_ci([1], [0]))


class Parsers(unittest.TestCase):
    def test_cpu_stat(self):
        s = ovstats.parse_cpu_stat("usage_usec 120\nuser_usec 100\nsystem_usec 20\n")
        self.assertEqual(s, {"usage_usec": 120, "user_usec": 100, "system_usec": 20})

    def test_proc_stat_busy_excludes_idle_and_iowait(self):
        text = "cpu  10 1 5 1000 7 2 3 4 9 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n"
        f = ovstats.parse_proc_stat(text)
        self.assertEqual(f["idle"], 1000)
        self.assertEqual(ovstats.proc_stat_busy(f), 10 + 1 + 5 + 2 + 3 + 4)

    def test_iperf3(self):
        self.assertEqual(
            ovstats.iperf3_received_bytes({"end": {"sum_received": {"bytes": 42}}}), 42)
        with self.assertRaises(ValueError):
            ovstats.iperf3_received_bytes({"error": "unable to connect"})
        with self.assertRaises(ValueError):
            ovstats.iperf3_received_bytes({"end": {}})

    def test_ab_percentiles(self):
        text = "Percentage served,Time in ms\n" + "".join(
            "%d,%.3f\n" % (i, 40 + i / 1000.0) for i in range(101))
        p = ovstats.parse_ab_percentiles(text)
        self.assertEqual(len(p), 101)
        self.assertAlmostEqual(p[50], 40.05)
        with self.assertRaises(ValueError):
            ovstats.parse_ab_percentiles("Percentage served,Time in ms\n0,1.0\n")

    def test_ab_summary(self):
        text = ("Complete requests:      30\nFailed requests:        0\n"
                "Time per request:       41.234 [ms] (mean)\n"
                "Time per request:       41.234 [ms] (mean, across all concurrent requests)\n")
        s = ovstats.parse_ab_summary(text)
        self.assertEqual(s, {"complete": 30, "failed": 0, "non_2xx": 0, "mean_ms": 41.234})

    def test_agent_exit_line(self):
        text = ("flowcorder agent: TCP probes attached\n"
                "flowcorder agent: 0 open connections, 18 profiles, kernel events 27 (lost 1), "
                "table full 0\n")
        self.assertEqual(ovstats.parse_agent_exit_line(text),
                         {"profiles": 18, "events": 27, "lost": 1})


if __name__ == "__main__":
    unittest.main()
