//! One-liners for receiver authors: a gauge, a monotonic sum, a histogram or a summary
//! point with its attributes, grouped into OTLP metrics by name.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::otlp::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, exemplar, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use crate::otlp::resource::v1::Resource;

/// Name, UCUM unit and description of a metric: one entry of a receiver's catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDesc<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub description: &'a str,
}

impl<'a> MetricDesc<'a> {
    pub const fn new(name: &'a str, unit: &'a str, description: &'a str) -> Self {
        Self {
            name,
            unit,
            description,
        }
    }
}

/// A data point value: OTLP keeps integers and doubles apart, and so do we, so that byte
/// counts above 2^53 stay exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Double(f64),
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::Int(v)
    }
}
impl From<i32> for Number {
    fn from(v: i32) -> Self {
        Number::Int(v.into())
    }
}
impl From<u32> for Number {
    fn from(v: u32) -> Self {
        Number::Int(v.into())
    }
}
impl From<u64> for Number {
    /// Saturates at `i64::MAX` (9.2 EB): no ECS figure comes near it.
    fn from(v: u64) -> Self {
        Number::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<usize> for Number {
    fn from(v: usize) -> Self {
        Number::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Number {
    fn from(v: f64) -> Self {
        Number::Double(v)
    }
}
impl From<bool> for Number {
    fn from(v: bool) -> Self {
        Number::Int(i64::from(v))
    }
}

impl From<Number> for number_data_point::Value {
    fn from(n: Number) -> Self {
        match n {
            Number::Int(v) => number_data_point::Value::AsInt(v),
            Number::Double(v) => number_data_point::Value::AsDouble(v),
        }
    }
}

/// An attribute value as the builders accept it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_owned())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}
impl From<&String> for AttrValue {
    fn from(v: &String) -> Self {
        AttrValue::Str(v.clone())
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<u64> for AttrValue {
    fn from(v: u64) -> Self {
        AttrValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Double(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

/// An OTLP attribute: `kv("node", "n1")`.
pub fn kv(key: impl Into<String>, value: impl Into<AttrValue>) -> KeyValue {
    let value = match value.into() {
        AttrValue::Str(s) => any_value::Value::StringValue(s),
        AttrValue::Int(i) => any_value::Value::IntValue(i),
        AttrValue::Double(d) => any_value::Value::DoubleValue(d),
        AttrValue::Bool(b) => any_value::Value::BoolValue(b),
    };
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A resource made of the given attributes.
pub fn resource(attributes: impl IntoIterator<Item = KeyValue>) -> Resource {
    Resource {
        attributes: attributes.into_iter().collect(),
        ..Default::default()
    }
}

/// An instrumentation scope with a name and version.
pub fn scope(name: impl Into<String>, version: impl Into<String>) -> InstrumentationScope {
    InstrumentationScope {
        name: name.into(),
        version: version.into(),
        ..Default::default()
    }
}

/// Nanoseconds since the Unix epoch, 0 for times before it.
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One explicit-bucket histogram point. `counts` has one entry more than `bounds`: the
/// last one counts the values above the highest bound.
#[derive(Debug, Clone, Copy)]
pub struct HistogramValue<'a> {
    pub bounds: &'a [f64],
    pub counts: &'a [u64],
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// One summary point, as a Prometheus summary reports it: quantiles (`(quantile, value)`,
/// quantile in 0..=1) over the observations, their count and sum.
#[derive(Debug, Clone, Copy)]
pub struct SummaryValue<'a> {
    pub quantiles: &'a [(f64, f64)],
    pub count: u64,
    pub sum: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
    Summary,
}

/// Builds the snapshot of one resource and scope. Points of the same metric name are
/// grouped into one OTLP metric, in the order the metrics were first seen.
#[derive(Debug)]
pub struct SnapshotBuilder {
    resource: Resource,
    scope: InstrumentationScope,
    time: u64,
    metrics: Vec<Metric>,
    kinds: Vec<Kind>,
    index: HashMap<String, usize>,
    conflicts: Vec<String>,
}

impl SnapshotBuilder {
    /// `time` stamps every point that does not carry its own time.
    pub fn new(resource: Resource, scope: InstrumentationScope, time: SystemTime) -> Self {
        Self {
            resource,
            scope,
            time: unix_nanos(time),
            metrics: Vec::new(),
            kinds: Vec::new(),
            index: HashMap::new(),
            conflicts: Vec::new(),
        }
    }

    /// A gauge point stamped with the builder's time.
    pub fn gauge(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let time = self.time;
        self.gauge_at_nanos(desc, value, attributes, time);
    }

    /// A gauge point with its own time, for data that carries its sample time.
    pub fn gauge_at(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        attributes: impl IntoIterator<Item = KeyValue>,
        time: SystemTime,
    ) {
        self.gauge_at_nanos(desc, value, attributes, unix_nanos(time));
    }

    fn gauge_at_nanos(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        attributes: impl IntoIterator<Item = KeyValue>,
        time: u64,
    ) {
        let point = number_point(value.into(), attributes, 0, time);
        if let Some(Data::Gauge(g)) = self.metric(desc, Kind::Gauge) {
            g.data_points.push(point);
        }
    }

    /// A staleness marker: the series existed and has no value now (a node that did not
    /// answer). OTLP carries it as a point flagged "no recorded value"; the Prometheus
    /// exporter leaves the series out, so Prometheus marks it stale.
    pub fn gauge_stale(
        &mut self,
        desc: &MetricDesc<'_>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let point = NumberDataPoint {
            attributes: attributes.into_iter().collect(),
            time_unix_nano: self.time,
            flags: crate::otlp::metrics::v1::DataPointFlags::NoRecordedValueMask as u32,
            value: None,
            ..Default::default()
        };
        if let Some(Data::Gauge(g)) = self.metric(desc, Kind::Gauge) {
            g.data_points.push(point);
        }
    }

    /// A cumulative monotonic sum (a Prometheus counter) that started counting at `start`.
    pub fn counter(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        start: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let point = number_point(value.into(), attributes, unix_nanos(start), self.time);
        if let Some(Data::Sum(s)) = self.metric(desc, Kind::Counter) {
            s.data_points.push(point);
        }
    }

    /// A counter point with its own time, for sums read from sample windows.
    pub fn counter_at(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        start: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
        time: SystemTime,
    ) {
        let point = number_point(
            value.into(),
            attributes,
            unix_nanos(start),
            unix_nanos(time),
        );
        if let Some(Data::Sum(s)) = self.metric(desc, Kind::Counter) {
            s.data_points.push(point);
        }
    }

    /// A cumulative explicit-bucket histogram point.
    pub fn histogram(
        &mut self,
        desc: &MetricDesc<'_>,
        value: &HistogramValue<'_>,
        start: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.histogram_with_exemplars(desc, value, &[], start, attributes);
    }

    /// A histogram point carrying `exemplars` (observations with the trace and span they
    /// were made in).
    pub fn histogram_with_exemplars(
        &mut self,
        desc: &MetricDesc<'_>,
        value: &HistogramValue<'_>,
        exemplars: &[crate::trace::Exemplar],
        start: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let mut counts = value.counts.to_vec();
        // A malformed point (wrong number of counts) would be rejected downstream; pad or
        // cut it here so that the count stays consistent with the buckets.
        counts.resize(value.bounds.len() + 1, 0);
        let point = HistogramDataPoint {
            attributes: attributes.into_iter().collect(),
            start_time_unix_nano: unix_nanos(start),
            time_unix_nano: self.time,
            count: counts.iter().sum(),
            sum: Some(value.sum),
            bucket_counts: counts,
            explicit_bounds: value.bounds.to_vec(),
            min: value.min,
            max: value.max,
            exemplars: exemplars
                .iter()
                .map(|e| crate::otlp::metrics::v1::Exemplar {
                    filtered_attributes: Vec::new(),
                    time_unix_nano: unix_nanos(e.time),
                    span_id: e.span_id.to_vec(),
                    trace_id: e.trace_id.to_vec(),
                    value: Some(exemplar::Value::AsDouble(e.value)),
                })
                .collect(),
            ..Default::default()
        };
        if let Some(Data::Histogram(h)) = self.metric(desc, Kind::Histogram) {
            h.data_points.push(point);
        }
    }

    /// A cumulative summary point (count and sum since `start`, quantiles as measured).
    pub fn summary(
        &mut self,
        desc: &MetricDesc<'_>,
        value: &SummaryValue<'_>,
        start: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let point = SummaryDataPoint {
            attributes: attributes.into_iter().collect(),
            start_time_unix_nano: unix_nanos(start),
            time_unix_nano: self.time,
            count: value.count,
            sum: value.sum,
            quantile_values: value
                .quantiles
                .iter()
                .map(|&(quantile, value)| ValueAtQuantile { quantile, value })
                .collect(),
            ..Default::default()
        };
        if let Some(Data::Summary(s)) = self.metric(desc, Kind::Summary) {
            s.data_points.push(point);
        }
    }

    /// Names used with two different types; their later points were dropped.
    pub fn conflicts(&self) -> &[String] {
        &self.conflicts
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    pub fn build(self) -> ResourceMetrics {
        ResourceMetrics {
            resource: Some(self.resource),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(self.scope),
                metrics: self.metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }

    fn metric(&mut self, desc: &MetricDesc<'_>, kind: Kind) -> Option<&mut Data> {
        let idx = match self.index.get(desc.name) {
            Some(&i) => {
                if self.kinds[i] != kind {
                    if !self.conflicts.iter().any(|c| c == desc.name) {
                        tracing::warn!(
                            metric = desc.name,
                            "metric emitted with two types; later points dropped"
                        );
                        self.conflicts.push(desc.name.to_owned());
                    }
                    return None;
                }
                i
            }
            None => {
                let data = match kind {
                    Kind::Gauge => Data::Gauge(Gauge::default()),
                    Kind::Counter => Data::Sum(Sum {
                        data_points: Vec::new(),
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    }),
                    Kind::Histogram => Data::Histogram(Histogram {
                        data_points: Vec::new(),
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    }),
                    Kind::Summary => Data::Summary(Summary::default()),
                };
                self.metrics.push(Metric {
                    name: desc.name.to_owned(),
                    description: desc.description.to_owned(),
                    unit: desc.unit.to_owned(),
                    metadata: Vec::new(),
                    data: Some(data),
                });
                self.kinds.push(kind);
                self.index
                    .insert(desc.name.to_owned(), self.metrics.len() - 1);
                self.metrics.len() - 1
            }
        };
        self.metrics[idx].data.as_mut()
    }
}

fn number_point(
    value: Number,
    attributes: impl IntoIterator<Item = KeyValue>,
    start: u64,
    time: u64,
) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes.into_iter().collect(),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(value.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: MetricDesc<'static> = MetricDesc::new("emcecs.node.count", "{node}", "Nodes");
    const BYTES: MetricDesc<'static> = MetricDesc::new("emcecs.ingress", "By", "Ingress");

    #[test]
    fn points_of_one_name_share_a_metric() {
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), SystemTime::now());
        b.gauge(&NODES, 3, [kv("state", "up")]);
        b.gauge(&NODES, 1, [kv("state", "down")]);
        b.counter(&BYTES, 10u64, UNIX_EPOCH, []);
        let rm = b.build();
        let metrics = &rm.scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 2);
        match &metrics[0].data {
            Some(Data::Gauge(g)) => assert_eq!(g.data_points.len(), 2),
            other => panic!("expected gauge, got {other:?}"),
        }
        match &metrics[1].data {
            Some(Data::Sum(s)) => {
                assert!(s.is_monotonic);
                assert_eq!(
                    s.aggregation_temporality,
                    AggregationTemporality::Cumulative as i32
                );
            }
            other => panic!("expected sum, got {other:?}"),
        }
    }

    #[test]
    fn a_name_reused_with_another_type_is_dropped_not_mixed() {
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), SystemTime::now());
        b.gauge(&NODES, 3, []);
        b.counter(&NODES, 3, UNIX_EPOCH, []);
        assert_eq!(b.conflicts(), ["emcecs.node.count"]);
        let rm = b.build();
        assert_eq!(rm.scope_metrics[0].metrics.len(), 1);
    }

    #[test]
    fn histogram_count_is_the_sum_of_buckets() {
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), SystemTime::now());
        let v = HistogramValue {
            bounds: &[0.1, 1.0],
            counts: &[2, 3, 4],
            sum: 7.5,
            min: None,
            max: None,
        };
        b.histogram(&MetricDesc::new("d", "s", ""), &v, UNIX_EPOCH, []);
        let rm = b.build();
        match &rm.scope_metrics[0].metrics[0].data {
            Some(Data::Histogram(h)) => assert_eq!(h.data_points[0].count, 9),
            other => panic!("expected histogram, got {other:?}"),
        }
    }

    #[test]
    fn exemplars_keep_their_trace_and_span_ids() {
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), SystemTime::now());
        let v = HistogramValue {
            bounds: &[0.1],
            counts: &[1, 0],
            sum: 0.05,
            min: None,
            max: None,
        };
        let e = crate::trace::Exemplar {
            trace_id: [7; 16],
            span_id: [8; 8],
            value: 0.05,
            time: UNIX_EPOCH + std::time::Duration::from_secs(2),
        };
        b.histogram_with_exemplars(&MetricDesc::new("d", "s", ""), &v, &[e], UNIX_EPOCH, []);
        let rm = b.build();
        let Some(Data::Histogram(h)) = &rm.scope_metrics[0].metrics[0].data else {
            panic!("a histogram")
        };
        let x = &h.data_points[0].exemplars[0];
        assert_eq!(
            (x.trace_id.as_slice(), x.span_id.as_slice()),
            (&[7u8; 16][..], &[8u8; 8][..])
        );
        assert_eq!(x.time_unix_nano, 2_000_000_000);
        assert_eq!(x.value, Some(exemplar::Value::AsDouble(0.05)));
    }

    #[test]
    fn a_summary_keeps_its_quantiles_count_and_sum() {
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), SystemTime::now());
        let v = SummaryValue {
            quantiles: &[(0.5, 0.2), (0.99, 1.5)],
            count: 12,
            sum: 4.5,
        };
        b.summary(
            &MetricDesc::new("rpc", "s", ""),
            &v,
            UNIX_EPOCH,
            [kv("m", "get")],
        );
        b.gauge(&MetricDesc::new("rpc", "s", ""), 1, []);
        assert_eq!(b.conflicts(), ["rpc"]);
        let rm = b.build();
        match &rm.scope_metrics[0].metrics[0].data {
            Some(Data::Summary(s)) => {
                let p = &s.data_points[0];
                assert_eq!((p.count, p.sum), (12, 4.5));
                assert_eq!(p.quantile_values.len(), 2);
                assert_eq!(p.quantile_values[1].quantile, 0.99);
                assert_eq!(p.quantile_values[1].value, 1.5);
                assert_eq!(p.attributes.len(), 1);
            }
            other => panic!("expected summary, got {other:?}"),
        }
    }
}
