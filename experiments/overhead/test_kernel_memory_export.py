#!/usr/bin/python3
"""Unit tests of kernel_memory_export.py's parsers and statistics (no root):
/usr/bin/python3 -m unittest experiments/overhead/test_kernel_memory_export.py"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_memory_export as k  # noqa: E402


def message(sets: list[bytes]) -> bytes:
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), 0, 0, 1) + body


def set_(set_id: int, body: bytes) -> bytes:
    return struct.pack("!HH", set_id, 4 + len(body)) + body


class Tests(unittest.TestCase):
    def test_stats_line(self):
        line = ("flowcorder agent: 12 open connections, 34 profiles, kernel events 56 (lost 1), "
                "table full 2, untracked closes 3, exported 30, dropped 0, send errors 0")
        self.assertEqual(k.parse_agent_stats(line), {"open": 12, "profiles": 34, "events": 56, "lost": 1,
                                                     "table_full": 2, "untracked_closes": 3})
        self.assertIsNone(k.parse_agent_stats("flowcorder agent: TCP probes attached"))

    def test_fdinfo(self):
        info = k.parse_fdinfo("prog_type:\t2\nprog_tag:\tabcd\nrun_time_ns:\t500\nrun_cnt:\t5\n")
        self.assertEqual(info["run_cnt"], 5)
        self.assertEqual(info["prog_tag"], "abcd")

    def test_deltas_and_weighting(self):
        before = {1: (10, 1000), 2: (0, 0)}
        after = {1: (30, 5000), 2: (10, 3000), 3: (0, 0)}
        d = k.program_deltas(before, after, {1: "fc_a", 2: "fc_naive_segment"})
        self.assertEqual(d["fc_a"]["events"], 20)
        self.assertEqual(d["fc_a"]["ns_per_event"], 200)
        self.assertIsNone(d["prog3"]["ns_per_event"])
        # weighted: (4000 + 3000) / (20 + 10), not the mean of 200 and 300
        self.assertAlmostEqual(k.weighted_ns_per_event(d), 7000 / 30)
        self.assertEqual(k.weighted_ns_per_event(d, exclude={"fc_naive_segment"}), 200)
        self.assertEqual(k.weighted_ns_per_event(d, only={"fc_naive_segment"}), 300)
        self.assertIsNone(k.weighted_ns_per_event({}, only={"x"}))

    def test_summarize(self):
        self.assertEqual(k.summarize([3, None, 1, 2]), {"median": 2, "min": 1, "max": 3, "n": 3})
        self.assertEqual(k.summarize([None])["n"], 0)

    def test_split(self):
        self.assertEqual(k.split_counts(100000, 15000), [14286] * 5 + [14285] * 2)
        self.assertEqual(sum(k.split_counts(100000, 15000)), 100000)
        self.assertEqual(k.split_counts(1, 15000), [1])
        self.assertEqual(k.parse_held("held 10 failed 2 seconds 0.50\n"), (10, 2, 0.5))
        self.assertEqual(k.parse_held(""), (0, 0, 0.0))

    def test_ipfix_counter(self):
        # template 256: two fields (4 + 8 bytes), one enterprise field of 2 bytes
        tmpl = struct.pack("!HH", 256, 3) + struct.pack("!HH", 8, 4) + struct.pack("!HH", 1, 8) \
            + struct.pack("!HHI", 0x8001, 2, 32473)
        # template 257 with a variable-length field: records not countable
        tmpl_var = struct.pack("!HH", 257, 1) + struct.pack("!HH", 82, 0xFFFF)
        c = k.IpfixCounter()
        c.feed(message([set_(2, tmpl + tmpl_var)]))
        c.feed(message([set_(256, b"\0" * 14 * 3), set_(257, b"\x01a")]))
        c.feed(b"\0\x09garbage-v9-header")
        snap = c.snapshot()
        self.assertEqual(snap["messages"], 3)
        self.assertEqual(snap["records"], {256: 3})
        self.assertEqual(snap["set_bytes"][256], 4 + 42)
        self.assertEqual(snap["malformed"], 1)
        before = dict(snap, set_bytes=dict(snap["set_bytes"]), records=dict(snap["records"]))
        c.feed(message([set_(256, b"\0" * 14)]))
        d = k.diff_counts(before, c.snapshot())
        self.assertEqual(d["records"], {256: 1})
        self.assertEqual(d["messages"], 1)
        self.assertEqual(d["bytes"], 16 + 4 + 14)


if __name__ == "__main__":
    unittest.main()
