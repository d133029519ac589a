//! OTel → Prometheus translation, checked against the examples of the OpenTelemetry
//! compatibility specification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::hash_map::RandomState;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use exporter_prometheus::registry::{Format, Registry};
use exporter_prometheus::render::{RenderOptions, render};
use pipeline::otlp::common::v1::{AnyValue, ArrayValue, any_value};
use pipeline::otlp::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, Sum, metric::Data, number_data_point,
};
use pipeline::{
    Batch, HistogramValue, MetricDesc, SnapshotBuilder, SummaryValue, kv, resource, scope,
};

fn text_of(batches: &[Batch], opts: &RenderOptions) -> String {
    let hasher = RandomState::new();
    let mut reg = Registry::default();
    for b in batches {
        reg.replace(
            b.source.clone(),
            render(b, opts, &hasher),
            Duration::from_secs(60),
        );
    }
    let body = reg.current().body_bytes(Format::Text, false);
    String::from_utf8(body.to_vec()).unwrap()
}

fn om_of(batch: &Batch, opts: &RenderOptions) -> String {
    let mut reg = Registry::default();
    reg.replace(
        batch.source.clone(),
        render(batch, opts, &RandomState::new()),
        Duration::from_secs(60),
    );
    String::from_utf8(
        reg.current()
            .body_bytes(Format::OpenMetrics, false)
            .to_vec(),
    )
    .unwrap()
}

fn builder(service: &str) -> SnapshotBuilder {
    SnapshotBuilder::new(
        resource([
            kv("service.name", service),
            kv("service.instance.id", "host-1"),
            kv("host.name", "host-1"),
        ]),
        scope("ecs-otel-agent/test", "1.2.3"),
        SystemTime::now(),
    )
}

fn batch(source: &str, b: SnapshotBuilder) -> Batch {
    Batch::new(source.into(), vec![b.build()])
}

#[test]
fn units_become_suffixes_and_counters_get_total() {
    let mut b = builder("svc");
    b.gauge(
        &MetricDesc::new("system.filesystem.usage", "By", "Usage"),
        10,
        [],
    );
    b.gauge(
        &MetricDesc::new("system.memory.utilization", "1", "Ratio"),
        0.5,
        [],
    );
    b.counter(
        &MetricDesc::new("system.network.dropped", "{packets}", "Dropped"),
        3,
        UNIX_EPOCH,
        [],
    );
    b.counter(
        &MetricDesc::new("emcecs.namespace.ingress", "By", "Ingress"),
        7,
        UNIX_EPOCH,
        [kv("namespace", "t1")],
    );
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    assert!(
        out.contains("# TYPE system_filesystem_usage_bytes gauge\n"),
        "{out}"
    );
    assert!(
        out.contains("# TYPE system_memory_utilization_ratio gauge\n"),
        "{out}"
    );
    assert!(
        out.contains("# TYPE system_network_dropped_total counter\n"),
        "{out}"
    );
    assert!(
        out.contains("# TYPE emcecs_namespace_ingress_bytes_total counter\n"),
        "{out}"
    );
    assert!(out.contains(
        "emcecs_namespace_ingress_bytes_total{namespace=\"t1\",instance=\"host-1\",job=\"svc\",otel_scope_name=\"ecs-otel-agent/test\",otel_scope_version=\"1.2.3\"} 7\n"
    ), "{out}");
}

#[test]
fn colliding_attribute_names_are_joined_in_key_order() {
    let mut b = builder("svc");
    b.gauge(
        &MetricDesc::new("g", "", "G"),
        1,
        [kv("foo.bar", "b"), kv("foo_bar", "c"), kv("foo-bar", "a")],
    );
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    // Original keys sort as foo-bar < foo.bar < foo_bar.
    assert!(out.contains("g{foo_bar=\"a;b;c\","), "{out}");
}

#[test]
fn resource_attributes_go_to_target_info_and_job_instance_to_every_series() {
    let mut b = SnapshotBuilder::new(
        resource([
            kv("service.name", "ecs"),
            kv("service.namespace", "storage"),
            kv("service.instance.id", "cluster-a"),
            kv("ecs.cluster.name", "cluster-a"),
            kv("ecs.vdc.id", "urn:vdc:1"),
        ]),
        scope("s", ""),
        SystemTime::now(),
    );
    b.gauge(&MetricDesc::new("g", "", "G"), 1, []);
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    assert!(out.contains("# TYPE target_info gauge\n"), "{out}");
    assert!(out.contains(
        "target_info{ecs_cluster_name=\"cluster-a\",ecs_vdc_id=\"urn:vdc:1\",instance=\"cluster-a\",job=\"storage/ecs\"} 1\n"
    ), "{out}");
    assert!(
        out.contains("g{instance=\"cluster-a\",job=\"storage/ecs\",otel_scope_name=\"s\"} 1\n"),
        "{out}"
    );
}

