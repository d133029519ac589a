#!/usr/bin/env python3
"""Soak run: the agent (release build) against `ecs-sim --preset large` for a while, with
faults cycling through the simulator's admin API and the OTLP receiver (rotel) restarted,
and a scraper on /metrics. RSS, open file descriptors, ECS tokens and queue sizes are
sampled every 10 s into a CSV, with the RSS peak of each 10 s window (VmHWM, reset after
each sample) and the collectors that finished a run in it. The summary says whether each
figure stayed flat: the baseline (outside faults) of the last third against the first
third's, and the peak of each fault against the same fault's peak in the first cycle.
Run it through scripts/soak, which builds first.

Standard library only.
"""

import argparse
import csv
import gzip
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

FAULTS = ["api_down", "unauthorized", "slow", "node_down", "otlp_restart"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, timeout=120):
    until = time.time() + timeout
    while not cond():
        if time.time() > until:
            sys.exit(f"soak: timed out waiting for {what}")
        time.sleep(0.2)


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def rotel_binary():
    if os.environ.get("ROTEL_AGENT"):
        return os.environ["ROTEL_AGENT"]
    found = shutil.which("rotel-agent")
    if found:
        return found
    out = subprocess.run(
        [sys.executable, "-c", "import os, rotel; print(os.path.dirname(rotel.__file__))"],
        capture_output=True, text=True, check=True)
    return os.path.join(out.stdout.strip(), "rotel-agent")


class Procs:
    """Processes started for a run, each logging to <out>/<name>.log, all killed at the end."""

    def __init__(self, out):
        self.out = out
        self.started = []

    def spawn(self, name, cmd, env=None):
        log = open(os.path.join(self.out, f"{name}.log"), "ab")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env={**os.environ, **(env or {})})
        self.started.append(p)
        return p

    def rotel(self, port):
        """rotel, the OTLP receiver, on `port`, dropping what it receives."""
        self.spawn("rotel", [rotel_binary(), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{port}",
                             "--otlp-http-endpoint", "127.0.0.1:0", "--exporter", "blackhole",
                             "--pid-file", os.path.join(self.out, "rotel.pid"),
                             "--log-file", os.path.join(self.out, "rotel.log")])
        wait_for("rotel", lambda: listening(port), 30)

    def kill_all(self):
        for p in self.started:
            if p.poll() is None:
                p.kill()
                p.wait()


