//! One-liners for receiver authors: a gauge, a monotonic sum, a histogram or a summary
//! point with its attributes, grouped into OTLP metrics by name.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::compact::{
    Family, FamilyData, Interner, NumPoint, NumberShape, ResourcePoints, ScopePoints,
};
use crate::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::otlp::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, Summary, SummaryDataPoint,
    exemplar, metric::Data, number_data_point, summary_data_point::ValueAtQuantile,
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

/// The times and flags of a gauge or counter point.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    start: u64,
    time: u64,
    flags: u32,
}

impl Stamp {
    fn at(time: u64) -> Self {
        Stamp::since(0, time)
    }

    fn since(start: u64, time: u64) -> Self {
        Stamp {
            start,
            time,
            flags: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
    Summary,
}

/// Builds the snapshot of one resource and scope. Points of the same metric name are
/// grouped into one metric, in the order the metrics were first seen; gauge and counter
/// points are kept compact ([`crate::compact`]).
#[derive(Debug)]
pub struct SnapshotBuilder {
    resource: Resource,
    scope: InstrumentationScope,
    time: u64,
    families: Vec<Family>,
    kinds: Vec<Kind>,
    index: HashMap<String, usize>,
    conflicts: Vec<String>,
    attrs: Interner,
}

impl SnapshotBuilder {
    /// `time` stamps every point that does not carry its own time.
    pub fn new(resource: Resource, scope: InstrumentationScope, time: SystemTime) -> Self {
        Self {
            resource,
            scope,
            time: unix_nanos(time),
            families: Vec::new(),
            kinds: Vec::new(),
            index: HashMap::new(),
            conflicts: Vec::new(),
            attrs: Interner::default(),
        }
    }

    /// A gauge point stamped with the builder's time.
    pub fn gauge(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let stamp = Stamp::at(self.time);
        self.number(desc, Kind::Gauge, Some(value.into()), attributes, stamp);
    }

    /// A gauge point with its own time, for data that carries its sample time.
    pub fn gauge_at(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        attributes: impl IntoIterator<Item = KeyValue>,
        time: SystemTime,
    ) {
        let stamp = Stamp::at(unix_nanos(time));
        self.number(desc, Kind::Gauge, Some(value.into()), attributes, stamp);
    }

    /// A staleness marker: the series existed and has no value now (a node that did not
    /// answer). OTLP carries it as a point flagged "no recorded value"; the Prometheus
    /// exporter leaves the series out, so Prometheus marks it stale.
    pub fn gauge_stale(
        &mut self,
        desc: &MetricDesc<'_>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let stamp = Stamp {
            flags: crate::otlp::metrics::v1::DataPointFlags::NoRecordedValueMask as u32,
            ..Stamp::at(self.time)
        };
        self.number(desc, Kind::Gauge, None, attributes, stamp);
    }

    /// A cumulative monotonic sum (a Prometheus counter) that started counting at `start`.
    pub fn counter(
        &mut self,
        desc: &MetricDesc<'_>,
        value: impl Into<Number>,
        start: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let stamp = Stamp::since(unix_nanos(start), self.time);
        self.number(desc, Kind::Counter, Some(value.into()), attributes, stamp);
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
        let stamp = Stamp::since(unix_nanos(start), unix_nanos(time));
        self.number(desc, Kind::Counter, Some(value.into()), attributes, stamp);
    }

    fn number(
        &mut self,
        desc: &MetricDesc<'_>,
        kind: Kind,
        value: Option<Number>,
        attributes: impl IntoIterator<Item = KeyValue>,
        stamp: Stamp,
    ) {
        let Some(i) = self.family(desc, kind) else {
            return;
        };
        let set = self.attrs.set(attributes);
        if let FamilyData::Numbers { points, .. } = &mut self.families[i].data {
            points.push(NumPoint {
                set,
                flags: stamp.flags,
                start: stamp.start,
                time: stamp.time,
                value,
            });
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
        if let Some(Data::Histogram(h)) = self.otlp(desc, Kind::Histogram) {
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
        if let Some(Data::Summary(s)) = self.otlp(desc, Kind::Summary) {
            s.data_points.push(point);
        }
    }

    /// Names used with two different types; their later points were dropped.
    pub fn conflicts(&self) -> &[String] {
        &self.conflicts
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    pub fn build(mut self) -> ResourcePoints {
        for f in &mut self.families {
            if let FamilyData::Numbers { points, .. } = &mut f.data {
                points.shrink_to_fit();
            }
        }
        ResourcePoints {
            resource: Some(self.resource),
            schema_url: String::new(),
            scopes: vec![ScopePoints::new(
                self.scope,
                self.families,
                self.attrs.finish(),
            )],
        }
    }

    fn otlp(&mut self, desc: &MetricDesc<'_>, kind: Kind) -> Option<&mut Data> {
        let i = self.family(desc, kind)?;
        match &mut self.families[i].data {
            FamilyData::Otlp(m) => m.data.as_mut(),
            FamilyData::Numbers { .. } => None,
        }
    }

    /// The index of `desc`'s family, created on first use; `None` (and a warning, once) if
    /// the name is already used with another kind.
    fn family(&mut self, desc: &MetricDesc<'_>, kind: Kind) -> Option<usize> {
        if let Some(&i) = self.index.get(desc.name) {
            if self.kinds[i] == kind {
                return Some(i);
            }
            if !self.conflicts.iter().any(|c| c == desc.name) {
                tracing::warn!(
                    metric = desc.name,
                    "metric emitted with two types; later points dropped"
                );
                self.conflicts.push(desc.name.to_owned());
            }
            return None;
        }
        let otlp = |data| {
            FamilyData::Otlp(Metric {
                name: desc.name.to_owned(),
                description: desc.description.to_owned(),
                unit: desc.unit.to_owned(),
                metadata: Vec::new(),
                data: Some(data),
            })
        };
        let data = match kind {
            Kind::Gauge => FamilyData::Numbers {
                shape: NumberShape::Gauge,
                points: Vec::new(),
            },
            Kind::Counter => FamilyData::Numbers {
                shape: NumberShape::COUNTER,
                points: Vec::new(),
            },
            Kind::Histogram => otlp(Data::Histogram(Histogram {
                data_points: Vec::new(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            Kind::Summary => otlp(Data::Summary(Summary::default())),
        };
        self.families.push(Family {
            name: desc.name.to_owned(),
            description: desc.description.to_owned(),
            unit: desc.unit.to_owned(),
            data,
        });
        self.kinds.push(kind);
        let i = self.families.len() - 1;
        self.index.insert(desc.name.to_owned(), i);
        Some(i)
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
        let rm = b.build().to_otlp();
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
        let rm = b.build().to_otlp();
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
        let rm = b.build().to_otlp();
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
        let rm = b.build().to_otlp();
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
        let rm = b.build().to_otlp();
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