#[test]
fn resource_to_telemetry_conversion_copies_resource_attributes_to_series() {
    let mut b = builder("svc");
    b.gauge(&MetricDesc::new("g", "", "G"), 1, []);
    let opts = RenderOptions {
        resource_to_labels: true,
        ..RenderOptions::default()
    };
    let out = text_of(&[batch("r", b)], &opts);
    assert!(
        out.contains("g{host_name=\"host-1\",instance=\"host-1\",job=\"svc\","),
        "{out}"
    );
}

#[test]
fn histograms_have_cumulative_le_buckets_ending_in_inf() {
    let mut b = builder("svc");
    let v = HistogramValue {
        bounds: &[0.1, 1.0, 10.0],
        counts: &[2, 3, 0, 1],
        sum: 21.5,
        min: Some(0.01),
        max: Some(15.0),
    };
    b.histogram(
        &MetricDesc::new("run.duration", "s", "Run time"),
        &v,
        UNIX_EPOCH,
        [kv("receiver", "self")],
    );
    let opts = RenderOptions {
        scope_labels: false,
        ..RenderOptions::default()
    };
    let out = text_of(&[batch("r", b)], &opts);
    let expected = "# HELP run_duration_seconds Run time\n\
# TYPE run_duration_seconds histogram\n\
run_duration_seconds_bucket{receiver=\"self\",instance=\"host-1\",job=\"svc\",le=\"0.1\"} 2\n\
run_duration_seconds_bucket{receiver=\"self\",instance=\"host-1\",job=\"svc\",le=\"1\"} 5\n\
run_duration_seconds_bucket{receiver=\"self\",instance=\"host-1\",job=\"svc\",le=\"10\"} 5\n\
run_duration_seconds_bucket{receiver=\"self\",instance=\"host-1\",job=\"svc\",le=\"+Inf\"} 6\n\
run_duration_seconds_sum{receiver=\"self\",instance=\"host-1\",job=\"svc\"} 21.5\n\
run_duration_seconds_count{receiver=\"self\",instance=\"host-1\",job=\"svc\"} 6\n";
    assert!(out.contains(expected), "{out}");
}

#[test]
fn exemplars_are_openmetrics_only_one_per_bucket_the_newest() {
    use pipeline::trace::Exemplar;
    let ex = |value: f64, secs: u64, id: u8| Exemplar {
        trace_id: [id; 16],
        span_id: [id; 8],
        value,
        time: UNIX_EPOCH + Duration::from_secs(secs),
    };
    let make = |exemplars: &[Exemplar]| {
        let mut b = builder("svc");
        let v = HistogramValue {
            bounds: &[0.1, 1.0],
            counts: &[1, 2, 1],
            sum: 3.0,
            min: None,
            max: None,
        };
        let d = MetricDesc::new("run.duration", "s", "Run time");
        b.histogram_with_exemplars(&d, &v, exemplars, UNIX_EPOCH, [kv("receiver", "a")]);
        // A second series of the family, without exemplars.
        b.histogram(&d, &v, UNIX_EPOCH, [kv("receiver", "b")]);
        batch("r", b)
    };
    let opts = RenderOptions {
        scope_labels: false,
        ..RenderOptions::default()
    };
    let with = make(&[ex(0.5, 10, 1), ex(0.7, 20, 2), ex(5.0, 30, 3)]);
    let without = make(&[]);
    // Text 0.0.4 has no exemplars: byte for byte what it was.
    assert_eq!(
        text_of(std::slice::from_ref(&with), &opts),
        text_of(std::slice::from_ref(&without), &opts)
    );
    let om = om_of(&with, &opts);
    let id = |b: u8, n: usize| format!("{b:02x}").repeat(n);
    let le1 = format!(
        "run_duration_seconds_bucket{{receiver=\"a\",instance=\"host-1\",job=\"svc\",le=\"1\"}} 3 # {{trace_id=\"{}\",span_id=\"{}\"}} 0.7 20.000\n",
        id(2, 16),
        id(2, 8)
    );
    assert!(om.contains(&le1), "{om}");
    let inf = format!(
        "le=\"+Inf\"}} 4 # {{trace_id=\"{}\",span_id=\"{}\"}} 5 30.000\n",
        id(3, 16),
        id(3, 8)
    );
    assert!(om.contains(&inf), "{om}");
    assert_eq!(om.matches(" # {").count(), 2, "{om}");
    assert!(om.contains("run_duration_seconds_bucket{receiver=\"a\",instance=\"host-1\",job=\"svc\",le=\"0.1\"} 1\n"), "{om}");
    assert!(om.contains("run_duration_seconds_bucket{receiver=\"b\",instance=\"host-1\",job=\"svc\",le=\"1\"} 3\n"), "{om}");
    assert_eq!(om_of(&without, &opts).matches(" # {").count(), 0);
}

