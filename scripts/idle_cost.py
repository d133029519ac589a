#!/usr/bin/env python3
"""Idle cost: the agent (release build) with its default intervals against `ecs-sim`
(small preset unless --preset), metrics to Prometheus and OTLP (rotel), logs and traces to
OTLP, nobody scraping. After a warm-up it reads, every second, the agent's CPU time
(/proc/<pid>/stat) and context switches of all its threads (/proc/<pid>/task/*/status:
a thread's wakeups), and whether a collection run finished in that second (the `self`
receiver's run counters on /metrics, read once per --window). It prints the CPU share of
one core and wakeups per second, overall and in the seconds between collection runs.

    scripts/idle-cost                       # builds, then 5 minutes on the small preset
    python3 scripts/idle_cost.py --seconds 60

Standard library only.
"""

import argparse
import glob
import os
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak import Procs, free_port, listening, wait_for  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # utime and stime: fields 14 and 15, 11 and 12 after the state.
    return (int(rest[11]) + int(rest[12])) / TICK


def switches(pid):
    n = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return n


def runs(port):
    """Finished collection runs, all ECS collectors together (the self receiver's excluded)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in body.splitlines():
        if line.startswith("ecs_otel_agent_receiver_runs_total{") and 'receiver="self"' not in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--warmup", type=float, default=20)
    p.add_argument("--preset", default="small")
    p.add_argument("--agent", default=os.path.join(root, "target/release/ecs-otel-agent"))
    p.add_argument("--sim", default=os.path.join(root, "target/release/ecs-sim"))
    args = p.parse_args()

    out = tempfile.mkdtemp(prefix="idle-cost-")
    sim_port, otlp_port, prom_port, health_port = (free_port() for _ in range(4))
    ca = os.path.join(out, "sim-ca.pem")
    procs = Procs(out)
    spawn = procs.spawn

    try:
        spawn("sim", [args.sim, "--preset", args.preset, "--listen",
                      f"127.0.0.1:{sim_port}", "--cert-out", ca])
        wait_for("the simulator", lambda: listening(sim_port) and os.path.exists(ca), 300)
        procs.rotel(otlp_port)
        cfg = os.path.join(out, "agent.yaml")
        with open(cfg, "w") as f:
            # Default intervals: nothing set but what the agent needs to reach its peers.
            f.write(f"""
receivers:
  ecs/idle:
    endpoint: https://127.0.0.1:{sim_port}
    username: emcmonitor
    password: ${{env:IDLE_ECS_PASSWORD}}
    tls:
      ca_file: {ca}
  self: {{}}
exporters:
  prometheus:
    endpoint: 127.0.0.1:{prom_port}
  otlp:
    endpoint: http://127.0.0.1:{otlp_port}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health_port}
service:
  extensions: [health_check]
  pipelines:
    metrics:
      receivers: [ecs/idle, self]
      exporters: [prometheus, otlp]
    logs:
      receivers: [ecs/idle]
      exporters: [otlp]
    traces:
      exporters: [otlp]
""")
        agent = spawn("agent", [args.agent, "--config", cfg], env={"IDLE_ECS_PASSWORD": "monitor-pass"})
        wait_for("the agent", lambda: listening(health_port), 120)
        time.sleep(args.warmup)

        window = 1.0
        samples = []  # (cpu seconds, switches, finished runs or None) per second
        start = time.time()
        prev = (cpu_seconds(agent.pid), switches(agent.pid), runs(prom_port))
        while time.time() - start < args.seconds:
            time.sleep(window)
            # The /metrics read is itself work for the agent: read it every 10 s only, and
            # the seconds around a run boundary count as busy.
            now_runs = runs(prom_port) if len(samples) % 10 == 9 else prev[2]
            cur = (cpu_seconds(agent.pid), switches(agent.pid), now_runs)
            samples.append((cur[0] - prev[0], cur[1] - prev[1], cur[2] != prev[2]))
            prev = cur
        wall = time.time() - start
        cpu = sum(s[0] for s in samples)
        sw = sum(s[1] for s in samples)
        # A 10 s block in which a run finished (or the metrics read happened) is busy.
        quiet = []
        for i in range(0, len(samples), 10):
            block = samples[i:i + 10]
            if not any(s[2] for s in block):
                quiet.extend(block[:-1])  # the last second holds our /metrics read
        q_cpu = sum(s[0] for s in quiet)
        q_sw = sum(s[1] for s in quiet)
        print(f"idle-cost preset={args.preset} seconds={wall:.0f} "
              f"cpu_percent_of_one_core={100 * cpu / wall:.3f} wakeups_per_s={sw / wall:.1f} "
              f"quiet_seconds={len(quiet)} quiet_cpu_percent={100 * q_cpu / max(1, len(quiet)):.3f} "
              f"quiet_wakeups_per_s={q_sw / max(1, len(quiet)):.1f} "
              f"threads={len(glob.glob(f'/proc/{agent.pid}/task/*'))}")
    finally:
        procs.kill_all()


if __name__ == "__main__":
    main()
