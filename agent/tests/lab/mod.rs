//! What the end-to-end tests of the built agent share: the binary started on a
//! configuration and waited for, stopped by a signal with its exit checked, and a lab of the
//! simulator (in this process, so that tests read its model and inject faults), a real OTLP
//! receiver (rotel) and loopback ports for the agent's /metrics and health endpoints.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ecs_sim::{RunningSim, SimConfig};
use testkit::{Proc, Rotel, TempDir, free_port, http_get, loopback};

/// The simulator's monitor password, given to configurations as `${env:E2E_ECS_PASSWORD}`.
pub const ECS_PASSWORD: (&str, &str) = ("E2E_ECS_PASSWORD", "monitor-pass");

/// Starts the agent binary on `cfg`, with `env` added to its environment.
pub fn spawn(cfg: &Path, env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-otel-agent"));
    cmd.arg("--config").arg(cfg);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc::spawn(&mut cmd)
}

/// Starts the agent and waits for `/health/ready` on `health`.
pub fn spawn_ready(cfg: &Path, health: SocketAddr, env: &[(&str, &str)]) -> Proc {
    let mut agent = spawn(cfg, env);
    wait_ready(&mut agent, health);
    agent
}

/// Waits up to 30 s for `/health/ready` to answer 200; an agent that exits first fails the
/// test at once, with what it printed.
pub fn wait_ready(agent: &mut Proc, health: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(30);
    while !http_get(health, "/health/ready", &[]).is_ok_and(|(s, _)| s == 200) {
        if let Some(status) = agent.try_wait() {
            panic!(
                "the agent exited ({status}) before it was ready:\n{}",
                agent.output()
            );
        }
        assert!(
            Instant::now() < until,
            "the agent is not ready after 30 s:\n{}",
            agent.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (`TERM`, `INT`) and checks that the agent exits 0 within 20 s; returns
/// what it printed.
pub fn stop(agent: &mut Proc, signal: &str) -> String {
    agent.signal(signal);
    let status = agent.wait_exit(Duration::from_secs(20));
    let out = agent.output();
    assert!(status.success(), "exit {status:?}\n{out}");
    out
}

/// The simulator on a runtime of its own, its CA certificate in a temporary folder, rotel,
/// and two free loopback addresses for the agent's endpoints.
pub struct Lab {
    // Field order: the simulator stops before its runtime.
    pub sim: RunningSim,
    pub rotel: Rotel,
    pub prom: SocketAddr,
    pub health: SocketAddr,
    pub dir: TempDir,
    rt: tokio::runtime::Runtime,
}

impl Lab {
    pub fn start(name: &str, sim: SimConfig) -> Lab {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt.block_on(ecs_sim::start(sim)).unwrap();
        let dir = TempDir::new(name);
        std::fs::write(
            dir.path().join("ecs-ca.pem"),
            sim.cert_pem.as_deref().unwrap(),
        )
        .unwrap();
        Lab {
            sim,
            rotel: Rotel::start(free_port()),
            prom: loopback(),
            health: loopback(),
            dir,
            rt,
        }
    }

    /// The simulator's CA certificate, for the receiver's `tls.ca_file`.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ecs-ca.pem")
    }

    /// Writes the agent's configuration; returns its path.
    pub fn config(&self, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("agent.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Stops the simulator on its runtime.
    pub fn stop(self) {
        let Lab { sim, rt, .. } = self;
        rt.block_on(sim.stop());
    }
}
