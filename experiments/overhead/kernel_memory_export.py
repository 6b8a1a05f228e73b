#!/usr/bin/python3
"""Overhead evaluation (issue #6): kernel cost per event, memory against
tracked connections, IPFIX export volume.

Run as root with Debian's Python:

    /usr/bin/python3 experiments/overhead/kernel_memory_export.py [--quick] \
        [--out FILE.json] [--flowcorder build/flowcorder] [--parts kernel,memory,export]

What it measures (three parts, each in its own network namespaces fc-ovk-*):

1. kernel: per-program kernel cost. Two namespaces joined by a plain veth
   (no impairment engine: nothing but the kernel on the path). A Flowcorder
   workload server in B; in A, at once: bulk transfers at a few parallel
   connections in each direction (A sends, A receives) plus connect/close
   churn. One agent watching every namespace (both ends of each connection
   are tracked, as with an agent on each host), exporting IPFIX over UDP to a
   sink in this process. kernel.bpf_stats_enabled is set to 1 only around the
   workload (the previous value is always restored) and each of the agent's
   programs (fc_*, identified by the prog fds the agent holds: other agents on
   the machine are ignored) is read before and after from
   /proc/AGENT/fdinfo (run_cnt, run_time_ns: the counters `bpftool prog show`
   prints). Per program: events (run_cnt delta), ns per event, events per
   workload connection. The agent and the agent with --naive alternate,
   repetition by repetition. probe_ns_per_event_median: per repetition
   sum(run_time)/sum(run_cnt) over every program of the default agent (a
   median weighted by events), median over repetitions; naive_...: the same
   for the naive variant's extra program (fc_naive_segment) and for the
   naive agent as a whole. Note: run_cnt counts every invocation, including
   those the probe returns from at once (a state change it does not follow,
   a drop that is not a TCP duplicate): that is what the kernel pays.
2. memory: a fresh agent watching namespace A only (--max-connections fixed
   above the largest N, so the kernel table is the same size for every N)
   is started, then helpers hold N TCP connections from A to servers in B
   (wide ephemeral range; one server/holder process pair per 15000
   connections, each on its own port, since root here lacks
   CAP_SYS_RESOURCE and RLIMIT_NOFILE's hard limit is 20000), opened at
   10 000 per second at most so that the agent's ring buffer keeps up.
   Once the agent reports N open connections: its VmRSS and the memlock of
   every BPF map it holds (/proc/AGENT/fdinfo, the bytes_memlock of
   `bpftool map show`). The connection table is a preallocated hash, so its
   memory is set by --max-connections, not by N; RSS is what grows with N.
   Also the agent's RSS with no connection (N = 0).
3. export: connect/close churn paced at fixed rates (10, 100, 1000 conn/s)
   from A to B for a fixed time, agent watching A only (one end: two
   profiles per connection) exporting IPFIX over UDP to a sink here that
   counts bytes, messages, sets and data records by template. bytes/s,
   bytes per connection, profile records per connection, per rate. The
   measurement window runs from the first connect to 2 s after the last
   close (the last profiles); templates and agent statistics records are
   part of the volume and also given apart.

Durations (2-core machine): --quick about 45 s (2 kernel repetitions per
variant: 4 bulk connections of 256 MiB each way + 1000 churn connections;
N = 1, 1k, 10k; 5 s per export rate); full mode about 4-5 minutes (5
repetitions per variant: 8 bulk connections of 1 GiB each way + 5000 churn
connections, about 7 s each; N = 1, 1k, 10k, 100k; 30 s per export rate).
Events per connection in part 1 count both ends (--watch client: A only). Output: JSON (--out) and a table on stdout.

Everything created (namespaces, processes) is removed on exit, on error and
on Ctrl-C; leftovers of a SIGKILLed run go with `flowcorder clean`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

# ----------------------------------------------------------------------------
# Pure helpers (unit-tested in test_kernel_memory_export.py)
# ----------------------------------------------------------------------------

STATS_RE = re.compile(
    r"(\d+) open connections, (\d+) profiles, kernel events (\d+) \(lost (\d+)\), "
    r"table full (\d+), untracked closes (\d+)"
)


def parse_agent_stats(line: str) -> dict | None:
    """The agent's periodic statistics line, or None."""
    m = STATS_RE.search(line)
    if not m:
        return None
    keys = ("open", "profiles", "events", "lost", "table_full", "untracked_closes")
    return {k: int(v) for k, v in zip(keys, m.groups())}


