//! A real Prometheus server's own /metrics page imported through an http source with
//! content_type prometheus: every family of the page, with as many series as the page
//! has, each of the family's type, HELP as description.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use pipeline::Snapshot;
use pipeline::otlp::metrics::v1::metric::Data;
use serde_json::json;
use support::{build, decode, run};

/// What the page says, read independently of the receiver: per family its type, HELP
/// and number of series (a histogram's or summary's lines of one label set are one).
#[derive(Debug, Default, PartialEq)]
struct PageFamily {
    kind: String,
    help: String,
    series: std::collections::BTreeSet<String>,
}

fn page_families(page: &str) -> BTreeMap<String, PageFamily> {
    let mut out: BTreeMap<String, PageFamily> = BTreeMap::new();
    let le = regex::Regex::new(r#"(le|quantile)="[^"]*",?"#).unwrap();
    for line in page.lines() {
        let words: Vec<&str> = line.splitn(4, ' ').collect();
        match words.as_slice() {
            ["#", "TYPE", name, kind] => {
                out.entry((*name).into()).or_default().kind = (*kind).into()
            }
            ["#", "HELP", name, help] => {
                out.entry((*name).into()).or_default().help = (*help).into()
            }
            _ if line.starts_with('#') || line.is_empty() => {}
            _ => {
                let series = line.rsplit_once(' ').unwrap().0;
                let name = series.split('{').next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .filter_map(|s| name.strip_suffix(s))
                    .find(|base| {
                        out.get(*base)
                            .is_some_and(|f| f.kind == "histogram" || f.kind == "summary")
                    })
                    .unwrap_or(name)
                    .to_owned();
                let labels = le.replace_all(series.strip_prefix(name).unwrap(), "");
                let labels = labels.replace(",}", "}").replace("{}", "");
                out.entry(family).or_default().series.insert(labels);
            }
        }
    }
    out.retain(|_, f| !f.series.is_empty());
    out
}

/// Per emitted metric: its OTLP type, description and number of points.
fn emitted(s: &Snapshot) -> BTreeMap<String, (String, String, usize)> {
    let mut out = BTreeMap::new();
    for m in &s.resource_metrics[0].scope_metrics[0].metrics {
        let (kind, n) = match &m.data {
            Some(Data::Gauge(g)) => ("gauge", g.data_points.len()),
            Some(Data::Sum(s)) if s.is_monotonic => ("counter", s.data_points.len()),
            Some(Data::Histogram(h)) => ("histogram", h.data_points.len()),
            Some(Data::Summary(s)) => ("summary", s.data_points.len()),
            other => panic!("{}: unexpected {other:?}", m.name),
        };
        let name = m.name.strip_prefix("node.").unwrap().to_owned();
        out.insert(name, (kind.to_owned(), m.description.clone(), n));
    }
    out
}

fn expected(page: &BTreeMap<String, PageFamily>) -> BTreeMap<String, (String, String, usize)> {
    page.iter()
        .map(|(name, f)| {
            let kind = match f.kind.as_str() {
                "untyped" | "" => "gauge",
                k => k,
            };
            (
                name.clone(),
                (
                    kind.to_owned(),
                    f.help.replace("\\n", "\n").replace("\\\\", "\\"),
                    f.series.len(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_page_is_imported_family_by_family() {
    let prom = tokio::task::spawn_blocking(|| testkit::Prometheus::start(&[], ""))
        .await
        .unwrap();
    let addr = prom.addr;
    let get = move || async move {
        tokio::task::spawn_blocking(move || testkit::http_get(addr, "/metrics", &[]).unwrap())
            .await
            .unwrap()
    };
    // The first request adds the /metrics handler's own series; read past it.
    assert_eq!(get().await.0, 200);
    let cfg = decode(json!({
        "metric_groups": {"prom": {
            "source_type": "http", "source": format!("http://{addr}/metrics"),
            "content_type": "prometheus", "cache": "0s",
            "metrics": {"all": {}}
        }}
    }))
    .unwrap();
    let job = build(&cfg).remove("prom").unwrap();
    // A series may appear between two reads of the page: compare a read of the receiver
    // with the page read just before and after it, when those two agree.
    for attempt in 1..=5 {
        let before = page_families(&get().await.1);
        let s = run(&job, attempt, Duration::from_secs(10)).await.unwrap();
        let after = page_families(&get().await.1);
        if before != after {
            continue;
        }
        assert!(before.len() > 50, "a real page: {} families", before.len());
        assert!(before.values().any(|f| f.kind == "histogram"));
        assert!(before.values().any(|f| f.kind == "summary"));
        let got = emitted(&s);
        let want = expected(&before);
        for (name, w) in &want {
            assert_eq!(got.get(name), Some(w), "family {name}");
        }
        assert_eq!(got.len(), want.len(), "no other family");
        check_histograms(&s);
        filtered(addr, &before).await;
        return;
    }
    panic!("the page kept changing between reads");
}

/// A filter imports the families whose whole name it matches.
async fn filtered(addr: std::net::SocketAddr, page: &BTreeMap<String, PageFamily>) {
    let cfg = decode(json!({
        "metric_prefix": "p.",
        "standalone_metrics": {"go": {
            "source_type": "http", "source": format!("http://{addr}/metrics"),
            "content_type": "prometheus", "filter": "go_.*", "labels": {"site": "=lab"}
        }}
    }))
    .unwrap();
    let s = run(&build(&cfg)["go"], 1, Duration::from_secs(10))
        .await
        .unwrap();
    let metrics = &s.resource_metrics[0].scope_metrics[0].metrics;
    let got: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    let want: Vec<String> = page
        .keys()
        .filter(|n| n.starts_with("go_"))
        .map(|n| format!("p.{n}"))
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(want.iter().all(|w| got.contains(&w.as_str())), "{got:?}");
    let Some(Data::Gauge(g)) = &metrics
        .iter()
        .find(|m| m.name == "p.go_goroutines")
        .unwrap()
        .data
    else {
        panic!("go_goroutines is a gauge")
    };
    assert_eq!(
        g.data_points[0].attributes[0].key, "site",
        "fixed labels are added"
    );
}

/// Each histogram point's count is the sum of its buckets, over one bound more.
fn check_histograms(s: &Snapshot) {
    for m in &s.resource_metrics[0].scope_metrics[0].metrics {
        if let Some(Data::Histogram(h)) = &m.data {
            for p in &h.data_points {
                assert_eq!(
                    p.bucket_counts.len(),
                    p.explicit_bounds.len() + 1,
                    "{}",
                    m.name
                );
                assert_eq!(p.count, p.bucket_counts.iter().sum::<u64>(), "{}", m.name);
                assert!(p.start_time_unix_nano > 0);
            }
        }
    }
}

#[test]
fn import_problems_are_named() {
    let e = decode(json!({
        "metric_groups": {"p": {
            "source_type": "http", "source": "http://127.0.0.1:9/metrics", "content_type": "prometheus",
            "metrics": {"m": {"filter": "go_(", "value_on_error": 0, "labels": {"x": "field", "site": "=lab"}}}
        }}
    }))
    .unwrap_err();
    let at = "receivers.generic/node.metric_groups.p.metrics.m";
    assert!(
        e.iter()
            .any(|p| p.starts_with(&format!("{at}.filter: not a regular expression"))),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|p| p.starts_with(&format!("{at}.value_on_error: imported families"))),
        "{e:#?}"
    );
    assert!(
        e.iter().any(|p| p
            == &format!(
                "{at}.labels.x: a prometheus page's labels are kept; add only fixed labels (=value)"
            )),
        "{e:#?}"
    );
    assert_eq!(e.len(), 3, "{e:#?}");
}