#[test]
fn histogram_sum_is_left_out_when_values_can_be_negative() {
    let mut b = builder("svc");
    let v = HistogramValue {
        bounds: &[0.0],
        counts: &[1, 1],
        sum: -1.0,
        min: Some(-3.0),
        max: Some(2.0),
    };
    b.histogram(&MetricDesc::new("delta", "", "D"), &v, UNIX_EPOCH, []);
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    assert!(!out.contains("delta_sum"), "{out}");
    assert!(out.contains("delta_count{"), "{out}");
}

#[test]
fn summaries_have_quantile_lines_then_sum_and_count() {
    let mut b = builder("svc");
    let q = [(0.5, 0.1), (0.99, 0.75)];
    let v = SummaryValue {
        quantiles: &q,
        count: 20,
        sum: 4.0,
    };
    let d = MetricDesc::new("gc.pause", "s", "GC pauses");
    b.summary(&d, &v, UNIX_EPOCH, [kv("gen", "young")]);
    let negative = SummaryValue {
        quantiles: &[],
        count: 3,
        sum: -2.0,
    };
    b.summary(&d, &negative, UNIX_EPOCH, [kv("gen", "old")]);
    let opts = RenderOptions {
        scope_labels: false,
        ..RenderOptions::default()
    };
    let batch = batch("r", b);
    let series = "gc_pause_seconds{gen=\"young\",instance=\"host-1\",job=\"svc\"";
    let lines = format!(
        "{series},quantile=\"0.5\"}} 0.1\n\
{series},quantile=\"0.99\"}} 0.75\n\
gc_pause_seconds_sum{{gen=\"young\",instance=\"host-1\",job=\"svc\"}} 4\n\
gc_pause_seconds_count{{gen=\"young\",instance=\"host-1\",job=\"svc\"}} 20\n\
gc_pause_seconds_count{{gen=\"old\",instance=\"host-1\",job=\"svc\"}} 3\n"
    );
    let text = text_of(std::slice::from_ref(&batch), &opts);
    assert!(
        text.contains(&format!(
            "# HELP gc_pause_seconds GC pauses\n# TYPE gc_pause_seconds summary\n{lines}"
        )),
        "{text}"
    );
    // A negative sum is left out, as for histograms: a summary's _sum must not decrease.
    assert!(!text.contains("gc_pause_seconds_sum{gen=\"old\""), "{text}");
    let om = om_of(&batch, &opts);
    assert!(om.contains(&lines), "{om}");
}

#[test]
fn one_help_and_type_per_family_across_sources_and_no_duplicate_series() {
    let desc = MetricDesc::new("shared.metric", "By", "Shared");
    let mut a = builder("a");
    a.gauge(&desc, 1, []);
    let mut b = builder("b");
    b.gauge(&desc, 2, []);
    // Same resource as `a`: its series is a duplicate and must appear once.
    let mut c = builder("a");
    c.gauge(&desc, 3, []);
    let out = text_of(
        &[batch("a", a), batch("b", b), batch("c", c)],
        &RenderOptions::default(),
    );
    assert_eq!(
        out.matches("# TYPE shared_metric_bytes gauge").count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.matches("# HELP shared_metric_bytes Shared").count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.matches("shared_metric_bytes{instance=\"host-1\",job=\"a\"")
            .count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.matches("shared_metric_bytes{instance=\"host-1\",job=\"b\"")
            .count(),
        1,
        "{out}"
    );
    // And target_info: a and c share a resource, one line for both.
    assert_eq!(
        out.matches("target_info{host_name=\"host-1\",instance=\"host-1\",job=\"a\"}")
            .count(),
        1,
        "{out}"
    );
}

