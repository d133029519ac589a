//! Test support shared by the crates' integration tests: the real peers (rotel as the
//! OTLP receiver, a Prometheus server, promtool), free loopback ports, and polling with a
//! deadline instead of sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Polls `cond` every 20 ms until it holds; panics with `what` after `deadline`.
pub fn wait_until(deadline: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !cond() {
        assert!(
            Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True once something accepts connections on `addr`.
pub fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A tool the tests need: `$ENV` if set, else `name` on PATH. Panics with how to install it.
pub fn tool(env: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    on_path(name).unwrap_or_else(|| {
        panic!("{name} not found: set {env} or run scripts/install-test-deps (it installs Prometheus from Debian and rotel from PyPI)")
    })
}

/// The rotel-agent binary shipped inside the `rotel` PyPI package.
pub fn rotel_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ROTEL_AGENT") {
        return PathBuf::from(p);
    }
    if let Some(p) = on_path("rotel-agent") {
        return p;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, rotel; print(os.path.dirname(rotel.__file__))",
        ])
        .output()
        .expect("python3 is needed to locate rotel");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let p = Path::new(&dir).join("rotel-agent");
    assert!(
        p.is_file(),
        "rotel-agent not found (pip install rotel, or run scripts/install-test-deps)"
    );
    p
}

/// A child process killed when dropped, with its stdout and stderr collected.
pub struct Proc {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let mut o = out.lock().unwrap();
                    o.push_str(&strip_ansi(&line));
                    o.push('\n');
                }
            });
        }
        Proc { child, output }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < until,
                "process did not exit within {deadline:?}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// rotel on loopback, printing every metric and span it receives.
pub struct Rotel {
    pub proc: Proc,
    pub grpc: SocketAddr,
}

impl Rotel {
    pub fn start(port: u16) -> Rotel {
        let grpc: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir = std::env::temp_dir().join(format!("rotel-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let proc = Proc::spawn(
            Command::new(rotel_binary())
                .arg("start")
                .args(["--otlp-grpc-endpoint", &grpc.to_string()])
                .args(["--otlp-http-endpoint", "127.0.0.1:0"])
                .args(["--exporter", "blackhole"])
                .args(["--debug-log", "metrics", "--debug-log", "traces"])
                .args(["--debug-log-verbosity", "detailed"])
                .arg("--pid-file")
                .arg(dir.join("rotel.pid"))
                .arg("--log-file")
                .arg(dir.join("rotel.log")),
        );
        wait_until(Duration::from_secs(20), "rotel to listen", || {
            listening(grpc)
        });
        Rotel { proc, grpc }
    }

    pub fn output(&self) -> String {
        self.proc.output()
    }
}
