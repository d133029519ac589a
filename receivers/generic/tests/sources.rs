//! The generic receiver against real things: processes started from scripts the test
//! writes, real files (changed, rotated, deleted, recreated), and static values. Each test
//! decodes a service block as the agent does, builds its jobs through the registry's
//! traits, runs them and checks the values they emit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use pipeline::Snapshot;
use pipeline::otlp::common::v1::any_value::Value as Any;
use pipeline::otlp::metrics::v1::metric::Data;
use pipeline::otlp::metrics::v1::number_data_point::Value as Num;
use serde_json::json;
use support::{build, decode, run};
use testkit::TempDir;

/// Every point as `name{k=v,...} value`, sorted.
fn points(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for rm in s.resource_metrics.iter().map(|r| r.to_otlp()) {
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let pts = match &m.data {
                    Some(Data::Gauge(g)) => &g.data_points,
                    Some(Data::Sum(s)) => &s.data_points,
                    _ => continue,
                };
                for p in pts {
                    let labels: Vec<String> = p
                        .attributes
                        .iter()
                        .map(|kv| {
                            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(Any::StringValue(s)) => s.clone(),
                                other => format!("{other:?}"),
                            };
                            format!("{}={v}", kv.key)
                        })
                        .collect();
                    let v = match p.value {
                        Some(Num::AsDouble(d)) => d,
                        Some(Num::AsInt(i)) => i as f64,
                        None => f64::NAN,
                    };
                    out.push(format!("{}{{{}}} {v}", m.name, labels.join(",")));
                }
            }
        }
    }
    out.sort();
    out
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn a_command_group_derives_every_metric_from_one_run() {
    let dir = TempDir::new("generic-cmd");
    let counter = dir.path().join("runs");
    // Each run appends a line: the file counts how often the command ran.
    let cmd = script(
        dir.path(),
        "disks.sh",
        &format!(
            "echo run >> {}\necho 'sda used 42 free 58'\necho 'sdb used 7 free 93'",
            counter.display()
        ),
    );
    let cfg = decode(json!({
        "metric_groups": {"disks": {
            "source_type": "command", "source": [cmd],
            "metrics": {
                "disk.used": {"filter": "(?P<disk>sd[a-z]) used (?P<value>\\d+)", "unit": "%"},
                "disk.free": {"filter": "(?P<disk>sd[a-z]) used \\d+ free (?P<value>\\d+)", "labels": {"site": "=lab"}},
            }
        }}
    }))
    .unwrap();
    let jobs = build(&cfg);
    let s = run(&jobs["disks"], 1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        points(&s),
        [
            "node.disk.free{disk=sda,site=lab} 58",
            "node.disk.free{disk=sdb,site=lab} 93",
            "node.disk.used{disk=sda} 42",
            "node.disk.used{disk=sdb} 7",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1,
        "one run for two metrics"
    );
}

#[tokio::test]
async fn a_command_sees_only_the_allowed_environment() {
    let dir = TempDir::new("generic-env");
    let cmd = script(
        dir.path(),
        "env.sh",
        "echo \"home=${HOME:-unset} path=${PATH:+set}\"; echo n 1",
    );
    let cfg = decode(json!({
        "standalone_metrics": {"env_ok": {
            "source_type": "command", "source": [cmd], "env": ["PATH"],
            "filter": "home=unset path=set\\nn (?P<value>\\d)"
        }}
    }))
    .unwrap();
    let s = run(&build(&cfg)["env_ok"], 1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(points(&s), ["node.env_ok{} 1"]);
}

#[tokio::test]
async fn a_hanging_command_is_killed_at_the_deadline_and_its_value_on_error_emitted() {
    let dir = TempDir::new("generic-hang");
    let pidfile = dir.path().join("pid");
    let cmd = script(
        dir.path(),
        "hang.sh",
        &format!("echo $$ > {}\nexec sleep 600", pidfile.display()),
    );
    let cfg = decode(json!({
        "standalone_metrics": {"hung": {
            "source_type": "command", "source": [cmd],
            "filter": "(?P<value>\\d+)", "value_on_error": -1
        }}
    }))
    .unwrap();
    let started = std::time::Instant::now();
    let e = run(&build(&cfg)["hung"], 1, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(e.kind, "timeout", "{}", e.message);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the read gave up at its deadline"
    );
    assert_eq!(points(e.partial.as_deref().unwrap()), ["node.hung{} -1"]);
    // The child was killed: its pid is gone (polled with a deadline, the kill is async).
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    let gone = (0..200).any(|_| {
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        if alive {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive
    });
    assert!(gone, "process {pid} still runs");
}

#[tokio::test]
async fn output_over_the_cap_fails_the_read() {
    let dir = TempDir::new("generic-big");
    let cmd = script(
        dir.path(),
        "big.sh",
        "head -c 10000000 /dev/zero | tr '\\0' '1'",
    );
    let cfg = decode(json!({
        "standalone_metrics": {"big": {
            "source_type": "command", "source": [cmd], "filter": "(?P<value>1)",
            "max_bytes": 1048576
        }}
    }))
    .unwrap();
    let e = run(&build(&cfg)["big"], 1, Duration::from_secs(20))
        .await
        .unwrap_err();
    assert_eq!(e.kind, "too_large", "{}", e.message);
    assert!(
        points(e.partial.as_deref().unwrap()).is_empty(),
        "no value_on_error, nothing kept"
    );
}

#[tokio::test]
async fn a_failing_exit_status_fails_the_read_and_the_last_value_is_kept() {
    let dir = TempDir::new("generic-exit");
    let flag = dir.path().join("fail");
    let cmd = script(
        dir.path(),
        "flaky.sh",
        &format!(
            "if [ -e {} ]; then echo broken >&2; exit 3; fi\necho 5",
            flag.display()
        ),
    );
    let cfg = decode(json!({
        "standalone_metrics": {"flaky": {"source_type": "command", "source": [cmd], "filter": "(?P<value>\\d+)", "cache": "0s"}}
    }))
    .unwrap();
    let jobs = build(&cfg);
    assert_eq!(
        points(
            &run(&jobs["flaky"], 1, Duration::from_secs(10))
                .await
                .unwrap()
        ),
        ["node.flaky{} 5"]
    );
    std::fs::write(&flag, "").unwrap();
    let e = run(&jobs["flaky"], 2, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(e.kind, "exit_status");
    assert!(
        e.message.contains("exit status: 3") && e.message.contains("broken"),
        "{}",
        e.message
    );
    assert_eq!(
        points(e.partial.as_deref().unwrap()),
        ["node.flaky{} 5"],
        "kept within keep_last_value"
    );
}

#[tokio::test]
async fn a_file_is_reread_when_changed_rotated_or_recreated() {
    let dir = TempDir::new("generic-file");
    let f = dir.path().join("stats.json");
    let write = |v: u32| {
        std::fs::write(
            &f,
            format!(
                r#"{{"disks": [{{"name": "sda", "used": "{v}"}}, {{"name": "sdb", "used": 1e3}}]}}"#
            ),
        )
        .unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    write(10);
    let cfg = decode(json!({
        "metric_prefix": "n.",
        "metric_groups": {"stats": {
            "source_type": "file", "source": f.display().to_string(), "content_type": "json",
            "metrics": {"used": {"filter": "$.disks[*]", "value": "used", "labels": {"disk": "name"}}}
        }}
    }))
    .unwrap();
    let job = build(&cfg).remove("stats").unwrap();
    let read = |n| {
        let job = job.clone();
        async move { points(&run(&job, n, Duration::from_secs(5)).await.unwrap()) }
    };
    assert_eq!(
        read(1).await,
        ["n.used{disk=sda} 10", "n.used{disk=sdb} 1000"]
    );
    write(11);
    assert_eq!(read(2).await[0], "n.used{disk=sda} 11", "modified");
    // Rotated: renamed away, a new file in its place.
    std::fs::rename(&f, dir.path().join("stats.json.1")).unwrap();
    write(12);
    assert_eq!(read(3).await[0], "n.used{disk=sda} 12", "rotated");
    std::fs::remove_file(&f).unwrap();
    let e = run(&job, 4, Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(e.kind, "unavailable", "{}", e.message);
    write(13);
    assert_eq!(read(5).await[0], "n.used{disk=sda} 13", "recreated");
}

#[tokio::test]
async fn a_file_others_may_write_is_refused() {
    let dir = TempDir::new("generic-perm");
    let f = dir.path().join("value");
    std::fs::write(&f, "7").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
    let cfg = decode(json!({
        "standalone_metrics": {"v": {"source_type": "file", "source": f.display().to_string(), "filter": "(?P<value>\\d+)"}}
    }))
    .unwrap();
    let e = run(&build(&cfg)["v"], 1, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(e.kind, "refused", "{}", e.message);
    assert!(e.message.contains("mode 666"), "{}", e.message);
}

#[tokio::test]
async fn static_values_and_counters() {
    let cfg = decode(json!({
        "standalone_metrics": {
            "capacity.planned": {"source_type": "static", "source": "1.5e3", "unit": "By"},
            "boots": {"source_type": "static", "source": "3", "type": "counter"}
        }
    }))
    .unwrap();
    let jobs = build(&cfg);
    let s = run(&jobs["capacity.planned"], 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(points(&s), ["node.capacity.planned{} 1500"]);
    let s = run(&jobs["boots"], 1, Duration::from_secs(1))
        .await
        .unwrap();
    let sum = match &s.resource_metrics[0].to_otlp().scope_metrics[0].metrics[0].data {
        Some(Data::Sum(s)) => s.clone(),
        other => panic!("{other:?}"),
    };
    assert!(sum.is_monotonic);
    assert!(sum.data_points[0].start_time_unix_nano > 0);
}

#[test]
fn every_key_is_checked_with_its_path() {
    let e = decode(json!({
        "metric_groups": {
            "g": {"source_type": "command", "source": "df -h", "colour": 1,
                  "metrics": {"m": {"filter": "(\\d+)"}}},
            "j": {"source_type": "file", "source": "relative.json", "content_type": "json",
                  "metrics": {"m2": {"filter": "$[", "type": "histogram"}}},
            "p": {"source_type": "http", "source": "ftp://x", "content_type": "prometheus",
                  "collection_interval": "1s", "metrics": {"m3": {}}}
        },
        "collection_interval": "10s"
    }))
    .unwrap_err();
    let has = |s: &str| e.iter().any(|x| x.starts_with(s));
    assert!(
        has("receivers.generic/node.metric_groups.g.colour: unknown key"),
        "{e:#?}"
    );
    // A type error stops the block's decoding: its own checks come once it reads.
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        has("receivers.generic/node.metric_groups.j.metrics.m2.type: unknown variant `histogram`"),
        "{e:#?}"
    );
}

#[test]
fn each_problem_of_a_valid_shape_is_named() {
    let e = decode(json!({
        "metric_groups": {
            "g": {"source_type": "command", "source": "df -h",
                  "metrics": {"m": {"filter": "(\\d+)"}}},
            "j": {"source_type": "file", "source": "relative.json", "content_type": "json",
                  "metrics": {"m2": {"filter": "$["}}},
            "p": {"source_type": "http", "source": "ftp://x", "content_type": "prometheus",
                  "metrics": {"m3": {}}}
        }
    }))
    .unwrap_err();
    let expected = [
        "receivers.generic/node.metric_groups.g.source: give the command as a list ([program, arg, ...]), or set shell: true to run this string through /bin/sh -c",
        "receivers.generic/node.metric_groups.g.metrics.m.filter: name the value's capture: (?P<value>...)",
        "receivers.generic/node.metric_groups.j.source: \"relative.json\": give an absolute path",
        "receivers.generic/node.metric_groups.p.source: invalid URL \"ftp://x\"; expected http(s)://host:port/path",
    ];
    for x in expected {
        assert!(e.iter().any(|p| p == x), "missing\n  {x}\nin {e:#?}");
    }
    assert!(
        e.iter().any(|p| p.starts_with(
            "receivers.generic/node.metric_groups.j.metrics.m2.filter: not a JSONPath"
        )),
        "{e:#?}"
    );
}

#[tokio::test]
async fn xml_elements_attributes_and_text() {
    let dir = TempDir::new("generic-xml");
    let f = dir.path().join("disks.xml");
    std::fs::write(
        &f,
        r#"<?xml version="1.0"?><node xmlns="urn:x"><disk name="sda" state="ok"><used>42</used></disk><disk name="sdb" state="bad"><used>7</used></disk><temp unit="C">31.5</temp></node>"#,
    )
    .unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = decode(json!({
        "metric_groups": {"x": {
            "source_type": "file", "source": f.display().to_string(), "content_type": "xml",
            "metrics": {
                "disk.used": {"filter": "/node/disk", "value": "used", "labels": {"disk": "@name", "state": "@state"}},
                "temperature": {"filter": "/node/temp", "labels": {"unit": "@unit"}}
            }
        }}
    }))
    .unwrap();
    let s = run(&build(&cfg)["x"], 1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        points(&s),
        [
            "node.disk.used{disk=sda,state=ok} 42",
            "node.disk.used{disk=sdb,state=bad} 7",
            "node.temperature{unit=C} 31.5",
        ]
    );
}

#[tokio::test]
async fn blocks_share_a_commands_read_only_with_the_same_environment() {
    let dir = TempDir::new("generic-cache");
    let counter = dir.path().join("runs");
    let cmd = script(
        dir.path(),
        "count.sh",
        &format!("echo run >> {}\necho 1", counter.display()),
    );
    let group = |metric: &str, env: &[&str]| {
        json!({"source_type": "command", "source": [cmd.clone()], "env": env,
               "metrics": {metric: {}}})
    };
    let cfg = decode(json!({
        "metric_groups": {"a": group("ma", &[]), "b": group("mb", &[]), "c": group("mc", &["LANG"])}
    }))
    .unwrap_or_else(|e| panic!("{e:?}"));
    let jobs = build(&cfg);
    for name in ["a", "b", "c"] {
        run(&jobs[name], 1, Duration::from_secs(10)).await.unwrap();
    }
    let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(
        runs, 2,
        "a and b share one run within the cache time; c has its own environment"
    );
}