#[test]
fn within_one_source_duplicates_are_dropped() {
    let mut b = builder("svc");
    b.gauge(&MetricDesc::new("a.b", "", "A"), 1, [kv("k", "v")]);
    b.gauge(&MetricDesc::new("a_b", "", "A"), 2, [kv("k", "v")]);
    let rendered = render(
        &batch("r", b),
        &RenderOptions::default(),
        &RandomState::new(),
    );
    assert_eq!(rendered.series, 1 + 1); // one gauge series and target_info
    assert_eq!(rendered.dropped.get("duplicate_series"), Some(&1));
}

#[test]
fn a_series_history_sent_newest_first_shows_its_newest_value_and_is_no_duplicate() {
    let d = MetricDesc::new("rate", "", "Rate");
    let t = |s: u64| UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s);
    let mut b = builder("svc");
    b.gauge_at(&d, 3, [kv("k", "a")], t(120));
    b.gauge_at(&d, 2, [kv("k", "a")], t(60));
    b.gauge_at(&d, 1, [kv("k", "a")], t(0));
    b.gauge_at(&d, 7, [kv("k", "b")], t(120));
    // Same series, same time: a real duplicate.
    b.gauge_at(&d, 8, [kv("k", "b")], t(120));
    let rendered = render(
        &batch("r", b),
        &RenderOptions::default(),
        &RandomState::new(),
    );
    assert_eq!(rendered.series, 2 + 1);
    assert_eq!(rendered.dropped.get("duplicate_series"), Some(&1));
    let mut b = builder("svc");
    b.gauge_at(&d, 3, [kv("k", "a")], t(120));
    b.gauge_at(&d, 2, [kv("k", "a")], t(60));
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    assert!(out.contains("rate{k=\"a\""), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("rate{k=\"a\"") && l.ends_with(" 3")),
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with("rate{") && l.ends_with(" 2")),
        "{out}"
    );
}

#[test]
fn type_conflicts_within_a_source_drop_the_later_metric() {
    let mut b = builder("svc");
    b.gauge(&MetricDesc::new("x", "", "X"), 1, []);
    let mut rm = b.build().to_otlp();
    rm.scope_metrics[0].metrics.push(Metric {
        name: "x".into(),
        description: "X as a counter".into(),
        unit: String::new(),
        metadata: vec![],
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                value: Some(number_data_point::Value::AsInt(5)),
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: false,
        })),
    });
    // The non-monotonic sum is a gauge too, so no conflict: both land in `x`, deduplicated.
    let out = text_of(
        &[Batch::new("r".into(), vec![rm.clone().into()])],
        &RenderOptions::default(),
    );
    assert_eq!(out.matches("# TYPE x gauge").count(), 1, "{out}");
    // A monotonic one named x_total would not collide; one named x with `_total` already
    // present and suffixes off would.
    if let Some(Data::Sum(s)) = &mut rm.scope_metrics[0].metrics[1].data {
        s.is_monotonic = true;
    }
    let opts = RenderOptions {
        add_suffixes: false,
        ..RenderOptions::default()
    };
    let rendered = render(
        &Batch::new("r".into(), vec![rm.into()]),
        &opts,
        &RandomState::new(),
    );
    assert_eq!(rendered.dropped.get("type_conflict"), Some(&1));
}

#[test]
fn delta_sums_are_dropped_not_misreported() {
    let rm = pipeline::otlp::metrics::v1::ResourceMetrics {
        resource: Some(resource([kv("service.name", "svc")])),
        scope_metrics: vec![pipeline::otlp::metrics::v1::ScopeMetrics {
            scope: Some(scope("s", "")),
            metrics: vec![Metric {
                name: "d".into(),
                data: Some(Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        value: Some(number_data_point::Value::AsInt(1)),
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    };
    let rendered = render(
        &Batch::new("r".into(), vec![rm.into()]),
        &RenderOptions::default(),
        &RandomState::new(),
    );
    assert_eq!(rendered.dropped.get("delta_temporality"), Some(&1));
    assert_eq!(rendered.series, 0);
}

#[test]
fn reserved_label_names_from_attributes_are_renamed() {
    let mut b = builder("svc");
    b.gauge(
        &MetricDesc::new("g", "", "G"),
        1,
        [kv("job", "mine"), kv("le", "x")],
    );
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    assert!(
        out.contains("g{exported_job=\"mine\",exported_le=\"x\",instance=\"host-1\",job=\"svc\""),
        "{out}"
    );
}

#[test]
fn label_values_are_escaped_and_non_string_attributes_stringified() {
    let mut b = builder("svc");
    let array = pipeline::otlp::common::v1::KeyValue {
        key: "list".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(any_value::Value::StringValue("a".into())),
                    },
                    AnyValue {
                        value: Some(any_value::Value::IntValue(2)),
                    },
                ],
            })),
        }),
        ..Default::default()
    };
    b.gauge(
        &MetricDesc::new("g", "", "G"),
        1,
        [
            kv("path", "C:\\dir \"x\"\nnext"),
            kv("flag", true),
            kv("n", 42i64),
            kv("f", 1.5),
            array,
        ],
    );
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    assert!(
        out.contains(r#"f="1.5",flag="true",list="[\"a\",2]",n="42",path="C:\\dir \"x\"\nnext""#),
        "{out}"
    );
}

