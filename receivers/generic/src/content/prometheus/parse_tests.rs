#![allow(clippy::unwrap_used)]

use super::*;

fn one(text: &str) -> Family {
    let mut f = parse(text).unwrap();
    assert_eq!(f.len(), 1, "{f:#?}");
    f.remove(0)
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn help_and_type_describe_the_family() {
    let f = one(
        "# HELP http_requests_total Requests served.\\nBy code.\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027\nhttp_requests_total{code=\"400\"} 3\n",
    );
    assert_eq!(f.name, "http_requests_total");
    assert_eq!(f.help, "Requests served.\nBy code.");
    assert_eq!(f.kind, Kind::Counter);
    assert_eq!(f.points.len(), 2);
    assert_eq!(f.points[0].labels, l(&[("code", "200")]));
    assert_eq!(f.points[0].value, Some(1027.0));
}

#[test]
fn a_sample_without_type_is_untyped_and_labels_are_optional() {
    let f = one("some_value 3.5\n");
    assert_eq!(f.kind, Kind::Untyped);
    assert_eq!(f.points[0].labels, []);
    assert_eq!(f.points[0].value, Some(3.5));
    let f = one("# TYPE g gauge\ng{} -2e3\n");
    assert_eq!((f.kind, f.points[0].value), (Kind::Gauge, Some(-2000.0)));
}

#[test]
fn label_values_keep_their_escapes_and_odd_characters() {
    let f = one(
        r#"msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\"",brace="}{, =",} 1.458255915e9"#,
    );
    assert_eq!(
        f.points[0].labels,
        l(&[
            ("path", r"C:\DIR\FILE.TXT"),
            ("error", "Cannot find file:\n\"FILE.TXT\""),
            ("brace", "}{, ="),
        ])
    );
    assert_eq!(f.points[0].value, Some(1.458255915e9));
}

#[test]
fn infinities_and_nan_are_values() {
    let fs = parse("a +Inf\nb -Inf\nc NaN\nd Inf\n").unwrap();
    let v: Vec<f64> = fs.iter().map(|f| f.points[0].value.unwrap()).collect();
    assert_eq!(v[0], f64::INFINITY);
    assert_eq!(v[1], f64::NEG_INFINITY);
    assert!(v[2].is_nan());
    assert_eq!(v[3], f64::INFINITY);
}

#[test]
fn timestamps_and_exemplars_are_read_past() {
    let f = one(
        "# TYPE c counter\nc_total{a=\"1\"} 5 1395066363000\nc_total{a=\"2\"} 6 # {trace_id=\"x\"} 1 1.5\n",
    );
    assert_eq!(f.points.len(), 2);
    assert_eq!(f.points[1].value, Some(6.0));
    assert!(parse("x 1 yesterday\n").is_err());
}

#[test]
fn a_histogram_is_one_point_per_label_set() {
    let f = one(concat!(
        "# HELP rpc_seconds RPC latency.\n",
        "# TYPE rpc_seconds histogram\n",
        "rpc_seconds_bucket{m=\"get\",le=\"0.1\"} 2\n",
        "rpc_seconds_bucket{m=\"get\",le=\"1\"} 5\n",
        "rpc_seconds_bucket{m=\"get\",le=\"+Inf\"} 6\n",
        "rpc_seconds_sum{m=\"get\"} 3.25\n",
        "rpc_seconds_count{m=\"get\"} 6\n",
        "rpc_seconds_bucket{m=\"put\",le=\"0.1\"} 0\n",
        "rpc_seconds_bucket{m=\"put\",le=\"1\"} 0\n",
        "rpc_seconds_bucket{m=\"put\",le=\"+Inf\"} 0\n",
        "rpc_seconds_sum{m=\"put\"} 0\n",
        "rpc_seconds_count{m=\"put\"} 0\n",
    ));
    assert_eq!(f.kind, Kind::Histogram);
    assert_eq!(f.points.len(), 2);
    let p = &f.points[0];
    assert_eq!(p.labels, l(&[("m", "get")]));
    assert_eq!(p.buckets, [(0.1, 2.0), (1.0, 5.0), (f64::INFINITY, 6.0)]);
    assert_eq!((p.sum, p.count), (Some(3.25), Some(6.0)));
}

#[test]
fn a_summary_gathers_its_quantiles_sum_and_count() {
    let f = one(concat!(
        "# TYPE gc_seconds summary\n",
        "gc_seconds{quantile=\"0\"} 1e-05\n",
        "gc_seconds{quantile=\"0.5\"} 0.0002\n",
        "gc_seconds{quantile=\"1\"} NaN\n",
        "gc_seconds_sum 0.5\n",
        "gc_seconds_count 42\n",
    ));
    assert_eq!(f.kind, Kind::Summary);
    assert_eq!(f.points.len(), 1);
    let p = &f.points[0];
    assert_eq!(p.quantiles.len(), 3);
    assert_eq!(p.quantiles[1], (0.5, 0.0002));
    assert_eq!((p.sum, p.count), (Some(0.5), Some(42.0)));
}

#[test]
fn openmetrics_counters_take_total_and_created_and_eof_ends_the_page() {
    let fs = parse(concat!(
        "# TYPE jobs counter\n",
        "# UNIT jobs_seconds seconds\n",
        "# HELP jobs Jobs run.\n",
        "jobs_total{q=\"a\"} 17\n",
        "jobs_created{q=\"a\"} 1.7e9\n",
        "# EOF\n",
        "after_eof 1\n",
    ))
    .unwrap();
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let f = &fs[0];
    assert_eq!((f.name.as_str(), f.kind), ("jobs", Kind::Counter));
    assert_eq!(f.points[0].value, Some(17.0));
    assert_eq!(f.points[0].created, Some(1.7e9));
}

#[test]
fn a_0_0_4_counter_keeps_its_total_name_and_takes_its_created() {
    let f = one("# TYPE n_total counter\nn_total 3\nn_created 1.5e9\n");
    assert_eq!(f.name, "n_total");
    assert_eq!(f.points[0].created, Some(1.5e9));
}

#[test]
fn suffixes_of_undeclared_families_are_families_of_their_own() {
    let fs = parse("x_sum 1\nx_count 2\nx_bucket{le=\"1\"} 3\n").unwrap();
    let names: Vec<&str> = fs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["x_sum", "x_count", "x_bucket"]);
    assert_eq!(fs[2].points[0].labels, l(&[("le", "1")]));
}

