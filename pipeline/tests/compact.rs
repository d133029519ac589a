//! The compact snapshot gives back, byte for byte, the OTLP a plain builder would have made
//! of the same calls: families in first-seen order, points in call order, attributes as
//! given, a name used with another type dropped. `PROPTEST_CASES` sets the number of cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use pipeline::otlp::common::v1::{AnyValue, KeyValue, any_value};
use pipeline::otlp::metrics::v1::{
    AggregationTemporality, DataPointFlags, Gauge, Metric, NumberDataPoint, Sum, metric::Data,
    number_data_point,
};
use pipeline::{MetricDesc, Number, SnapshotBuilder, resource, scope, unix_nanos};
use proptest::prelude::*;

mod common;
use common::config;
use prost::Message;

const NAMES: [&str; 4] = ["a", "b", "c", "d"];
const KEYS: [&str; 3] = ["namespace", "bucket", "node"];

#[derive(Debug, Clone)]
enum Kind {
    Gauge,
    Stale,
    Counter,
}

#[derive(Debug, Clone)]
struct Call {
    name: usize,
    kind: Kind,
    value: Number,
    attrs: Vec<KeyValue>,
}

fn value() -> impl Strategy<Value = any_value::Value> {
    prop_oneof![
        "[a-c]{0,2}".prop_map(any_value::Value::StringValue),
        (-2i64..3).prop_map(any_value::Value::IntValue),
        prop_oneof![Just(0.0), Just(-0.0), Just(f64::NAN), Just(1.5)]
            .prop_map(any_value::Value::DoubleValue),
        any::<bool>().prop_map(any_value::Value::BoolValue),
    ]
}

fn call() -> impl Strategy<Value = Call> {
    (
        0..NAMES.len(),
        prop_oneof![Just(Kind::Gauge), Just(Kind::Stale), Just(Kind::Counter)],
        prop_oneof![
            any::<i64>().prop_map(Number::Int),
            any::<f64>().prop_map(Number::Double)
        ],
        proptest::collection::vec((0..KEYS.len(), value()), 0..4),
    )
        .prop_map(|(name, kind, value, attrs)| Call {
            name,
            kind,
            value,
            attrs: attrs
                .into_iter()
                .map(|(k, v)| KeyValue {
                    key: KEYS[k].into(),
                    value: Some(AnyValue { value: Some(v) }),
                    ..Default::default()
                })
                .collect(),
        })
}

fn desc(name: usize) -> MetricDesc<'static> {
    MetricDesc::new(NAMES[name], "By", "a family")
}

/// What a builder that kept every point as OTLP makes of `calls`.
fn plain(calls: &[Call], time: u64, start: u64) -> Vec<Metric> {
    let mut out: Vec<(bool, Metric)> = Vec::new();
    for c in calls {
        let counter = matches!(c.kind, Kind::Counter);
        let point = NumberDataPoint {
            attributes: c.attrs.clone(),
            start_time_unix_nano: if counter { start } else { 0 },
            time_unix_nano: time,
            value: match c.kind {
                Kind::Stale => None,
                _ => Some(match c.value {
                    Number::Int(i) => number_data_point::Value::AsInt(i),
                    Number::Double(d) => number_data_point::Value::AsDouble(d),
                }),
            },
            flags: match c.kind {
                Kind::Stale => DataPointFlags::NoRecordedValueMask as u32,
                _ => 0,
            },
            ..Default::default()
        };
        let d = desc(c.name);
        let i = match out.iter().position(|(_, m)| m.name == d.name) {
            Some(i) if out[i].0 != counter => continue,
            Some(i) => i,
            None => {
                let data = if counter {
                    Data::Sum(Sum {
                        data_points: Vec::new(),
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })
                } else {
                    Data::Gauge(Gauge::default())
                };
                out.push((
                    counter,
                    Metric {
                        name: d.name.into(),
                        description: d.description.into(),
                        unit: d.unit.into(),
                        metadata: Vec::new(),
                        data: Some(data),
                    },
                ));
                out.len() - 1
            }
        };
        match &mut out[i].1.data {
            Some(Data::Gauge(g)) => g.data_points.push(point),
            Some(Data::Sum(s)) => s.data_points.push(point),
            _ => unreachable!(),
        }
    }
    out.into_iter().map(|(_, m)| m).collect()
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn compact_snapshots_encode_as_plain_otlp(calls in proptest::collection::vec(call(), 0..60)) {
        let time = UNIX_EPOCH + Duration::from_secs(1_781_524_950);
        let start = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), time);
        for c in &calls {
            let d = desc(c.name);
            match c.kind {
                Kind::Gauge => b.gauge(&d, c.value, c.attrs.clone()),
                Kind::Stale => b.gauge_stale(&d, c.attrs.clone()),
                Kind::Counter => b.counter(&d, c.value, start, c.attrs.clone()),
            }
        }
        let compact = b.build();
        let got = compact.to_otlp();
        let want = plain(&calls, unix_nanos(time), unix_nanos(start));
        let metrics = &got.scope_metrics[0].metrics;
        prop_assert_eq!(metrics.len(), want.len());
        for (g, w) in metrics.iter().zip(&want) {
            prop_assert_eq!(g.encode_to_vec(), w.encode_to_vec(), "{}", w.name);
        }
        // Read compact, each point's attributes are its set's.
        let s = &compact.scopes[0];
        for i in 0..s.len() {
            let whole = s.metric(i);
            let (header, points) = s.numbers(i).unwrap();
            prop_assert_eq!(&header.name, &whole.name);
            let otlp = match &whole.data {
                Some(Data::Gauge(g)) => &g.data_points,
                Some(Data::Sum(x)) => &x.data_points,
                _ => unreachable!(),
            };
            prop_assert_eq!(points.len(), otlp.len());
            for (p, o) in points.iter().zip(otlp) {
                prop_assert_eq!(s.attributes(p.set).encode_to_vec_all(), o.attributes.encode_to_vec_all());
            }
        }
        prop_assert_eq!(compact.data_points(), want.iter().map(pipeline::batch::metric_points).sum::<usize>());
    }
}

trait EncodeAll {
    fn encode_to_vec_all(&self) -> Vec<u8>;
}

impl EncodeAll for Vec<KeyValue> {
    fn encode_to_vec_all(&self) -> Vec<u8> {
        self.iter().flat_map(Message::encode_to_vec).collect()
    }
}