#[test]
fn special_float_values() {
    let mut b = builder("svc");
    let d = MetricDesc::new("g", "", "G");
    b.gauge(&d, f64::NAN, [kv("v", "nan")]);
    b.gauge(&d, f64::INFINITY, [kv("v", "inf")]);
    b.gauge(&d, f64::NEG_INFINITY, [kv("v", "ninf")]);
    b.gauge(&d, 1e-7, [kv("v", "small")]);
    let out = text_of(&[batch("r", b)], &RenderOptions::default());
    assert!(
        out.contains("} NaN\n") && out.contains("} +Inf\n") && out.contains("} -Inf\n"),
        "{out}"
    );
    assert!(out.contains("} 0.0000001\n"), "{out}");
}

#[test]
fn the_cardinality_limit_keeps_the_first_series_and_counts_the_rest() {
    let mut b = builder("svc");
    let d = MetricDesc::new("emcecs.bucket.objects", "{object}", "Objects");
    for i in 0..25 {
        b.gauge(&d, i, [kv("bucket", format!("b{i}"))]);
    }
    let opts = RenderOptions {
        max_series_per_metric: 10,
        ..RenderOptions::default()
    };
    let rendered = render(&batch("r", b), &opts, &RandomState::new());
    assert_eq!(rendered.overflow.get("emcecs_bucket_objects"), Some(&15));
    let fam = rendered
        .families
        .iter()
        .find(|f| f.name.text == "emcecs_bucket_objects")
        .unwrap();
    assert_eq!(fam.spans.len(), 10);
}

#[test]
fn openmetrics_names_counters_without_total_and_ends_with_eof() {
    let mut b = builder("svc");
    b.counter(
        &MetricDesc::new("ingress", "By", "Ingress bytes"),
        5,
        UNIX_EPOCH,
        [],
    );
    b.gauge(&MetricDesc::new("used", "By", "Used \"bytes\""), 5, []);
    let out = om_of(&batch("r", b), &RenderOptions::default());
    assert!(
        out.contains("# TYPE ingress_bytes counter\n# UNIT ingress_bytes bytes\n"),
        "{out}"
    );
    assert!(out.contains("\ningress_bytes_total{"), "{out}");
    assert!(
        out.contains("# HELP used_bytes Used \\\"bytes\\\"\n"),
        "{out}"
    );
    assert!(out.contains("# TYPE target info\n"), "{out}");
    assert!(out.ends_with("# EOF\n"), "{out}");
}

#[test]
fn timestamps_are_milliseconds_in_text_and_seconds_in_openmetrics() {
    let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let mut b = builder("svc");
    b.gauge_at(&MetricDesc::new("cost", "", "Cost"), 1.5, [], at);
    let opts = RenderOptions {
        send_timestamps: true,
        scope_labels: false,
        ..RenderOptions::default()
    };
    let bt = batch("r", b);
    let text = text_of(std::slice::from_ref(&bt), &opts);
    assert!(
        text.contains("cost{instance=\"host-1\",job=\"svc\"} 1.5 1700000000123\n"),
        "{text}"
    );
    let om = om_of(&bt, &opts);
    assert!(
        om.contains("cost{instance=\"host-1\",job=\"svc\"} 1.5 1700000000.123\n"),
        "{om}"
    );
}

#[test]
fn expiry_removes_a_silent_source() {
    let hasher = RandomState::new();
    let mut reg = Registry::default();
    let mut a = builder("a");
    a.gauge(&MetricDesc::new("g", "", "G"), 1, []);
    reg.replace(
        "a".into(),
        render(&batch("a", a), &RenderOptions::default(), &hasher),
        Duration::from_millis(50),
    );
    let later = std::time::Instant::now() + Duration::from_millis(60);
    assert_eq!(reg.expire(later).len(), 1);
    assert_eq!(reg.sources(), 0);
    assert!(reg.current().body_bytes(Format::Text, false).is_empty());
}
