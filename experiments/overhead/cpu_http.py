#!/usr/bin/python3
"""Overhead of the agent: CPU time per delivered byte and HTTP completion time.

Two network namespaces (client, server) joined through the impairment engine
(`flowcorder link`). Three configurations are compared, interleaved run by
run in a shuffled order per round so that machine noise hits them alike:

  none   no instrumentation;
  agent  one `flowcorder agent --netns NS` per namespace (as one agent per
         host in a deployment), exporting IPFIX over UDP to a
         `flowcorder collect` on loopback;
  naive  the same with `--naive` (per-segment state reads).

CPU per byte: iperf3 bulk transfers (-P N, fixed duration) per network
condition. Each run gets cgroup-v2 children of /sys/fs/cgroup/unified (work:
iperf3 client and server; agents: agents and collector); the engine sits in
its own cgroup. Cost = CPU time / bytes the receiver got, where CPU time is
(a) system-wide busy time (the root cgroup's cpu.stat, i.e. /proc/stat's
user+nice+system+irq+softirq+steal at finer resolution; /proc/stat is read
too as a cross-check), (b) the same minus the engine's user-space time, and
more variants in the JSON. Overhead = cost(config)/cost(none) - 1 per round,
then median over rounds with a 95 % bootstrap interval (resampling rounds).

HTTP: nginx in the server namespace, ApacheBench (-c 1) in the client one,
20 ms RTT through the engine; per run a batch of requests of one response
size; ab -e percentiles give the batch's median completion time with
microsecond resolution; overhead = median(config)/median(none) - 1 per round.

Everything created (namespaces, processes, cgroups, files) is removed on
exit, on error and on Ctrl-C. Needs root.

  cpu_http.py --quick --out /tmp/x.json     about a minute
  cpu_http.py --out results/.../cpu_http.json   full: about 16 minutes
                                            (CPU ~11 min: 180 runs of 3 s; HTTP ~5 min; --rounds 8 for ~14)
  cpu_http.py --self-test                   unit tests of the statistics
"""

import argparse
import ctypes
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ovstats  # noqa: E402

CG_MOUNT = "/sys/fs/cgroup/unified"
CLIENT_ADDR, SERVER_ADDR = "198.18.60.1", "198.18.60.2"
IPERF_PORT, HTTP_PORT = 5201, 8080
CONFIGS = ("none", "agent", "naive")

# Every direction gets the spec; `limit 10000` everywhere so the engine's
# queue never tail-drops (at 30 ms RTT the bandwidth-delay product exceeds
# netem's default 1000 packets): the only losses are the random ones asked for.
CONDITIONS = [
    {"name": "clean", "spec": "limit 10000", "rtt_ms": 0, "jitter": "0", "loss_pct": 0},
    {"name": "10ms_0p1loss", "spec": "delay 5ms 0.5ms loss random 0.1% limit 10000",
     "rtt_ms": 10, "jitter": "10%", "loss_pct": 0.1},
    {"name": "30ms", "spec": "delay 15ms 1.5ms limit 10000", "rtt_ms": 30, "jitter": "10%",
     "loss_pct": 0},
]
HTTP_SPEC = "delay 10ms limit 10000"

# name, bytes, requests per run (quick, full). Full: 10 rounds, so 400/200/
# 200/200/100/50 requests per size and configuration (the paper: 2000 connections per
# size, up to 1 GB: scaled down for a 2-core machine).
HTTP_SIZES = [
    ("1B", 1, 8, 40),
    ("100B", 100, 8, 20),
    ("1kB", 1000, 8, 20),
    ("100kB", 100_000, 4, 20),
    ("1MB", 1_000_000, 2, 10),
    ("10MB", 10_000_000, 2, 5),
]

