#!/usr/bin/env python3
"""Many clusters in one agent: N simulated large clusters (`ecs-sim --preset large`, seeds
1..N: 1,000 namespaces, 20,000 buckets, 5,000 IAM users and 16 nodes each), one agent with
an `ecs/cNN` receiver per cluster and every collector on (dashboard with bucket settings,
node stats, billing, IAM, performance, audit; `--collectors` chooses) at its default interval, metrics to
Prometheus and OTLP (rotel), logs and traces to OTLP. Every 5 s it reads the agent's RSS,
the RSS peak of the window (VmHWM, reset after each read) and its CPU time. At the end it
reads the agent's own figures from /metrics (runs, failures and run durations per
collector) and each simulator's call count, and prints one table.

    scripts/many-clusters                          # builds, then 10 clusters for 15 minutes
    python3 scripts/many_clusters.py --clusters 3 --seconds 120 --latency-ms 100
    python3 scripts/many_clusters.py --clusters 1 --seconds 330 --collectors billing,iam \
        --stuck-clients 11 --page-compression none  # never-reading scrapers, page held as text

Standard library only.
"""

import argparse
import collections
import json
import os
import socket
import ssl
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak import Procs, free_port, listening, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_figures(pid):
    rss = peak = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return rss, peak, (int(rest[11]) + int(rest[12])) / TICK


def labels(line):
    inside = line.split("{", 1)[1].rsplit("}", 1)[0]
    out = {}
    for part in inside.split('",'):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip().strip('"')
    return out