class Soak:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        os.makedirs(self.out, exist_ok=True)
        self.sim_port, self.otlp_port = free_port(), free_port()
        self.prom_port, self.health_port = free_port(), free_port()
        self.ca = os.path.join(self.out, "sim-ca.pem")
        self.ssl = None
        self.procs = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.scrapes_ok = 0
        self.scrapes_failed = 0
        self.latencies = []
        self.phase = "quiet"
        self.cycle = 0
        self.runs = {}

    # --- processes -------------------------------------------------------------------
    def spawn(self, name, cmd, env=None):
        log = open(os.path.join(self.out, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})})
        return self.procs[name]

    def start_rotel(self):
        piddir = os.path.join(self.out, "rotel")
        os.makedirs(piddir, exist_ok=True)
        self.spawn("rotel", [
            rotel_binary(), "start",
            "--otlp-grpc-endpoint", f"127.0.0.1:{self.otlp_port}",
            "--otlp-http-endpoint", "127.0.0.1:0",
            "--exporter", "blackhole",
            "--pid-file", os.path.join(piddir, "rotel.pid"),
            "--log-file", os.path.join(piddir, "rotel.log"),
        ])
        wait_for("rotel to listen", lambda: listening(self.otlp_port), 30)

    def kill(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.kill()
            p.wait()

    def start(self):
        a = self.args
        self.spawn("sim", [a.sim, "--preset", "large", "--listen",
                           f"127.0.0.1:{self.sim_port}", "--cert-out", self.ca])
        wait_for("the simulator to listen", lambda: listening(self.sim_port)
                 and os.path.exists(self.ca), 300)
        self.ssl = ssl.create_default_context(cafile=self.ca)
        self.ssl.check_hostname = False
        self.start_rotel()
        cfg = os.path.join(self.out, "agent.yaml")
        with open(cfg, "w") as f:
            f.write(f"""
receivers:
  ecs/soak:
    endpoint: https://127.0.0.1:{self.sim_port}
    username: emcmonitor
    password: ${{env:SOAK_ECS_PASSWORD}}
    tls:
      ca_file: {self.ca}
  self:
    collection_interval: 10s
exporters:
  prometheus:
    endpoint: 127.0.0.1:{self.prom_port}
  otlp:
    endpoint: http://127.0.0.1:{self.otlp_port}
extensions:
  health_check:
    endpoint: 127.0.0.1:{self.health_port}
service:
  extensions: [health_check]
  pipelines:
    metrics:
      receivers: [ecs/soak, self]
      exporters: [prometheus, otlp]
    logs:
      receivers: [ecs/soak]
      exporters: [otlp]
    traces:
      exporters: [otlp]
""")
        self.spawn("agent", [a.agent, "--config", cfg],
                   env={"SOAK_ECS_PASSWORD": "monitor-pass"})
        wait_for("the agent to be ready", lambda: self.http(
            self.health_port, "/health/ready")[0] == 200, 300)

    # --- HTTP --------------------------------------------------------------------------
    def http(self, port, path, method="GET", body=None, tls=False, timeout=5, gz=False):
        scheme = "https" if tls else "http"
        req = urllib.request.Request(f"{scheme}://127.0.0.1:{port}{path}", data=body,
                                     method=method)
        if gz:
            # As Prometheus asks; the body is read whole but left compressed.
            req.add_header("accept-encoding", "gzip")
        if body is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout,
                                        context=self.ssl if tls else None) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def admin(self, method, path, doc=None):
        body = json.dumps(doc).encode() if doc is not None else None
        if method in ("POST", "PUT") and body is None:
            body = b""
        status, _ = self.http(self.sim_port, "/__sim" + path, method, body, tls=True)
        if status != 200:
            print(f"soak: {method} /__sim{path} answered {status}", file=sys.stderr)

    # --- load and faults ---------------------------------------------------------------
    def scraper(self):
        period = 1.0 / self.args.scrape_rate
        next_at = time.time()
        while not self.stop.is_set():
            t0 = time.time()
            status, _ = self.http(self.prom_port, "/metrics", timeout=5, gz=True)
            took = time.time() - t0
            with self.lock:
                if status == 200:
                    self.scrapes_ok += 1
                    self.latencies.append(took)
                else:
                    self.scrapes_failed += 1
            next_at += period
            self.stop.wait(max(0.0, next_at - time.time()))

    def faults(self):
        every = self.args.fault_every
        i = 0
        # A quiet first period: the baseline the rest is compared with.
        if self.stop.wait(every):
            return
        while not self.stop.is_set():
            fault = FAULTS[i % len(FAULTS)]
            self.cycle = i // len(FAULTS)
            i += 1
            self.phase = fault
            print(f"soak: {time.strftime('%H:%M:%S')} fault {fault}", file=sys.stderr)
            held = every / 2
            if fault == "api_down":
                self.admin("PUT", "/faults", {"rules": [{"path": "*", "error_rate": 1.0}]})
                self.stop.wait(held)
            elif fault == "unauthorized":
                # Every session forgotten, again and again: the agent's token answers 401.
                until = time.time() + held
                while time.time() < until and not self.stop.is_set():
                    self.admin("POST", "/sessions/clear")
                    self.stop.wait(10)
            elif fault == "slow":
                self.admin("PUT", "/faults", {"rules": [{"path": "*", "latency_ms": 3000}]})
                self.stop.wait(held)
            elif fault == "node_down":
                self.admin("PUT", "/faults", {"nodes_down": [1]})
                self.stop.wait(held)
            elif fault == "otlp_restart":
                self.kill("rotel")
                self.stop.wait(min(held, 60))
                self.start_rotel()
            self.admin("DELETE", "/faults")
            # The time after a fault is compared with the same time after the same fault.
            self.phase = f"after_{fault}"
            self.stop.wait(every - held)

    # --- sampling ----------------------------------------------------------------------
    def sample(self):
        pid = self.procs["agent"].pid
        rss_kb = peak_kb = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    peak_kb = int(line.split()[1])
        # Resets VmHWM to the current RSS: the next sample's peak is that window's own, so
        # a spike between two samples is seen whenever it happens.
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        status, body = self.http(self.sim_port, "/__sim/stats", tls=True)
        tokens = -1
        if status == 200:
            tokens = sum(json.loads(body)["sessions"]["tokens"].values())
        queue = span_queue = -1
        status, body = self.http(self.prom_port, "/metrics", timeout=10, gz=True)
        if status == 200:
            queue = span_queue = 0
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            runs = {}
            for line in body.decode().splitlines():
                if line.startswith("ecs_otel_agent_receiver_runs_total{"):
                    name = line.split('receiver="', 1)[1].split('"', 1)[0]
                    runs[name] = float(line.rsplit(" ", 1)[1])
                if line.startswith("ecs_otel_agent_exporter_queue_size{"):
                    queue += float(line.rsplit(" ", 1)[1])
                elif line.startswith("ecs_otel_agent_exporter_span_queue_size{"):
                    span_queue += float(line.rsplit(" ", 1)[1])
            ran = sorted(n.rsplit("/", 1)[-1] for n, v in runs.items()
                         if v > self.runs.get(n, 0) and n != "self")
            self.runs = runs
        else:
            ran = []
        with self.lock:
            lat = sorted(self.latencies)
            self.latencies = []
            ok, failed = self.scrapes_ok, self.scrapes_failed
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else -1
        return {
            "rss_kb": rss_kb, "peak_rss_kb": peak_kb, "ran": "+".join(ran), "open_fds": fds, "ecs_tokens": tokens,
            "queue_batches": queue, "span_queue": span_queue,
            "scrapes_ok": ok, "scrapes_failed": failed, "scrape_p99_ms": round(p99, 1),
        }

    def run(self):
        self.start()
        threads = [threading.Thread(target=self.scraper, daemon=True),
                   threading.Thread(target=self.faults, daemon=True)]
        for t in threads:
            t.start()
        rows = []
        path = os.path.join(self.out, "soak.csv")
        started = time.time()
        with open(path, "w", newline="") as f:
            w = None
            while time.time() - started < self.args.duration:
                self.stop.wait(self.args.sample_every)
                if self.procs["agent"].poll() is not None:
                    sys.exit(f"soak: the agent exited ({self.procs['agent'].returncode}); see {self.out}/agent.log")
                row = {"t_s": round(time.time() - started), "cycle": self.cycle,
                       "fault": self.phase, **self.sample()}
                rows.append(row)
                if w is None:
                    w = csv.DictWriter(f, fieldnames=list(row))
                    w.writeheader()
                w.writerow(row)
                f.flush()
        self.stop.set()
        for t in threads:
            t.join(timeout=70)
        self.procs["agent"].send_signal(signal.SIGTERM)
        try:
            code = self.procs["agent"].wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = "did not stop in 30 s"
        for name in list(self.procs):
            self.kill(name)
        return rows, path, code