# Cost variants: name -> function of the run's CPU deltas (microseconds).
COST_VARIANTS = {
    # Everything the machine did, engine included (the definition).
    "system": lambda c: c["root_usage"],
    # Minus the engine's user-space forwarding loop and polling, which would
    # not exist between two real hosts. Its kernel time stays: the TCP receive
    # path (and the agent's probes on it) often runs as softirq inside the
    # engine's sendmmsg, so removing it would remove part of what we measure.
    "system_excl_engine_user": lambda c: c["root_usage"] - c["engine_user"],
    # Minus the engine's whole cgroup (lower bound of the cost, see above).
    "system_excl_engine": lambda c: c["root_usage"] - c["engine_usage"],
    # /proc/stat busy ticks (cross-check of "system", 10 ms resolution).
    "procstat": lambda c: c["procstat_busy"],
    # Only the processes involved: workload + agents/collector + engine.
    "cgroups": lambda c: c["work_usage"] + c["agents_usage"] + c["engine_usage"],
    "cgroups_excl_engine": lambda c: c["work_usage"] + c["agents_usage"],
}

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def log(msg):
    print("[cpu_http %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Failure(Exception):
    pass


def read(path):
    with open(path) as f:
        return f.read()


class Testbed:
    """Owns every resource it creates; close() removes them all (idempotent)."""

    def __init__(self, flowcorder):
        self.fc = flowcorder
        self.tmp = tempfile.mkdtemp(prefix="fc-ovh-")
        tag = "%d" % (os.getpid() % 100000)
        self.ns_c, self.ns_s = "fc-ovh%s-c" % tag, "fc-ovh%s-s" % tag
        self.cg_root = os.path.join(CG_MOUNT, "fc-ovh-" + tag)
        self.procs = []
        self.netns = []
        self.cgroups = []
        self.link = None
        self.nginx = None
        self.run_no = 0

    # ----------------------------------------------------------- processes

    def spawn(self, argv, name, netns=None, cgroup=None):
        """Start argv (in netns, in cgroup from its first instruction on),
        stdout/stderr to files under tmp. Dies with us (PDEATHSIG), and has its
        own session so that Ctrl-C reaches only this script, which then stops
        everything in order."""
        full = (["ip", "netns", "exec", netns] if netns else []) + [str(a) for a in argv]
        out_path = os.path.join(self.tmp, name + ".out")
        err_path = os.path.join(self.tmp, name + ".err")

        def pre():
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        with open(out_path, "w") as out, open(err_path, "w") as err:
            p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 preexec_fn=pre, start_new_session=True)
        p.out_path, p.err_path, p.name, p.cgroup = out_path, err_path, name, cgroup
        self.procs.append(p)
        return p

    def output(self, p):
        return read(p.out_path) + read(p.err_path)

    def wait_for(self, p, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern in self.output(p):
                return
            if p.poll() is not None:
                break
            time.sleep(0.01)
        raise Failure("%s: no '%s' within %.0f s (exit %s): %s" % (
            p.name, pattern, timeout, p.poll(), self.output(p)[-800:]))

    def stop(self, p, sig=signal.SIGINT, timeout=10.0):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def run(self, argv, netns=None, timeout=30):
        full = (["ip", "netns", "exec", netns] if netns else []) + [str(a) for a in argv]
        r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise Failure("%s: exit %d: %s" % (" ".join(full), r.returncode, r.stderr.strip()))
        return r.stdout

    # ----------------------------------------------------------- cgroups

    def mkcg(self, *parts):
        path = os.path.join(self.cg_root, *parts)
        os.mkdir(path)
        self.cgroups.append(path)
        return path

    def rmcg(self, path):
        """Removes an (empty) cgroup; one still busy stays listed for close()."""
        for _ in range(50):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                time.sleep(0.02)  # an exited process may take a moment to leave
                continue
            if path in self.cgroups:
                self.cgroups.remove(path)
            return True
        return False

    def stop_all_in(self, cgroup):
        """Stops every process we started into cgroup (after an error)."""
        for p in list(self.procs):
            if getattr(p, "cgroup", None) == cgroup:
                self.stop(p, signal.SIGTERM, timeout=5)

    # ----------------------------------------------------------- topology

    def setup(self):
        for ns in (self.ns_c, self.ns_s):
            if os.path.exists("/var/run/netns/" + ns):
                raise Failure("namespace %s exists already (flowcorder clean?)" % ns)
        os.mkdir(self.cg_root)
        self.cgroups.append(self.cg_root)
        self.cg_engine = self.mkcg("engine")
        self.cg_server = self.mkcg("http")
        for ns in (self.ns_c, self.ns_s):
            self.run(["ip", "netns", "add", ns])
            self.netns.append(ns)
            self.run(["ip", "link", "set", "lo", "up"], netns=ns)
        self.ctl = os.path.join(self.tmp, "link.sock")
        self.link = self.spawn(
            [self.fc, "link", "--ns-a", self.ns_c, "--ns-b", self.ns_s, "--name", "ovh",
             "--addr-a", CLIENT_ADDR + "/24", "--addr-b", SERVER_ADDR + "/24",
             "--control", self.ctl, "--seed", "1"], "link", cgroup=self.cg_engine)
        self.wait_for(self.link, " ready")

    def set_spec(self, spec):
        out = self.run([self.fc, "link", "set", "--control", self.ctl, "--dir", "both", spec])
        if "ok" not in out:
            raise Failure("link set '%s': %s" % (spec, out))

    def close(self):
        for p in list(reversed(self.procs)):
            if p is not self.link:
                self.stop(p, signal.SIGTERM, timeout=5)
        if self.link is not None:
            self.stop(self.link, signal.SIGTERM, timeout=5)
            self.link = None
        for ns in list(self.netns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            self.netns.remove(ns)
        for cg in sorted(self.cgroups, key=len, reverse=True):
            self.rmcg(cg)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ----------------------------------------------------------- agents

    def start_agents(self, config, cgroup, tag):
        """Collector + one agent per namespace; returns the handles."""
        if config == "none":
            return None
        port = free_udp_port()
        db = os.path.join(self.tmp, tag + ".sqlite")
        col = self.spawn([self.fc, "collect", "--listen", "udp://127.0.0.1:%d" % port,
                          "--db", db], tag + "-collect", cgroup=cgroup)
        self.wait_for(col, "listening on")
        agents = []
        for domain, ns in ((1, self.ns_c), (2, self.ns_s)):
            argv = [self.fc, "agent", "--collector", "udp://127.0.0.1:%d" % port, "--netns", ns,
                    "--observation-domain", domain, "--stats-interval", "0"]
            if config == "naive":
                argv.append("--naive")
            a = self.spawn(argv, "%s-agent%d" % (tag, domain), cgroup=cgroup)
            agents.append(a)
        for a in agents:
            self.wait_for(a, "probes attached")
        return {"collector": col, "agents": agents, "db": db}

    def stop_agents(self, h):
        """Stops agents then collector; returns what they counted."""
        if h is None:
            return {}
        info = {"profiles_exported": 0, "events": 0, "lost": 0}
        for a in h["agents"]:  # signal all first: each takes up to its 100 ms poll to stop
            if a.poll() is None:
                a.send_signal(signal.SIGINT)
        for a in h["agents"]:
            rc = self.stop(a)
            c = ovstats.parse_agent_exit_line(read(a.err_path))
            if rc != 0 or not c:
                raise Failure("%s exited %s: %s" % (a.name, rc, self.output(a)[-500:]))
            info["profiles_exported"] += c["profiles"]
            info["events"] += c["events"]
            info["lost"] += c["lost"]
        self.stop(h["collector"])
        try:
            con = sqlite3.connect(h["db"])
            info["profiles_stored"] = con.execute("SELECT COUNT(*) FROM profiles").fetchone()[0]
            con.close()
        except sqlite3.Error as e:
            info["profiles_stored"] = None
            info["db_error"] = str(e)
        for p in ("", "-wal", "-shm"):
            if os.path.exists(h["db"] + p):
                os.unlink(h["db"] + p)
        return info

    # ----------------------------------------------------------- CPU runs

    def cpu_snapshot(self, cg_work, cg_agents):
        def cg(path):
            return ovstats.parse_cpu_stat(read(os.path.join(path, "cpu.stat")))

        return {
            "t": time.monotonic(),
            "root": cg(CG_MOUNT),
            "work": cg(cg_work),
            "agents": cg(cg_agents),
            "engine": cg(self.cg_engine),
            "procstat": ovstats.parse_proc_stat(read("/proc/stat")),
        }

    def cpu_run(self, config, parallel, duration, settle):
        self.run_no += 1
        tag = "r%d" % self.run_no
        cg_run = self.mkcg(tag)
        cg_work, cg_agents = self.mkcg(tag, "work"), self.mkcg(tag, "agents")
        h = None
        try:
            h = self.start_agents(config, cg_agents, tag)
            srv = self.spawn(["iperf3", "-s", "-1", "-p", IPERF_PORT, "-B", SERVER_ADDR,
                              "--forceflush"], tag + "-iperf-s", netns=self.ns_s, cgroup=cg_work)
            self.wait_for(srv, "Server listening")
            time.sleep(settle)
            before = self.cpu_snapshot(cg_work, cg_agents)
            cli = self.spawn(["iperf3", "-c", SERVER_ADDR, "-p", IPERF_PORT, "-P", parallel,
                              "-t", duration, "-J", "-i", "0"], tag + "-iperf-c",
                             netns=self.ns_c, cgroup=cg_work)
            try:
                cli.wait(duration + 30)
                srv.wait(10)
            except subprocess.TimeoutExpired:
                raise Failure("iperf3 did not finish: " + self.output(cli)[-500:])
            time.sleep(settle)  # the agents export the connections' last profiles
            after = self.cpu_snapshot(cg_work, cg_agents)
            self.stop(cli)
            self.stop(srv)
            doc = json.loads(read(cli.out_path))
            nbytes = ovstats.iperf3_received_bytes(doc)
            agent_info = self.stop_agents(h)
            h = None
        finally:
            if h is not None:
                self.stop_agents_quietly(h)
            for path in (cg_work, cg_agents):
                self.stop_all_in(path)
            for path in (cg_work, cg_agents, cg_run):
                self.rmcg(path)
            for f in os.listdir(self.tmp):
                if f.startswith(tag + "-"):
                    os.unlink(os.path.join(self.tmp, f))

        def d(group, key):
            return after[group].get(key, 0) - before[group].get(key, 0)

        tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
        cpu = {
            "root_usage": d("root", "usage_usec"),
            "root_user": d("root", "user_usec"),
            "root_system": d("root", "system_usec"),
            "work_usage": d("work", "usage_usec"),
            "agents_usage": d("agents", "usage_usec"),
            "engine_usage": d("engine", "usage_usec"),
            "engine_user": d("engine", "user_usec"),
            "engine_system": d("engine", "system_usec"),
            "procstat_busy": (ovstats.proc_stat_busy(after["procstat"])
                              - ovstats.proc_stat_busy(before["procstat"])) * tick_us,
            "procstat_softirq": (after["procstat"]["softirq"]
                                 - before["procstat"]["softirq"]) * tick_us,
        }
        cost = {k: f(cpu) * 1000.0 / nbytes for k, f in COST_VARIANTS.items()} if nbytes else None
        return {
            "bytes": nbytes,
            "wall_s": after["t"] - before["t"],
            "goodput_mbps": nbytes * 8 / 1e6 / duration,
            "retransmits": doc.get("end", {}).get("sum_sent", {}).get("retransmits"),
            "cpu_us": cpu,
            "cost_cpu_ns_per_byte": cost,
            "agent": agent_info,
        }

    def stop_agents_quietly(self, h):
        for p in h["agents"] + [h["collector"]]:
            self.stop(p, signal.SIGTERM, timeout=5)

    # ----------------------------------------------------------- HTTP

    def start_nginx(self, sizes):
        d = os.path.join(self.tmp, "http")
        www = os.path.join(d, "www")
        os.makedirs(www)
        os.makedirs(os.path.join(d, "tmp"))
        for name, nbytes, _, _ in sizes:
            chunk = os.urandom(min(nbytes, 1 << 20))
            with open(os.path.join(www, name + ".bin"), "wb") as f:
                left = nbytes
                while left > 0:
                    f.write(chunk[:left])
                    left -= min(left, len(chunk))
        # As the harness does (testbed/harness/http_workload.cpp): foreground
        # master + one worker, running as root, one listener on exactly the
        # server's address, no keep-alive (one request per connection), an
        # access log as a deployment would keep one.
        temps = "".join("    %s_temp_path %s/tmp/%s;\n" % (t, d, t)
                        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = ("daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n"
                "pid %(d)s/nginx.pid;\nerror_log %(d)s/error.log warn;\n"
                "events {\n    worker_connections 1024;\n}\n"
                "http {\n    access_log %(d)s/access.log;\n    keepalive_timeout 0;\n"
                "    default_type application/octet-stream;\n%(temps)s"
                "    server {\n        listen %(addr)s:%(port)d;\n        server_name _;\n"
                "        root %(www)s;\n    }\n}\n") % {
                    "d": d, "temps": temps, "addr": SERVER_ADDR, "port": HTTP_PORT, "www": www}
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        self.nginx = self.spawn(["nginx", "-p", d + "/", "-e", d + "/error.log", "-c",
                                 d + "/nginx.conf"], "nginx", netns=self.ns_s,
                                cgroup=self.cg_server)
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(d, "nginx.pid")):
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                raise Failure("nginx did not start: " + self.output(self.nginx)[-500:]
                              + read(os.path.join(d, "error.log"))[-500:])
            time.sleep(0.02)

    def ab_batch(self, name, n):
        csv = os.path.join(self.tmp, "ab.csv")
        if os.path.exists(csv):
            os.unlink(csv)
        out = self.run(["ab", "-n", n, "-c", "1", "-r", "-s", "10", "-e", csv,
                        "http://%s:%d/%s.bin" % (SERVER_ADDR, HTTP_PORT, name)],
                       netns=self.ns_c, timeout=60 + 20 * n)
        s = ovstats.parse_ab_summary(out)
        if s["complete"] != n or s["failed"] or s["non_2xx"]:
            raise Failure("ab %s: %s" % (name, s))
        pct = ovstats.parse_ab_percentiles(read(csv))
        return {"p50_ms": pct[50], "p10_ms": pct[10], "p90_ms": pct[90], "p99_ms": pct[99],
                "min_ms": pct[0], "max_ms": pct[100], "mean_ms": s["mean_ms"], "requests": n}

    def http_run(self, config, name, n):
        self.run_no += 1
        tag = "r%d" % self.run_no
        cg = self.mkcg(tag)
        h = None
        try:
            h = self.start_agents(config, cg, tag)
            res = self.ab_batch(name, n)
            time.sleep(0.1)
            res["agent"] = self.stop_agents(h)
            h = None
            return res
        finally:
            if h is not None:
                self.stop_agents_quietly(h)
            self.stop_all_in(cg)
            self.rmcg(cg)
            for f in os.listdir(self.tmp):
                if f.startswith(tag + "-"):
                    os.unlink(os.path.join(self.tmp, f))


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------- analysis


def analyse_cpu(runs, conditions, parallels):
    """Per condition, cost variant and configuration: per-round overhead
    (paired with the no-agent run of the same round and parallelism; mean over
    parallelisms), then median and bootstrap CI over rounds (in %)."""
    ok = [r for r in runs if r.get("ok")]
    idx = {(r["round"], r["condition"], r["parallel"], r["config"]): r for r in ok}
    rounds = sorted({r["round"] for r in runs})
    out = {}
    for cond in conditions:
        c = cond["name"]
        out[c] = {}
        for var in COST_VARIANTS:
            out[c][var] = {}
            for cfg in ("agent", "naive"):
                per_p = {}
                per_round = []
                for rnd in rounds:
                    vals = []
                    for p in parallels:
                        a = idx.get((rnd, c, p, cfg))
                        b = idx.get((rnd, c, p, "none"))
                        if a and b:
                            v = a["cost_cpu_ns_per_byte"][var] / b["cost_cpu_ns_per_byte"][var] - 1
                            vals.append(v)
                            per_p.setdefault(p, []).append(v)
                    per_round.append(sum(vals) / len(vals) if vals else None)
                out[c][var][cfg] = {
                    "combined": ovstats.summarise_values(per_round, 100.0),
                    # Aligned with rounds (None: a run of the pair failed).
                    "per_round_pct": [None if v is None else v * 100.0 for v in per_round],
                    "per_parallel": {str(p): ovstats.summarise_values(v, 100.0)
                                     for p, v in sorted(per_p.items())},
                }
            # Absolute cost per configuration (median over rounds and P).
            out[c][var]["cost_ns_per_byte_median"] = {
                cfg: (ovstats.median([r["cost_cpu_ns_per_byte"][var] for r in ok
                                      if r["condition"] == c and r["config"] == cfg])
                      if any(r["condition"] == c and r["config"] == cfg for r in ok) else None)
                for cfg in CONFIGS}
    return out


def analyse_http(runs, sizes):
    ok = [r for r in runs if r.get("ok")]
    idx = {(r["round"], r["size"], r["config"]): r for r in ok}
    rounds = sorted({r["round"] for r in runs})
    out = {}
    for name, nbytes, _, _ in sizes:
        e = {"bytes": nbytes, "median_completion_ms": {}, "overhead_pct": {}}
        for cfg in CONFIGS:
            v = [r["p50_ms"] for r in ok if r["size"] == name and r["config"] == cfg]
            e["median_completion_ms"][cfg] = ovstats.median(v) if v else None
        for cfg in ("agent", "naive"):
            per_round = []
            for rnd in rounds:
                a, b = idx.get((rnd, name, cfg)), idx.get((rnd, name, "none"))
                per_round.append(a["p50_ms"] / b["p50_ms"] - 1 if a and b else None)
            e["overhead_pct"][cfg] = ovstats.summarise_values(per_round, 100.0)
            e.setdefault("per_round_pct", {})[cfg] = [
                None if v is None else v * 100.0 for v in per_round]
        out[name] = e
    return out


def headline(cpu, http):
    """The summary keys this part owns ({median, ci95, rounds})."""
    def strip(s):
        return None if s is None else {k: s[k] for k in ("median", "ci95", "rounds")}

    out = {}
    if cpu:
        for c, a in cpu.items():
            out["cpu_per_byte_overhead_pct_" + c] = strip(a["system"]["agent"]["combined"])
            out["naive_cpu_per_byte_overhead_pct_" + c] = strip(a["system"]["naive"]["combined"])
            out["cpu_per_byte_overhead_pct_%s_excl_engine" % c] = strip(
                a["system_excl_engine_user"]["agent"]["combined"])
            out["naive_cpu_per_byte_overhead_pct_%s_excl_engine" % c] = strip(
                a["system_excl_engine_user"]["naive"]["combined"])
    if http:
        for name, e in http.items():
            out["http_%s_median_completion_overhead_pct" % name] = strip(e["overhead_pct"]["agent"])
            out["naive_http_%s_median_completion_overhead_pct" % name] = strip(
                e["overhead_pct"]["naive"])
    return out


# --------------------------------------------------------------- main


def self_test():
    import unittest
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_stats.py")
    res = unittest.TextTestRunner(verbosity=1).run(suite)
    n, bad = res.testsRun, len(res.failures) + len(res.errors)
    print("%d passed, %d failed" % (n - bad, bad))
    return 0 if res.wasSuccessful() else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute, noisy")
    ap.add_argument("--out", default="cpu_http.json", help="JSON output file")
    ap.add_argument("--flowcorder", default=os.path.join(HERE, "..", "..", "build", "flowcorder"))
    ap.add_argument("--self-test", action="store_true", help="run the unit tests and exit")
    ap.add_argument("--parts", default="cpu,http", help="cpu, http or both (default)")
    ap.add_argument("--rounds", type=int, help="CPU rounds (quick 2, full 10)")
    ap.add_argument("--duration", type=int,
                    help="whole seconds per CPU run (iperf3 -t; quick 1, full 3)")
    ap.add_argument("--parallel",
                    help="parallel connections, comma-separated (quick 8, full 8,32; 100 fits "
                    "too but adds 50 %% to the CPU part)")
    ap.add_argument("--http-rounds", type=int, help="HTTP rounds per size (quick 2, full 10)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the run order shuffles")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if os.geteuid() != 0:
        print("cpu_http.py: needs root (namespaces, BPF, cgroups)", file=sys.stderr)
        return 2
    fc = os.path.abspath(args.flowcorder)
    for tool in ("iperf3", "ab", "nginx", "ip"):
        if not shutil.which(tool):
            print("cpu_http.py: %s missing (apt-get install iperf3 apache2-utils nginx-light)"
                  % tool, file=sys.stderr)
            return 2
    if not os.access(fc, os.X_OK):
        print("cpu_http.py: %s is not built" % fc, file=sys.stderr)
        return 2
    parts = set(args.parts.split(","))
    rounds = args.rounds or (2 if args.quick else 10)
    duration = args.duration or (1 if args.quick else 3)
    parallels = [int(x) for x in (args.parallel or ("8" if args.quick else "8,32")).split(",")]
    http_rounds = args.http_rounds or (2 if args.quick else 10)
    sizes = [(n, b, q if args.quick else f, f) for n, b, q, f in HTTP_SIZES]
    rng = random.Random(args.seed)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    # Explicitly: a shell that starts us in the background would leave SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    started = time.time()
    doc = {
        "meta": {
            "mode": "quick" if args.quick else "full",
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "flowcorder": fc,
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "configs": list(CONFIGS),
            "agents": "one per namespace (client, server), UDP IPFIX to a collector on loopback",
            "seed": args.seed,
        },
    }
    tb = Testbed(fc)
    rc = 0
    try:
        tb.setup()
        log("testbed up: %s <-> %s through the engine (tmp %s)" % (tb.ns_c, tb.ns_s, tb.tmp))
        if "cpu" in parts:
            doc["cpu"] = cpu_part(tb, rng, rounds, duration, parallels)
        if "http" in parts:
            doc["http"] = http_part(tb, rng, http_rounds, sizes)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        rc = 130
    except SystemExit:
        log("terminated: cleaning up")
        raise
    except (Failure, OSError, subprocess.SubprocessError, ValueError) as e:
        log("error: %s" % e)
        rc = 1
    finally:
        tb.close()
    if rc == 130:
        return rc
    doc["meta"]["duration_s"] = time.time() - started
    doc["meta"]["loadavg_end"] = os.getloadavg()
    doc["summary"] = headline(doc.get("cpu", {}).get("overhead"),
                              doc.get("http", {}).get("analysis"))
    doc["meta"]["complete"] = rc == 0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    log("wrote %s in %.0f s" % (args.out, doc["meta"]["duration_s"]))
    for k, v in doc["summary"].items():
        if v and not k.endswith("excl_engine"):
            log("  %-52s %+8.3f %%  [%+.3f, %+.3f]  n=%d" % (k, v["median"], v["ci95"][0],
                                                           v["ci95"][1], v["rounds"]))
    return rc


def cpu_part(tb, rng, rounds, duration, parallels):
    settle = 0.15
    plan = rounds * len(CONDITIONS) * len(parallels) * len(CONFIGS)
    log("CPU per byte: %d rounds x %d conditions x P=%s x %d configs = %d runs of %.1f s"
        % (rounds, len(CONDITIONS), parallels, len(CONFIGS), plan, duration))
    runs = []
    t0 = time.monotonic()
    for rnd in range(rounds):
        conds = CONDITIONS[:]
        rng.shuffle(conds)
        for cond in conds:
            tb.set_spec(cond["spec"])
            ps = parallels[:]
            rng.shuffle(ps)
            for p in ps:
                order = list(CONFIGS)
                rng.shuffle(order)
                for pos, cfg in enumerate(order):
                    rec = {"round": rnd, "condition": cond["name"], "parallel": p,
                           "config": cfg, "position": pos}
                    try:
                        rec.update(tb.cpu_run(cfg, p, duration, settle))
                        rec["ok"] = True
                    except (Failure, ValueError) as e:
                        rec.update(ok=False, error=str(e))
                        log("run failed: %s" % e)
                    runs.append(rec)
                    if rec["ok"]:
                        log("cpu %2d/%d %-12s P=%-3d %-5s %7.0f Mbit/s  %.3f ns/B (system)" % (
                            len(runs), plan, cond["name"], p, cfg, rec["goodput_mbps"],
                            rec["cost_cpu_ns_per_byte"]["system"]))
        elapsed = time.monotonic() - t0
        log("round %d/%d done, %.0f s, ~%.0f s left" % (
            rnd + 1, rounds, elapsed, elapsed / (rnd + 1) * (rounds - rnd - 1)))
    return {
        "conditions": CONDITIONS,
        "parallel": parallels,
        "rounds": rounds,
        "duration_s": duration,
        "settle_s": settle,
        "tool": "iperf3 -P N -t D (receiver bytes from -J end.sum_received)",
        "cost_variants": {
            "system": "root cgroup cpu.stat usage (system-wide busy time), engine included",
            "system_excl_engine_user": "system minus the engine's user-space time",
            "system_excl_engine": "system minus the engine's whole cgroup",
            "procstat": "/proc/stat busy ticks (user nice system irq softirq steal)",
            "cgroups": "workload + agents/collector + engine cgroups",
            "cgroups_excl_engine": "workload + agents/collector cgroups",
        },
        "runs": runs,
        "overhead": analyse_cpu(runs, CONDITIONS, parallels),
    }


def http_part(tb, rng, rounds, sizes):
    tb.set_spec(HTTP_SPEC)
    tb.start_nginx(sizes)
    plan = rounds * len(sizes) * len(CONFIGS)
    log("HTTP: %d rounds x %d sizes x %d configs = %d batches (requests per batch: %s)" % (
        rounds, len(sizes), len(CONFIGS), plan, ", ".join("%s %d" % (s[0], s[2]) for s in sizes)))
    runs = []
    for name, nbytes, n, _ in sizes:
        tb.ab_batch(name, 2)  # warm-up: page cache, ARP, nginx's first request
        for rnd in range(rounds):
            order = list(CONFIGS)
            rng.shuffle(order)
            for pos, cfg in enumerate(order):
                rec = {"round": rnd, "size": name, "bytes": nbytes, "config": cfg,
                       "position": pos}
                try:
                    rec.update(tb.http_run(cfg, name, n))
                    rec["ok"] = True
                except (Failure, ValueError, subprocess.TimeoutExpired) as e:
                    rec.update(ok=False, error=str(e))
                    log("run failed: %s" % e)
                runs.append(rec)
        meds = {c: ovstats.median([r["p50_ms"] for r in runs if r.get("ok") and
                                   r["size"] == name and r["config"] == c] or [0])
                for c in CONFIGS}
        log("http %-6s median completion: none %.3f ms, agent %.3f ms, naive %.3f ms" % (
            name, meds["none"], meds["agent"], meds["naive"]))
    tb.stop(tb.nginx, signal.SIGQUIT)
    return {
        "spec": HTTP_SPEC,
        "rtt_ms": 20,
        "rounds": rounds,
        "sizes": [{"name": n, "bytes": b, "requests_per_batch": q,
                   "requests_per_config": q * rounds} for n, b, q, _ in sizes],
        "client": "ab -c 1 -n N -e (per-batch percentiles, microsecond resolution)",
        "server": "nginx, 1 worker, no keep-alive",
        "runs": runs,
        "analysis": analyse_http(runs, sizes),
    }


if __name__ == "__main__":
    sys.exit(main())
