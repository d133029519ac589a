//! Test support shared by the crates' integration tests: the real peers (rotel as the
//! OTLP receiver, a Prometheus server, promtool), free loopback ports, and polling with a
//! deadline instead of sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod alloc;

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

/// A loopback address whose port was free a moment ago.
pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
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

    /// Asks the process to stop (SIGTERM) and waits for it, so that what it accepted is
    /// also written out: a receiver killed outright may have acknowledged data it never
    /// printed.
    pub fn terminate(&mut self, deadline: Duration) -> std::process::ExitStatus {
        self.signal("TERM");
        self.wait_exit(deadline)
    }

    /// Sends a signal by name (`TERM`, `INT`, `HUP`).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "kill -{name} {}",
            self.pid()
        );
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

/// rotel on loopback, printing every metric, span and log record it receives.
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
                .args(["--debug-log", "logs"])
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

/// One log record as rotel's detailed debug output prints it. Values are kept as printed
/// (`Str(b1)`, `Int(3)`, `SEVERITY_NUMBER_INFO(9)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotelLogRecord {
    /// The attributes of the resource it came under.
    pub resource: Vec<(String, String)>,
    /// `name version` of its instrumentation scope.
    pub scope: String,
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_text: String,
    pub severity_number: String,
    pub body: String,
    pub attributes: Vec<(String, String)>,
}

impl RotelLogRecord {
    /// The printed value of attribute `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The string value of attribute `key` (rotel prints `Str(value)`).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.attribute(key)
            .and_then(|v| v.strip_prefix("Str(")?.strip_suffix(')'))
    }
}

/// The log records in rotel's output (started by [`Rotel::start`], which asks for them), in
/// the order received.
pub fn rotel_log_records(output: &str) -> Vec<RotelLogRecord> {
    #[derive(PartialEq)]
    enum At {
        Elsewhere,
        Resource,
        Record,
    }
    let mut at = At::Elsewhere;
    let mut in_logs = false;
    let mut resource: Vec<(String, String)> = Vec::new();
    let mut scope = String::new();
    let mut out: Vec<RotelLogRecord> = Vec::new();
    let pair = |l: &str| {
        l.split_once(": ")
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    };
    for line in output.lines() {
        let t = line.trim();
        if t.starts_with("ResourceLog #") {
            (in_logs, at) = (true, At::Elsewhere);
            resource.clear();
            continue;
        }
        if t.starts_with("ResourceMetrics #") || t.starts_with("ResourceSpans #") {
            (in_logs, at) = (false, At::Elsewhere);
        }
        if !in_logs {
            continue;
        }
        if t == "Resource attributes:" {
            at = At::Resource;
        } else if let Some(s) = t.strip_prefix("InstrumentationScope ") {
            scope = s.to_owned();
        } else if t.starts_with("LogRecord #") {
            out.push(RotelLogRecord {
                resource: resource.clone(),
                scope: scope.clone(),
                ..RotelLogRecord::default()
            });
            at = At::Record;
        } else if let Some(kv) = t.strip_prefix("-> ") {
            let Some(kv) = pair(kv) else { continue };
            match at {
                At::Resource => resource.push(kv),
                At::Record => {
                    if let Some(r) = out.last_mut() {
                        r.attributes.push(kv);
                    }
                }
                At::Elsewhere => {}
            }
        } else if at == At::Record
            && let Some(r) = out.last_mut()
            && let Some((k, v)) = pair(t)
        {
            match k.as_str() {
                "Timestamp" => r.time_unix_nano = v.parse().unwrap_or(0),
                "ObservedTimestamp" => r.observed_time_unix_nano = v.parse().unwrap_or(0),
                "SeverityText" => r.severity_text = v,
                "SeverityNumber" => r.severity_number = v,
                "Body" => r.body = v,
                "Flags" => at = At::Elsewhere,
                _ => {}
            }
        } else if t.starts_with("ScopeLogs #") {
            at = At::Elsewhere;
        }
    }
    out
}

/// A minimal HTTP/1.1 GET on loopback (no TLS, no chunked bodies): status and body.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A Prometheus server on loopback scraping `targets` every second.
pub struct Prometheus {
    pub proc: Proc,
    pub addr: SocketAddr,
    _dir: TempDir,
}

impl Prometheus {
    pub fn start(targets: &[SocketAddr], extra_scrape_config: &str) -> Prometheus {
        Self::start_full(targets, extra_scrape_config, &[], &[])
    }

    /// As [`Prometheus::start`], also evaluating the rule files every second.
    pub fn start_with_rules(
        targets: &[SocketAddr],
        extra_scrape_config: &str,
        rule_files: &[&Path],
    ) -> Prometheus {
        Self::start_full(targets, extra_scrape_config, rule_files, &[])
    }

    /// As [`Prometheus::start`], with more command-line arguments
    /// (`--enable-feature=exemplar-storage`).
    pub fn start_with(
        targets: &[SocketAddr],
        extra_scrape_config: &str,
        args: &[&str],
    ) -> Prometheus {
        Self::start_full(targets, extra_scrape_config, &[], args)
    }

    fn start_full(
        targets: &[SocketAddr],
        extra_scrape_config: &str,
        rule_files: &[&Path],
        args: &[&str],
    ) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let list = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: agent\n    honor_labels: true\n{extra_scrape_config}    static_configs:\n      - targets: [{list}]\n"
        );
        if !rule_files.is_empty() {
            config.push_str("rule_files:\n");
            for f in rule_files {
                config.push_str(&format!("  - '{}'\n", f.display()));
            }
        }
        let cfg_path = dir.path().join("prometheus.yml");
        std::fs::write(&cfg_path, config).unwrap();
        let proc = Proc::spawn(
            Command::new(tool("PROMETHEUS", "prometheus"))
                .arg(format!("--config.file={}", cfg_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .args(args),
        );
        wait_until(Duration::from_secs(30), "Prometheus to listen", || {
            listening(addr)
        });
        Prometheus {
            proc,
            addr,
            _dir: dir,
        }
    }

    /// The raw JSON of an instant query.
    pub fn query(&self, promql: &str) -> String {
        let q = pipeline::percent::encode(promql);
        http_get(self.addr, &format!("/api/v1/query?query={q}"), &[])
            .map(|(_, body)| body)
            .unwrap_or_default()
    }
}

impl Prometheus {
    /// The raw JSON of an exemplar query over the last `window`.
    pub fn query_exemplars(&self, promql: &str, window: Duration) -> String {
        let q = pipeline::percent::encode(promql);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let start = now - window.as_secs_f64();
        http_get(
            self.addr,
            &format!("/api/v1/query_exemplars?query={q}&start={start:.3}&end={now:.3}"),
            &[],
        )
        .map(|(_, body)| body)
        .unwrap_or_default()
    }
}

/// A temporary directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "{prefix}-{}-{n}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `promtool check metrics` on an exposition; the report (empty when clean) and
/// whether promtool accepted it.
pub fn promtool_check_metrics(exposition: &[u8]) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(tool("PROMTOOL", "promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(exposition).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report.trim().to_owned())
}