def parse_fdinfo(text: str) -> dict:
    """/proc/PID/fdinfo/FD as a dict; numeric values as int."""
    out: dict = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        k, v = line.split(":", 1)
        v = v.strip()
        try:
            out[k.strip()] = int(v)
        except ValueError:
            out[k.strip()] = v
    return out


def program_deltas(before: dict, after: dict, names: dict) -> dict:
    """Per program (by name): events and ns per event between two snapshots
    {prog_id: (run_cnt, run_time_ns)}."""
    out = {}
    for pid, (cnt1, ns1) in after.items():
        cnt0, ns0 = before.get(pid, (0, 0))
        d_cnt, d_ns = cnt1 - cnt0, ns1 - ns0
        out[names.get(pid, f"prog{pid}")] = {
            "events": d_cnt,
            "run_time_ns": d_ns,
            "ns_per_event": d_ns / d_cnt if d_cnt else None,
        }
    return out


def weighted_ns_per_event(progs: dict, only: set | None = None, exclude: set | None = None) -> float | None:
    """sum(run_time)/sum(run_cnt) over the programs selected."""
    cnt = ns = 0
    for name, p in progs.items():
        if only is not None and name not in only:
            continue
        if exclude is not None and name in exclude:
            continue
        cnt += p["events"]
        ns += p["run_time_ns"]
    return ns / cnt if cnt else None


def summarize(values: list) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


class IpfixCounter:
    """Counts an IPFIX (RFC 7011) stream: messages, bytes, set bytes per set
    id and data records per template (from the templates seen; a template
    with a variable-length field gets its records counted as sets only)."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.malformed = 0
        self.set_bytes: dict[int, int] = {}
        self.records: dict[int, int] = {}
        self.template_len: dict[int, int | None] = {}

    def feed(self, data: bytes) -> None:
        self.messages += 1
        self.bytes += len(data)
        if len(data) < 16:
            self.malformed += 1
            return
        version, length = struct.unpack_from("!HH", data, 0)
        if version != 10 or length > len(data):
            self.malformed += 1
            return
        off = 16
        while off + 4 <= length:
            set_id, set_len = struct.unpack_from("!HH", data, off)
            if set_len < 4 or off + set_len > length:
                self.malformed += 1
                return
            body = data[off + 4 : off + set_len]
            self.set_bytes[set_id] = self.set_bytes.get(set_id, 0) + set_len
            if set_id in (2, 3):
                self._templates(body, options=set_id == 3)
            elif set_id >= 256:
                rlen = self.template_len.get(set_id)
                if rlen:
                    self.records[set_id] = self.records.get(set_id, 0) + len(body) // rlen
            off += set_len

    def _templates(self, body: bytes, options: bool) -> None:
        off = 0
        while off + 4 <= len(body):
            tid, count = struct.unpack_from("!HH", body, off)
            off += 4
            if options:
                if off + 2 > len(body):
                    return
                off += 2  # scope field count
            if tid < 256:  # padding or withdrawal
                return
            total: int | None = 0
            for _ in range(count):
                if off + 4 > len(body):
                    return
                fid, flen = struct.unpack_from("!HH", body, off)
                off += 4
                if fid & 0x8000:
                    off += 4
                if flen == 0xFFFF:
                    total = None
                elif total is not None:
                    total += flen
            self.template_len[tid] = total or None

    def snapshot(self) -> dict:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "set_bytes": dict(self.set_bytes),
            "records": dict(self.records),
            "malformed": self.malformed,
        }


def diff_counts(a: dict, b: dict) -> dict:
    """b - a for two IpfixCounter snapshots."""
    out = {"messages": b["messages"] - a["messages"], "bytes": b["bytes"] - a["bytes"]}
    for key in ("set_bytes", "records"):
        out[key] = {k: v - a[key].get(k, 0) for k, v in b[key].items() if v - a[key].get(k, 0)}
    return out


# ----------------------------------------------------------------------------
# Process and namespace housekeeping
# ----------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with us, even on SIGKILL
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # we stop children ourselves


class Resources:
    """Everything this run created, removed by cleanup() in reverse order."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.sysctl_restore: list[tuple[str, str]] = []

    def add_ns(self, name: str) -> None:
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL, check=False)
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.namespaces.append(name)

    def del_ns(self, name: str) -> None:
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL, check=False)
        if name in self.namespaces:
            self.namespaces.remove(name)

    def popen(self, cmd: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(cmd, preexec_fn=_child_setup, **kw)
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 15.0) -> int | None:
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    def set_sysctl(self, key: str, value: str) -> None:
        path = "/proc/sys/" + key.replace(".", "/")
        with open(path) as f:
            old = f.read().strip()
        self.sysctl_restore.append((path, old))
        with open(path, "w") as f:
            f.write(value)

    def restore_sysctls(self) -> None:
        while self.sysctl_restore:
            path, old = self.sysctl_restore.pop()
            try:
                with open(path, "w") as f:
                    f.write(old)
            except OSError as e:
                print(f"warning: could not restore {path}: {e}", file=sys.stderr)

    def cleanup(self) -> None:
        self.restore_sysctls()
        for p in reversed(list(self.procs)):
            self.stop(p, signal.SIGTERM, timeout=10)
        for ns in reversed(list(self.namespaces)):
            self.del_ns(ns)