FLOORS = {"rss_kb": 8192, "peak_rss_kb": 8192, "open_fds": 4, "ecs_tokens": 1,
          "queue_batches": 2, "span_queue": 64}


# Held resources, compared fault by fault. The queues are not: a sample of a queue is a
# moment of a burst (a cycle's 1,000 bucket-page spans, say) whose coincidence with a fault
# differs from cycle to cycle; they are bounded by their capacity and must drain, which
# the baseline medians check.
LEAKABLE = ("peak_rss_kb", "open_fds", "ecs_tokens")


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0


def calm(row):
    return row["fault"] == "quiet" or row["fault"].startswith("after_")


def summarize(rows, tolerance):
    """Flat, per figure: (1) the baseline, the median outside faults (the quiet start and
    the time after each fault has cleared), of the last third within `tolerance` (relative,
    plus an absolute floor per figure) of the first third's; (2) for each fault, the peak of
    each held resource (memory, descriptors, tokens) in the last cycle that met it within
    the same bound of its peak in the first cycle.
    A fault may cost memory or queue while it lasts (an OTLP outage queues batches by
    design); what it costs must not grow from one cycle to the next."""
    n = len(rows)
    third = max(1, n // 3)
    lines, flat_all = [], True
    for key, floor in FLOORS.items():
        a = median(r[key] for r in rows[:third] if calm(r))
        b = median(r[key] for r in rows[-third:] if calm(r))
        ok = b <= a * (1 + tolerance) + floor
        flat_all &= ok
        lines.append(f"{key:14} baseline median: first third {a:>9}, last third {b:>9}; "
                     f"overall max {max(r[key] for r in rows):>9}  {'flat' if ok else 'GROWING'}")
    phases = sorted({r["fault"] for r in rows if r["fault"] != "quiet"})
    for phase in phases:
        cycles = sorted({r["cycle"] for r in rows if r["fault"] == phase})
        if len(cycles) < 2:
            continue
        first, last = cycles[0], cycles[-1]
        parts = []
        for key in ("peak_rss_kb", "open_fds", "ecs_tokens", "queue_batches", "span_queue"):
            a = max(r[key] for r in rows if r["fault"] == phase and r["cycle"] == first)
            b = max(r[key] for r in rows if r["fault"] == phase and r["cycle"] == last)
            if key in LEAKABLE:
                ok = b <= a * (1 + tolerance) + FLOORS[key]
                flat_all &= ok
                parts.append(f"{key} {a}->{b}{'' if ok else ' GROWING'}")
            else:
                parts.append(f"{key} {a}->{b}")
        lines.append(f"{phase:22} peak, cycle {first} -> {last}: " + ", ".join(parts))
    spike = max(rows, key=lambda r: r["peak_rss_kb"])
    lines.append(f"highest window peak: {spike['peak_rss_kb']} kB at {spike['t_s']} s "
                 f"({spike['fault']}, runs finished: {spike['ran'] or 'none'})")
    last_row = rows[-1]
    lines.append(f"scrapes: {last_row['scrapes_ok']} ok, {last_row['scrapes_failed']} failed; "
                 f"worst 10 s p99 {max(r['scrape_p99_ms'] for r in rows)} ms")
    return flat_all, lines


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=1800, help="seconds (default 30 min)")
    p.add_argument("--fault-every", type=float, default=180,
                   help="seconds between faults; each lasts half of it (default 180)")
    p.add_argument("--sample-every", type=float, default=10)
    p.add_argument("--scrape-rate", type=float, default=10, help="/metrics requests per second")
    p.add_argument("--tolerance", type=float, default=0.2)
    p.add_argument("--agent", default=os.path.join(root, "target/release/ecs-otel-agent"))
    p.add_argument("--sim", default=os.path.join(root, "target/release/ecs-sim"))
    p.add_argument("--out", default=os.path.join(root, "target/soak"))
    args = p.parse_args()
    soak = Soak(args)
    try:
        rows, path, code = soak.run()
    finally:
        soak.stop.set()
        for name in list(soak.procs):
            soak.kill(name)
    flat, lines = summarize(rows, args.tolerance)
    report = [f"soak: {args.duration:.0f} s, {len(rows)} samples in {path}; agent exit: {code}",
              *lines, "verdict: " + ("FLAT" if flat and code == 0 else "NOT FLAT")]
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    print("\n".join(report))
    sys.exit(0 if flat and code == 0 else 1)


if __name__ == "__main__":
    main()