def agent_figures(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        body = r.read().decode()
    runs = collections.Counter()
    failures = collections.Counter()
    dur_sum = collections.Counter()
    dur_count = collections.Counter()
    for line in body.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        name = line.split("{", 1)[0]
        value = float(line.rsplit(" ", 1)[1])
        if name == "ecs_otel_agent_receiver_runs_total":
            runs[labels(line)["receiver"]] += value
        elif name == "ecs_otel_agent_receiver_failures_total":
            failures[labels(line)["receiver"]] += value
        elif name == "ecs_otel_agent_receiver_run_duration_seconds_sum":
            dur_sum[labels(line)["receiver"]] += value
        elif name == "ecs_otel_agent_receiver_run_duration_seconds_count":
            dur_count[labels(line)["receiver"]] += value
    return runs, failures, dur_sum, dur_count


class StuckClients:
    """Clients that send GET /metrics and never read a byte of the answer. At every call
    the oldest is replaced by a new one (its request made on the page served then), so
    that `n` are stuck at every moment, on pages of different ages."""

    def __init__(self, port, n):
        self.port, self.n = port, n
        self.socks = []
        self.requests = 0

    def keep_up(self):
        if self.socks and len(self.socks) == self.n:
            self.socks.pop(0).close()
        while len(self.socks) < self.n:
            s = socket.create_connection(("127.0.0.1", self.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
            self.requests += 1
            self.socks.append(s)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clusters", type=int, default=10)
    p.add_argument("--seconds", type=float, default=900)
    p.add_argument("--collectors", default="billing,iam,performance,audit",
                   help="collectors turned on beside dashboard and node_stats (comma-separated)")
    p.add_argument("--latency-ms", type=int, default=0,
                   help="added to every management call of every simulator")
    p.add_argument("--page-compression", choices=["none", "lz4"],
                   help="the Prometheus exporter's page_compression (default: the agent's, lz4)")
    p.add_argument("--stuck-clients", type=int, default=0,
                   help="clients that send GET /metrics and never read the answer (the oldest replaced every 5 s)")
    p.add_argument("--stuck-after", type=float, default=60,
                   help="seconds after the agent is up when the stuck clients begin")
    p.add_argument("--agent", default=os.path.join(root, "target/release/ecs-otel-agent"))
    p.add_argument("--sim", default=os.path.join(root, "target/release/ecs-sim"))
    args = p.parse_args()

    out = tempfile.mkdtemp(prefix="many-clusters-")
    procs = Procs(out)
    spawn = procs.spawn

    try:
        sims = []
        for i in range(1, args.clusters + 1):
            port = free_port()
            ca = os.path.join(out, f"sim{i:02}-ca.pem")
            spawn(f"sim{i:02}", [args.sim, "--preset", "large", "--seed", str(i),
                                 "--listen", f"127.0.0.1:{port}", "--cert-out", ca])
            sims.append((f"c{i:02}", port, ca))
        for name, port, ca in sims:
            wait_for(f"simulator {name}", lambda: listening(port) and os.path.exists(ca), 600)
        contexts = {}
        for name, port, ca in sims:
            ctx = ssl.create_default_context(cafile=ca)
            ctx.check_hostname = False
            contexts[name] = ctx
            if args.latency_ms:
                req = urllib.request.Request(
                    f"https://127.0.0.1:{port}/__sim/faults", method="PUT",
                    data=json.dumps({"rules": [{"path": "*", "latency_ms": args.latency_ms}]}).encode(),
                    headers={"Content-Type": "application/json"})
                urllib.request.urlopen(req, context=ctx, timeout=10).read()
        otlp_port, prom_port, health_port = free_port(), free_port(), free_port()
        procs.rotel(otlp_port)
        extra = "".join(f"\n      {c}: {{enabled: true}}" for c in args.collectors.split(",") if c) \
            or " {}"
        receivers = "".join(f"""
  ecs/{name}:
    endpoint: https://127.0.0.1:{port}
    username: emcmonitor
    password: ${{env:MANY_ECS_PASSWORD}}
    tls:
      ca_file: {ca}
    collectors:{extra}
""" for name, port, ca in sims)
        names = ", ".join(f"ecs/{name}" for name, _, _ in sims)
        compression = f"\n    page_compression: {args.page_compression}" if args.page_compression else ""
        cfg = os.path.join(out, "agent.yaml")
        with open(cfg, "w") as f:
            f.write(f"""
receivers:{receivers}
  self:
    collection_interval: 10s
exporters:
  prometheus:
    endpoint: 127.0.0.1:{prom_port}
    max_series_per_metric: 1000000{compression}
  otlp:
    endpoint: http://127.0.0.1:{otlp_port}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health_port}
service:
  extensions: [health_check]
  pipelines:
    metrics:
      receivers: [{names}, self]
      exporters: [prometheus, otlp]
    logs:
      receivers: [{names}]
      exporters: [otlp]
    traces:
      exporters: [otlp]
""")
        agent = spawn("agent", [args.agent, "--config", cfg], env={"MANY_ECS_PASSWORD": "monitor-pass"})
        wait_for("the agent", lambda: listening(health_port), 120)
        stuck = StuckClients(prom_port, args.stuck_clients)
        start = time.time()
        _, _, cpu0 = proc_figures(agent.pid)
        rows = []
        while time.time() - start < args.seconds:
            time.sleep(5)
            if agent.poll() is not None:
                sys.exit(f"many-clusters: the agent exited ({agent.returncode}); see {out}/agent.log")
            if time.time() - start >= args.stuck_after:
                stuck.keep_up()
            rss, peak, cpu = proc_figures(agent.pid)
            rows.append((round(time.time() - start), rss, peak, cpu - cpu0))
        wall = time.time() - start
        runs, failures, dur_sum, dur_count = agent_figures(prom_port)
        calls = 0
        for name, port, _ in sims:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/__sim/stats",
                                        context=contexts[name], timeout=30) as r:
                calls += json.loads(r.read())["requests"]

        by_collector = collections.defaultdict(lambda: [0, 0, 0.0, 0.0, 0.0])
        for receiver, n in runs.items():
            if receiver == "self":
                continue
            collector = receiver.rsplit("/", 1)[-1]
            c = by_collector[collector]
            c[0] += n
            c[1] += failures.get(receiver, 0)
            c[2] += dur_sum.get(receiver, 0)
            c[3] += dur_count.get(receiver, 0)
            mean = dur_sum.get(receiver, 0) / max(1, dur_count.get(receiver, 0))
            c[4] = max(c[4], mean)
        print(f"many-clusters clusters={args.clusters} collectors=dashboard,node_stats,{args.collectors} "
              f"seconds={wall:.0f} latency_ms={args.latency_ms} "
              f"page_compression={args.page_compression or 'default'} stuck_clients={args.stuck_clients} stuck_requests={stuck.requests} "
              f"ecs_calls={calls} cpu_percent_of_one_core={100 * rows[-1][3] / wall:.1f} "
              f"rss_median_mb={sorted(r[1] for r in rows)[len(rows) // 2] / 1024:.1f} "
              f"rss_last_mb={rows[-1][1] / 1024:.1f} peak_rss_mb={max(r[2] for r in rows) / 1024:.1f}")
        if args.stuck_clients:
            before = [r for r in rows if r[0] < args.stuck_after]
            during = [r for r in rows if r[0] >= args.stuck_after]
            for name, part in (("before_stuck", before), ("while_stuck", during)):
                if part:
                    print(f"{name}: rss_median_mb={sorted(r[1] for r in part)[len(part) // 2] / 1024:.1f} "
                          f"peak_rss_mb={max(r[2] for r in part) / 1024:.1f} samples={len(part)}")
        print("collector      runs  failed  mean_s  worst_cluster_mean_s")
        for collector, (n, failed, s, count, worst) in sorted(by_collector.items()):
            print(f"{collector:12} {n:6.0f} {failed:7.0f} {s / max(1, count):7.2f} {worst:9.2f}")
        with open(os.path.join(out, "samples.csv"), "w") as f:
            f.write("t_s,rss_kb,window_peak_kb,cpu_s\n")
            for r in rows:
                f.write(",".join(str(x) for x in r) + "\n")
        print(f"samples and logs in {out}")
    finally:
        procs.kill_all()


if __name__ == "__main__":
    main()