def ns_exec(ns: str, cmd: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns] + cmd


def make_pair(res: Resources, tag: str) -> tuple[str, str, str, str]:
    """Two namespaces joined by a veth; returns (nsA, nsB, addrA, addrB)."""
    a, b = f"fc-ovk-{tag}-a", f"fc-ovk-{tag}-b"
    res.add_ns(a)
    res.add_ns(b)
    # Created inside A: the root namespace never sees the names.
    subprocess.run(ns_exec(a, ["ip", "link", "add", "fcovk0", "type", "veth", "peer", "name", "fcovk1", "netns", b]), check=True)
    ip_a, ip_b = "198.18.77.1", "198.18.77.2"
    for ns, dev, ip in ((a, "fcovk0", ip_a), (b, "fcovk1", ip_b)):
        subprocess.run(ns_exec(ns, ["ip", "addr", "add", ip + "/24", "dev", dev]), check=True)
        subprocess.run(ns_exec(ns, ["ip", "link", "set", dev, "up"]), check=True)
        subprocess.run(ns_exec(ns, ["ip", "link", "set", "lo", "up"]), check=True)
        for k, v in (
            ("net.ipv4.ip_local_port_range", "1024 65535"),
            ("net.core.somaxconn", "65535"),
            ("net.ipv4.tcp_max_syn_backlog", "65535"),
        ):
            subprocess.run(ns_exec(ns, ["sysctl", "-q", "-w", f"{k}={v}"]), check=True)
    return a, b, ip_a, ip_b


# ----------------------------------------------------------------------------
# UDP sink and agent
# ----------------------------------------------------------------------------


class UdpSink:
    """IPFIX over UDP on 127.0.0.1 (root namespace, where the agent runs)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.counter = IpfixCounter()
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.counter.feed(data)

    def snapshot(self) -> dict:
        with self.lock:
            return self.counter.snapshot()

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


class Agent:
    def __init__(self, res: Resources, flowcorder: str, sink: UdpSink, extra: list[str], stats_interval: float = 1) -> None:
        self.res = res
        self.stats: dict | None = None
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.attached = False
        cmd = [flowcorder, "agent", "--collector", f"udp://127.0.0.1:{sink.port}",
               "--stats-interval", str(stats_interval)] + extra
        self.proc = res.popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(30) or not self.attached:
            raise RuntimeError("agent did not attach its probes: " + " | ".join(self.lines[-5:]))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.rstrip()
            self.lines.append(line)
            if "probes attached" in line:
                self.attached = True
                self.ready.set()
            st = parse_agent_stats(line)
            if st:
                self.stats = st
        self.ready.set()

    def bpf_fds(self) -> tuple[dict, dict]:
        """{prog_id: fdinfo}, {map_id: fdinfo} for the bpf objects it holds."""
        progs, maps = {}, {}
        fd_dir = f"/proc/{self.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
                if target not in ("anon_inode:bpf-prog", "anon_inode:bpf-map"):
                    continue
                with open(f"/proc/{self.pid}/fdinfo/{fd}") as f:
                    info = parse_fdinfo(f.read())
            except OSError:
                continue
            if target == "anon_inode:bpf-prog" and "prog_id" in info:
                progs[info["prog_id"]] = info
            elif "map_id" in info:
                maps[info["map_id"]] = info
        return progs, maps

    def prog_counters(self) -> dict:
        progs, _ = self.bpf_fds()
        return {pid: (i.get("run_cnt", 0), i.get("run_time_ns", 0)) for pid, i in progs.items()}

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def wait_open(self, n: int, timeout: float, settle: float = 5.0) -> dict | None:
        """Until the agent reports n open connections, or its count has not
        moved for `settle` seconds, or timeout."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            st = self.stats
            if st and st["open"] >= n:
                return st
            if self.proc.poll() is not None:
                raise RuntimeError("agent exited: " + " | ".join(self.lines[-5:]))
            cur = st["open"] if st else None
            if cur != last:
                last, since = cur, time.monotonic()
            elif time.monotonic() - since > settle:
                return st
            time.sleep(0.2)
        return self.stats

    def stop(self) -> None:
        self.res.stop(self.proc, signal.SIGINT, timeout=60)


