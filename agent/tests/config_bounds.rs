//! Hostile and careless configurations: an alias bomb, a file without end, empty
//! passwords, an invalid log level. Each through the binary, as `validate` and as the
//! agent's start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use testkit::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ecs-otel-agent");

const GOOD: &str = "receivers:
  self:
    collection_interval: 15s
exporters:
  prometheus:
    endpoint: 127.0.0.1:0
service:
  pipelines:
    metrics:
      receivers: [self]
      exporters: [prometheus]
";

/// 9 levels of 9 aliases each to the level below: 9^10 leaves from 341 bytes.
fn alias_bomb() -> String {
    let name = |l: usize| char::from(b'a' + l as u8);
    let mut s = format!("a: &a [{}]\n", ["x"; 9].join(","));
    for l in 1..=9 {
        let aliases = vec![format!("*{}", name(l - 1)); 9].join(",");
        s.push_str(&format!("{0}: &{0} [{aliases}]\n", name(l)));
    }
    s
}

/// Runs the binary with `args` then `--config path`, its address space capped at 1.5 GB so
/// that unbounded growth ends in a failed allocation rather than in the machine's memory.
fn run_capped(args: &[&str], path: &Path, vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1500000 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .arg("--config")
        .arg(path)
        .envs(vars.iter().copied());
    cmd.output().unwrap()
}

fn write(dir: &TempDir, yaml: &str) -> std::path::PathBuf {
    let path = dir.path().join("agent.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn errors(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_alias_bomb_is_refused_fast_by_validate_and_at_start() {
    let dir = TempDir::new("bomb");
    let bomb = alias_bomb();
    assert!(bomb.len() <= 360, "{} bytes", bomb.len());
    let path = write(&dir, &format!("{GOOD}{bomb}"));
    for args in [&["validate"][..], &[][..]] {
        let started = Instant::now();
        let out = run_capped(args, &path, &[]);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let errors = errors(&out);
        assert_eq!(errors.len(), 1, "{args:?}: {errors:?}");
        let e = &errors[0];
        assert!(
            e.starts_with(&format!("error: {}: line ", path.display())),
            "{e}"
        );
        assert!(
            e.contains("expands to more than 200000 nodes") && e.contains("copied by aliases"),
            "{e}"
        );
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
    }
}

#[test]
fn a_file_past_the_size_bound_is_refused_without_reading_it_all() {
    let dir = TempDir::new("big");
    let path = dir.path().join("agent.yaml");
    let line = format!("# {}\n", "x".repeat(1021));
    std::fs::write(&path, format!("{GOOD}{}", line.repeat(5 * 1024))).unwrap();
    let out = run_capped(&["validate"], &path, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        errors(&out),
        [format!(
            "error: {}: the file is larger than 4 MiB ({} bytes or more); refused, a configuration needs far less",
            path.display(),
            std::fs::metadata(&path).unwrap().len()
        )]
    );
    // A device that never ends is read up to the bound only.
    let out = run_capped(&["validate"], Path::new("/dev/zero"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        errors(&out),
        [format!(
            "error: /dev/zero: the file is larger than 4 MiB ({} bytes or more); refused, a configuration needs far less",
            4 * 1024 * 1024 + 1
        )]
    );
}

#[test]
fn nesting_past_the_bound_is_refused() {
    let dir = TempDir::new("deep");
    let path = write(
        &dir,
        &format!("{GOOD}deep: {}x{}\n", "[".repeat(100), "]".repeat(100)),
    );
    let out = run_capped(&["validate"], &path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let errors = errors(&out);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("nest deeper than 64 levels"),
        "{errors:?}"
    );
}

const ECS: &str = "  ecs/prod:
    endpoint: https://ecs.example.com:4443
    username: monitor
";

fn with_ecs(password: &str) -> String {
    GOOD.replace(
        "receivers:\n",
        &format!("receivers:\n{ECS}    password: {password}\n"),
    )
    .replace("receivers: [self]", "receivers: [ecs/prod, self]")
}

const EMPTY_PASSWORD: &str = "error: receivers.ecs/prod.password: is empty; give the secret (if it comes from ${env:VAR}, VAR is set but empty)";

#[test]
fn an_empty_password_is_refused_as_an_empty_password_file_is() {
    let dir = TempDir::new("empty-password");
    for (password, vars) in [
        ("\"\"", &[][..]),
        ("''", &[][..]),
        ("\"${env:ECS_PASSWORD}\"", &[("ECS_PASSWORD", "")][..]),
    ] {
        let path = write(&dir, &with_ecs(password));
        let out = run_capped(&["validate"], &path, vars);
        assert_eq!(out.status.code(), Some(1), "{password}: {out:?}");
        assert_eq!(errors(&out), [EMPTY_PASSWORD], "{password}");
    }
    let path = write(&dir, &with_ecs("\"${env:ECS_PASSWORD}\""));
    let out = run_capped(&["validate"], &path, &[("ECS_PASSWORD", "s3cret")]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn an_invalid_log_level_is_one_problem_at_its_path() {
    let dir = TempDir::new("level");
    let path = write(
        &dir,
        &format!("{GOOD}  telemetry:\n    logs:\n      level: verbose\n"),
    );
    let out = run_capped(&["validate"], &path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let errors = errors(&out);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("error: service.telemetry.logs.level: unknown variant `verbose`"),
        "{errors:?}"
    );
    assert!(!errors[0].contains("no pipeline"), "{errors:?}");
}
