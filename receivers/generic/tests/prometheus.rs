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
    for m in &s.resource_metrics[0].to_otlp().scope_metrics[0].metrics {
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
    let metrics = &s.resource_metrics[0].to_otlp().scope_metrics[0].metrics;
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
    for m in &s.resource_metrics[0].to_otlp().scope_metrics[0].metrics {
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

/// A page in a file, read twice: counter and histogram starts kept while they grow, a new
/// start when they go down; values, buckets and quantiles as the page says.
#[tokio::test]
async fn counters_reset_and_points_carry_the_page_values() {
    use std::os::unix::fs::PermissionsExt;
    let dir = testkit::TempDir::new("generic-prom-file");
    let f = dir.path().join("page.prom");
    let write = |requests: u32, observations: u32| {
        let page = format!(
            concat!(
                "# HELP req_total Requests.\n# TYPE req_total counter\n",
                "req_total{{code=\"200\"}} {r}\n",
                "# TYPE lat histogram\n",
                "lat_bucket{{le=\"0.5\"}} 1\nlat_bucket{{le=\"1\"}} {o}\nlat_bucket{{le=\"+Inf\"}} {o}\n",
                "lat_sum 2.5\nlat_count {o}\n",
                "# TYPE gc summary\ngc{{quantile=\"0.5\"}} 0.1\ngc{{quantile=\"0.9\"}} 0.3\ngc_sum 4\ngc_count 20\n",
                "temp 21.5\n",
            ),
            r = requests,
            o = observations
        );
        std::fs::write(&f, page).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    write(10, 4);
    let cfg = decode(json!({
        "metric_groups": {"page": {
            "source_type": "file", "source": f.display().to_string(), "content_type": "prometheus",
            "metrics": {"all": {}}
        }}
    }))
    .unwrap();
    let job = build(&cfg).remove("page").unwrap();
    let starts = |s: &Snapshot| {
        let ms = &s.resource_metrics[0].to_otlp().scope_metrics[0].metrics;
        let counter = match &ms[0].data {
            Some(Data::Sum(x)) => x.data_points[0].start_time_unix_nano,
            other => panic!("{other:?}"),
        };
        let hist = match &ms[1].data {
            Some(Data::Histogram(h)) => h.data_points[0].start_time_unix_nano,
            other => panic!("{other:?}"),
        };
        (counter, hist)
    };
    let first = run(&job, 1, Duration::from_secs(5)).await.unwrap();
    let ms = &first.resource_metrics[0].to_otlp().scope_metrics[0].metrics;
    let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["node.req_total", "node.lat", "node.gc", "node.temp"]
    );
    assert_eq!(ms[0].description, "Requests.");
    let Some(Data::Histogram(h)) = &ms[1].data else {
        panic!()
    };
    let p = &h.data_points[0];
    assert_eq!(
        (p.explicit_bounds.clone(), p.bucket_counts.clone()),
        (vec![0.5, 1.0], vec![1, 3, 0])
    );
    assert_eq!((p.count, p.sum), (4, Some(2.5)));
    let Some(Data::Summary(sm)) = &ms[2].data else {
        panic!()
    };
    let q: Vec<(f64, f64)> = sm.data_points[0]
        .quantile_values
        .iter()
        .map(|q| (q.quantile, q.value))
        .collect();
    assert_eq!(q, [(0.5, 0.1), (0.9, 0.3)]);
    assert_eq!((sm.data_points[0].count, sm.data_points[0].sum), (20, 4.0));
    assert!(
        matches!(&ms[3].data, Some(Data::Gauge(_))),
        "untyped as gauge"
    );

    write(12, 6);
    let grown = run(&job, 2, Duration::from_secs(5)).await.unwrap();
    assert_eq!(starts(&grown), starts(&first), "growing: same start");
    write(3, 1);
    let reset = run(&job, 3, Duration::from_secs(5)).await.unwrap();
    let (c, h) = starts(&reset);
    assert!(
        c > starts(&first).0 && h > starts(&first).1,
        "went down: a new start"
    );
}