def bpftool_names(ids: set) -> dict:
    """prog id -> name (bpftool has the full name from BTF)."""
    names = {}
    try:
        out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True, check=True).stdout
        for p in json.loads(out):
            if p.get("id") in ids:
                names[p["id"]] = p.get("name", f"prog{p['id']}")
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        pass
    return names


def bpftool_map_names(ids: set) -> dict:
    names = {}
    try:
        out = subprocess.run(["bpftool", "map", "show", "-j"], capture_output=True, text=True, check=True).stdout
        for m in json.loads(out):
            if m.get("id") in ids:
                names[m["id"]] = m.get("name", f"map{m['id']}")
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError):
        pass
    return names


# ----------------------------------------------------------------------------
# In-namespace helper roles (this script re-run under `ip netns exec`)
# ----------------------------------------------------------------------------


def raise_nofile(n: int) -> None:
    """Soft RLIMIT_NOFILE up to n; the hard limit too if we may
    (CAP_SYS_RESOURCE), else the soft one up to the hard one."""
    with open("/proc/sys/fs/nr_open") as f:
        want = min(n, int(f.read()))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def per_process_fds() -> int:
    """Connections one helper process may hold: what the hard limit allows
    (this machine's root lacks CAP_SYS_RESOURCE: 20000), 15000 at most."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return 15000
    return max(100, min(15000, hard - 1000))


def split_counts(n: int, per: int) -> list[int]:
    """n connections over as few processes as hold at most `per` each."""
    k = max(1, math.ceil(n / per))
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def parse_held(line: str) -> tuple[int, int, float]:
    m = re.match(r"held (\d+) failed (\d+) seconds ([\d.]+)", line.strip())
    return (int(m.group(1)), int(m.group(2)), float(m.group(3))) if m else (0, 0, 0.0)


def role_server(addr: str, ports: list[int], nofile: int) -> None:
    """Accept on every port; hold each connection until the peer closes."""
    raise_nofile(nofile)
    sel = selectors.DefaultSelector()
    for port in ports:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(65535)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, "listen")
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "listen":
                for _ in range(256):
                    try:
                        c, _ = s.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "conn")
            else:
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    s.close()


def role_hold(addr: str, ports: list[int], n: int, inflight: int, rate: float) -> None:
    """Open n connections (spread over ports, at most `rate` per second, so
    that the agent keeps up), print 'held N', then hold them until stdin
    closes."""
    raise_nofile(n + 1000)
    sel = selectors.DefaultSelector()
    held, pending, opened, failed = [], 0, 0, 0
    t0 = time.monotonic()
    while len(held) + failed < n:
        allowed = min(n, int((time.monotonic() - t0) * rate) + 1)
        while pending < inflight and opened < allowed:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((addr, ports[opened % len(ports)]))
            opened += 1
            if err not in (0, 115):  # EINPROGRESS
                s.close()
                failed += 1
                continue
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
        for key, _ in sel.select(timeout=0.01):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                held.append(s)
            else:
                s.close()
                failed += 1
        if time.monotonic() - t0 > 600:
            break
    print(f"held {len(held)} failed {failed} seconds {time.monotonic() - t0:.2f}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    for s in held:
        s.close()


def role_churn(addr: str, ports: list[int], rate: float, duration: float) -> None:
    """Connect/close churn paced at `rate` connections per second: each
    connection is closed as soon as it is established."""
    raise_nofile(65536)
    sel = selectors.DefaultSelector()
    total = int(round(rate * duration))
    opened = ok = failed = 0
    t0 = time.monotonic()
    while opened < total or sel.get_map():
        due = min(total, int((time.monotonic() - t0) * rate) + 1)
        while opened < due:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((addr, ports[opened % len(ports)]))
            opened += 1
            if err not in (0, 115):  # EINPROGRESS
                s.close()
                failed += 1
                continue
            sel.register(s, selectors.EVENT_WRITE)
        wait = 0.05 if opened >= total else t0 + opened / rate - time.monotonic()
        for key, _ in sel.select(timeout=max(0.0, min(0.05, wait))):
            s = key.fileobj
            sel.unregister(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                ok += 1
            else:
                failed += 1
            s.close()
        if time.monotonic() - t0 > duration * 3 + 30:
            break
    print(json.dumps({"opened": opened, "ok": ok, "failed": failed, "seconds": time.monotonic() - t0}), flush=True)


# ----------------------------------------------------------------------------
# The three parts
# ----------------------------------------------------------------------------

SELF = os.path.abspath(__file__)
PY = "/usr/bin/python3"


def start_server(res: Resources, ns: str, addr: str, ports: list[int], nofile: int) -> subprocess.Popen:
    p = res.popen(
        ns_exec(ns, [PY, SELF, "_role", "server", addr, ",".join(map(str, ports)), str(nofile)]),
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline() if p.stdout else ""
    if "ready" not in line:
        raise RuntimeError("server did not start")
    return p


def part_kernel(args, res: Resources, sink: UdpSink, log) -> dict:
    quick = args.quick
    reps = 2 if quick else args.reps
    par = 4 if quick else 8
    bulk_bytes = "256MiB" if quick else "1GiB"
    churn = 1000 if quick else 5000
    a, b, ip_a, ip_b = make_pair(res, "k")
    tmp = tempfile.mkdtemp(prefix="fc-ovk-")
    server = res.popen(
        ns_exec(b, [args.flowcorder, "workload", "serve", "--listen", f"{ip_b}:5001", "--truth", f"{tmp}/server.jsonl",
                    "--host", "b", "--workload", "w", "--idle-timeout", "60s"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    n_conns = 2 * par + churn
    runs: dict[str, list[dict]] = {"agent": [], "naive": []}
    try:
        for rep in range(reps):
            for variant in ("agent", "naive") if rep % 2 == 0 else ("naive", "agent"):
                extra = ["--naive"] if variant == "naive" else []
                if args.watch == "client":
                    extra += ["--netns", a]
                agent = Agent(res, args.flowcorder, sink, extra)
                progs, _ = agent.bpf_fds()
                names = bpftool_names(set(progs))
                try:
                    res.set_sysctl("kernel.bpf_stats_enabled", "1")
                    before = agent.prog_counters()
                    t0 = time.monotonic()
                    clients = []
                    for kind, cmdx in (
                        ("up", ["--type", "bulk", "--connections", str(par), "--concurrency", str(par), "--bytes", bulk_bytes, "--direction", "up"]),
                        ("down", ["--type", "bulk", "--connections", str(par), "--concurrency", str(par), "--bytes", bulk_bytes, "--direction", "down"]),
                        ("churn", ["--type", "churn", "--connections", str(churn), "--concurrency", "2"]),
                    ):
                        clients.append(res.popen(
                            ns_exec(a, [args.flowcorder, "workload", "client", "--connect", f"{ip_b}:5001", "--truth",
                                        f"{tmp}/client-{kind}.jsonl", "--host", "a", "--workload", kind] + cmdx),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                    rcs = [c.wait() for c in clients]
                    for c in clients:
                        res.procs.remove(c)
                    elapsed = time.monotonic() - t0
                    after = agent.prog_counters()
                finally:
                    res.restore_sysctls()
                agent.stop()
                per_prog = program_deltas(before, after, names)
                for p in per_prog.values():
                    p["events_per_connection"] = p["events"] / n_conns
                ours = weighted_ns_per_event(per_prog, exclude={"fc_naive_segment"})
                run = {
                    "rep": rep, "variant": variant, "seconds": elapsed, "client_exit_codes": rcs,
                    "connections": n_conns, "programs": per_prog,
                    "ns_per_event_all_but_naive": ours,
                    "ns_per_event_all": weighted_ns_per_event(per_prog),
                    "events_total": sum(p["events"] for p in per_prog.values()),
                }
                if variant == "naive":
                    run["ns_per_event_naive_program"] = weighted_ns_per_event(per_prog, only={"fc_naive_segment"})
                runs[variant].append(run)
                log(f"kernel rep {rep} {variant}: {elapsed:.1f}s, {run['events_total']} events, "
                    f"{run['ns_per_event_all']:.0f} ns/event overall, clients exit {rcs}")
    finally:
        res.stop(server, signal.SIGTERM)
        res.del_ns(a)
        res.del_ns(b)
        shutil.rmtree(tmp, ignore_errors=True)

    def per_program(variant: str) -> dict:
        out: dict = {}
        names = sorted({n for r in runs[variant] for n in r["programs"]})
        for n in names:
            rs = [r["programs"].get(n) for r in runs[variant] if n in r["programs"]]
            out[n] = {
                "ns_per_event": summarize([p["ns_per_event"] for p in rs]),
                "events_median": statistics.median([p["events"] for p in rs]),
                "events_per_connection_median": statistics.median([p["events_per_connection"] for p in rs]),
            }
        return out

    return {
        "setup": {"parallel_bulk_per_direction": par, "bulk_bytes": bulk_bytes, "churn_connections": churn,
                  "connections_per_rep": n_conns, "repetitions": reps, "watch": args.watch,
                  "link": "plain veth between two namespaces"},
        "agent": per_program("agent"),
        "naive": per_program("naive"),
        "probe_ns_per_event": summarize([r["ns_per_event_all"] for r in runs["agent"]]),
        "naive_probe_ns_per_event": summarize([r["ns_per_event_naive_program"] for r in runs["naive"]]),
        "naive_agent_ns_per_event": summarize([r["ns_per_event_all"] for r in runs["naive"]]),
        "agent_events_per_connection": summarize([r["events_total"] / n_conns for r in runs["agent"]]),
        "naive_events_per_connection": summarize([r["events_total"] / n_conns for r in runs["naive"]]),
        "runs": runs,
    }


OPEN_RATE = 10000.0  # connections per second, all holders together


def part_memory(args, res: Resources, sink: UdpSink, log) -> dict:
    sizes = [1, 1000, 10000] if args.quick else [1, 1000, 10000, 100000]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    max_conns = 131072
    a, b, ip_a, ip_b = make_pair(res, "m")
    # The hard RLIMIT_NOFILE may be out of reach: one server process and one
    # holder per group of connections, each group on its own port.
    per = per_process_fds()
    groups = len(split_counts(max(sizes), per))
    ports = [6000 + i for i in range(groups)]
    servers = [start_server(res, b, ip_b, [port], per + 500) for port in ports]
    out: dict = {"max_connections": max_conns, "connections_per_helper_process": per, "sizes": {}}
    try:
        for n in [0] + sizes:
            agent = Agent(res, args.flowcorder, sink, ["--netns", a, "--max-connections", str(max_conns)])
            holders = []
            try:
                time.sleep(1.0)
                t0 = time.monotonic()
                if n:
                    counts = split_counts(n, per)
                    for i, count in enumerate(counts):
                        holders.append(res.popen(
                            ns_exec(a, [PY, SELF, "_role", "hold", ip_b, str(ports[i]), str(count), "500",
                                        str(OPEN_RATE / len(counts))]),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
                held = failed = 0
                for h in holders:
                    x, y, _ = parse_held(h.stdout.readline() if h.stdout else "")
                    held, failed = held + x, failed + y
                open_s = time.monotonic() - t0
                agent.wait_open(n, timeout=30 + n / 1000, settle=5.0)
                time.sleep(1.5)  # one more statistics line, settled RSS
                st = agent.stats
                rss = agent.rss_kib()
                _, maps = agent.bpf_fds()
                mnames = bpftool_map_names(set(maps))
                map_bytes = {mnames.get(mid, f"map{mid}"): info.get("memlock", 0) for mid, info in maps.items()}
                row = {
                    "held": held,
                    "failed": failed,
                    "open_seconds": open_s,
                    "agent_rss_kib": rss,
                    "agent_rss_mib": rss / 1024,
                    "bpf_map_bytes": sum(map_bytes.values()),
                    "bpf_map_mib": sum(map_bytes.values()) / 2**20,
                    "bpf_maps": map_bytes,
                    "agent_open_connections": st["open"] if st else None,
                    "agent_table_full": st["table_full"] if st else None,
                    "agent_events_lost": st["lost"] if st else None,
                }
                out["sizes"][str(n)] = row
                log(f"memory N={n}: held {held} (failed {failed}) in {open_s:.1f}s; agent open "
                    f"{row['agent_open_connections']}, RSS {row['agent_rss_mib']:.1f} MiB, "
                    f"BPF maps {row['bpf_map_mib']:.1f} MiB")
            finally:
                agent.stop()  # first: its exit ends the open connections itself
                for h in holders:
                    if h.stdin:
                        h.stdin.close()
                for h in holders:
                    res.stop(h, signal.SIGTERM, timeout=60)
    finally:
        for srv in servers:
            res.stop(srv, signal.SIGTERM)
        res.del_ns(a)
        res.del_ns(b)
    return out


def part_export(args, res: Resources, sink: UdpSink, log) -> dict:
    rates = [10, 100, 1000]
    duration = 5.0 if args.quick else 30.0
    a, b, ip_a, ip_b = make_pair(res, "e")
    ports = [7000, 7001]
    server = start_server(res, b, ip_b, ports, 70000)
    out: dict = {"duration_s": duration, "rates": {}}
    try:
        for rate in rates:
            agent = Agent(res, args.flowcorder, sink, ["--netns", a], stats_interval=10)
            try:
                time.sleep(1.0)
                c0 = sink.snapshot()
                t0 = time.monotonic()
                churn = res.popen(ns_exec(a, [PY, SELF, "_role", "churn", ip_b, ",".join(map(str, ports)), str(rate), str(duration)]),
                                  stdout=subprocess.PIPE, text=True)
                summary_line = churn.stdout.readline() if churn.stdout else ""
                res.stop(churn)
                time.sleep(2.0)
                window = time.monotonic() - t0
                c1 = sink.snapshot()
            finally:
                agent.stop()
            ch = json.loads(summary_line) if summary_line.strip() else {"opened": 0, "ok": 0, "failed": 0, "seconds": 0}
            d = diff_counts(c0, c1)
            conns = max(ch["ok"], 1)
            profile_recs = d["records"].get(256, 0) + d["records"].get(257, 0)
            profile_bytes = d["set_bytes"].get(256, 0) + d["set_bytes"].get(257, 0)
            row = {
                "target_conn_per_s": rate,
                "achieved_conn_per_s": ch["ok"] / ch["seconds"] if ch["seconds"] else None,
                "connections": ch["ok"],
                "failed": ch["failed"],
                "window_s": window,
                "ipfix_bytes": d["bytes"],
                "ipfix_messages": d["messages"],
                "bytes_per_s": d["bytes"] / ch["seconds"] if ch["seconds"] else None,
                "bytes_per_connection": d["bytes"] / conns,
                "profile_records": profile_recs,
                "profiles_per_connection": profile_recs / conns,
                "profile_set_bytes_per_connection": profile_bytes / conns,
                "template_set_bytes": d["set_bytes"].get(2, 0) + d["set_bytes"].get(3, 0),
                "stats_set_bytes": d["set_bytes"].get(300, 0),
                "set_bytes": {str(k): v for k, v in d["set_bytes"].items()},
            }
            out["rates"][str(rate)] = row
            log(f"export {rate}/s: {ch['ok']} conns in {ch['seconds']:.1f}s, {d['bytes']} B in {d['messages']} msgs, "
                f"{row['bytes_per_connection']:.0f} B/conn, {row['profiles_per_connection']:.2f} profiles/conn")
    finally:
        res.stop(server, signal.SIGTERM)
        res.del_ns(a)
        res.del_ns(b)
    return out


def flat_keys(result: dict) -> dict:
    keys: dict = {}
    k = result.get("kernel")
    if k:
        keys["probe_ns_per_event_median"] = k["probe_ns_per_event"]["median"]
        keys["probe_ns_per_event_min"] = k["probe_ns_per_event"]["min"]
        keys["probe_ns_per_event_max"] = k["probe_ns_per_event"]["max"]
        keys["naive_probe_ns_per_event_median"] = k["naive_probe_ns_per_event"]["median"]
        keys["naive_agent_ns_per_event_median"] = k["naive_agent_ns_per_event"]["median"]
        keys["agent_events_per_connection_median"] = k["agent_events_per_connection"]["median"]
        keys["naive_events_per_connection_median"] = k["naive_events_per_connection"]["median"]
    m = result.get("memory")
    if m:
        for n, row in m["sizes"].items():
            label = {"0": "0", "1": "1", "1000": "1k", "10000": "10k", "100000": "100k"}.get(n, n)
            keys[f"agent_rss_mib_{label}"] = row["agent_rss_mib"]
            keys[f"bpf_map_mib_{label}"] = row["bpf_map_mib"]
        if "10000" in m["sizes"]:
            keys["agent_rss_mib_10k_conns"] = m["sizes"]["10000"]["agent_rss_mib"]
    e = result.get("export")
    if e:
        for r, row in e["rates"].items():
            keys[f"ipfix_bytes_per_s_at_{r}_conn_per_s"] = row["bytes_per_s"]
            keys[f"ipfix_bytes_per_conn_at_{r}_conn_per_s"] = row["bytes_per_connection"]
    return keys


def print_table(result: dict) -> None:
    def f(v, fmt="{:.0f}"):
        return "-" if v is None else fmt.format(v)

    k = result.get("kernel")
    if k:
        print("\nKernel cost per program (ns/event median [min, max]; events per connection)")
        for variant in ("agent", "naive"):
            for name, p in k[variant].items():
                s = p["ns_per_event"]
                print(f"  {variant:6} {name:20} {f(s['median']):>7} [{f(s['min'])}, {f(s['max'])}]  "
                      f"{p['events_per_connection_median']:10.1f}")
        print(f"  probe_ns_per_event_median (agent, weighted): {f(k['probe_ns_per_event']['median'])}"
              f"   naive program: {f(k['naive_probe_ns_per_event']['median'])}"
              f"   naive agent overall: {f(k['naive_agent_ns_per_event']['median'])}")
    m = result.get("memory")
    if m:
        print(f"\nMemory (--max-connections {m['max_connections']})")
        print(f"  {'N':>7} {'open':>7} {'RSS MiB':>8} {'BPF MiB':>8}")
        for n, row in m["sizes"].items():
            print(f"  {n:>7} {f(row['agent_open_connections']):>7} {row['agent_rss_mib']:8.1f} {row['bpf_map_mib']:8.1f}")
    e = result.get("export")
    if e:
        print(f"\nExport volume (UDP IPFIX, {e['duration_s']:.0f} s per rate, agent on the client only)")
        print(f"  {'conn/s':>7} {'achieved':>9} {'bytes/s':>9} {'B/conn':>7} {'prof/conn':>9}")
        for r, row in e["rates"].items():
            print(f"  {r:>7} {f(row['achieved_conn_per_s'], '{:.1f}'):>9} {f(row['bytes_per_s']):>9} "
                  f"{row['bytes_per_connection']:7.0f} {row['profiles_per_connection']:9.2f}")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_role":
        role, addr, ports = sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4].split(",")]
        if role == "server":
            role_server(addr, ports, int(sys.argv[5]))
        elif role == "hold":
            role_hold(addr, ports, int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]))
        elif role == "churn":
            role_churn(addr, ports, float(sys.argv[5]), float(sys.argv[6]))
        return 0

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute, noisy")
    ap.add_argument("--out", default=None, help="JSON output file")
    ap.add_argument("--flowcorder", default=os.path.join(os.path.dirname(SELF), "..", "..", "build", "flowcorder"))
    ap.add_argument("--parts", default="kernel,memory,export")
    ap.add_argument("--reps", type=int, default=5, help="kernel repetitions per variant in full mode")
    ap.add_argument("--sizes", default=None, help="memory part: connection counts (default 1,1000,10000[,100000])")
    ap.add_argument("--watch", choices=("all", "client"), default="all",
                    help="kernel part: the agent watches every namespace (both ends) or the client's only")
    args = ap.parse_args()
    args.flowcorder = os.path.abspath(args.flowcorder)
    if os.geteuid() != 0:
        print("needs root (BPF, namespaces)", file=sys.stderr)
        return 2
    if not os.access(args.flowcorder, os.X_OK):
        print(f"no flowcorder binary at {args.flowcorder}", file=sys.stderr)
        return 2

    res = Resources()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    result: dict = {"mode": "quick" if args.quick else "full", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "kernel_release": os.uname().release, "cpus": os.cpu_count()}
    sink = UdpSink()
    t0 = time.monotonic()
    rc = 0
    try:
        for part, fn in (("kernel", part_kernel), ("memory", part_memory), ("export", part_export)):
            if part in args.parts.split(","):
                log(f"part {part}")
                result[part] = fn(args, res, sink, log)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        rc = 130
    except Exception as e:  # noqa: BLE001 - report, clean up, non-zero exit
        log(f"error: {e!r}; cleaning up")
        rc = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        res.cleanup()
        sink.close()
    result["seconds"] = time.monotonic() - t0
    result["summary"] = flat_keys(result)
    print_table(result)
    print("\n" + json.dumps(result["summary"], indent=1))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