#[test]
fn families_without_samples_and_other_comments_are_left_out() {
    let fs = parse("# TYPE empty gauge\n# HELP empty nothing\n# a comment\n\nv 1\n").unwrap();
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].name, "v");
}

#[test]
fn malformed_lines_are_named() {
    let cases = [
        ("x{a=\"1} 2\n", "line 1: unterminated label value"),
        ("ok 1\nx{a=1} 2\n", "line 2: expected \""),
        ("x{a=\"1\",a=\"2\"} 2\n", "line 1: label a twice"),
        ("x\n", "line 1: no value"),
        ("x abc\n", "line 1: \"abc\" is not a number"),
        ("1x 2\n", "line 1: \"1x\" is not a metric name"),
        ("# TYPE x sometype\n", "line 1: unknown type \"sometype\""),
        (
            "x 1\n# TYPE x gauge\n",
            "line 2: # TYPE of x comes after its samples",
        ),
        ("x 1\nx 2\n", "line 2: x: the same series twice"),
        (
            "# TYPE h histogram\nh_bucket 1\n",
            "line 2: h_bucket: no le label",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
            "line 2: h_bucket: le=\"x\" is not a number",
        ),
        (
            "# TYPE h histogram\nh 1\n",
            "line 2: h: a histogram's lines end in _bucket, _sum or _count",
        ),
    ];
    for (page, want) in cases {
        assert_eq!(parse(page).unwrap_err().to_string(), want, "{page:?}");
    }
}
