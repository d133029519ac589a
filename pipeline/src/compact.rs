//! The form in which a snapshot travels from a receiver to the exporters: OTLP content
//! without OTLP's cost per point.
//!
//! An OTLP `NumberDataPoint` owns its attributes: every point of every family repeats
//! its keys and values as separate heap strings, about 500 bytes per point on a bucket
//! family. Here a scope keeps each distinct string once and each distinct attribute set
//! once, and a gauge or sum point is 40 bytes referring to its set; the families of one
//! bucket (storage, objects, quota, ...) share one set. Consumers read the points compact
//! ([`ScopePoints::numbers`], the Prometheus renderer) or build OTLP back one family at a
//! time ([`ScopePoints::metric`], the OTLP splitter); either way they get exactly what the
//! builder was given: same order of families, points and attributes, same values and
//! flags (the exporters' output is byte-for-byte what it was with OTLP snapshots).
//!
//! Histograms, summaries and metrics that arrive as OTLP are kept as OTLP ([`From`]
//! `ResourceMetrics`): they are few and compacting them would gain little.

use std::collections::HashMap;
use std::sync::Arc;

use crate::builder::Number;
use crate::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use crate::otlp::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data,
};
use crate::otlp::resource::v1::Resource;

/// One resource's metrics, by scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourcePoints {
    pub resource: Option<Resource>,
    pub schema_url: String,
    pub scopes: Vec<ScopePoints>,
}

impl ResourcePoints {
    /// The OTLP form of the whole resource (tests and small snapshots; exporters go family by
    /// family).
    pub fn to_otlp(&self) -> ResourceMetrics {
        ResourceMetrics {
            resource: self.resource.clone(),
            scope_metrics: self
                .scopes
                .iter()
                .map(|s| ScopeMetrics {
                    scope: s.scope.clone(),
                    metrics: (0..s.len()).map(|i| s.metric(i)).collect(),
                    schema_url: s.schema_url.clone(),
                })
                .collect(),
            schema_url: self.schema_url.clone(),
        }
    }

    /// Number of data points (histogram and summary points count once each).
    pub fn data_points(&self) -> usize {
        self.scopes
            .iter()
            .map(|s| (0..s.len()).map(|i| s.points(i)).sum::<usize>())
            .sum()
    }
}

impl From<ResourceMetrics> for ResourcePoints {
    fn from(rm: ResourceMetrics) -> Self {
        ResourcePoints {
            resource: rm.resource,
            schema_url: rm.schema_url,
            scopes: rm
                .scope_metrics
                .into_iter()
                .map(|sm| ScopePoints {
                    scope: sm.scope,
                    schema_url: sm.schema_url,
                    families: sm.metrics.into_iter().map(Family::otlp).collect(),
                    attrs: AttrTable::default(),
                })
                .collect(),
        }
    }
}

/// One scope's families, with the strings and attribute sets their points share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopePoints {
    pub scope: Option<InstrumentationScope>,
    pub schema_url: String,
    families: Vec<Family>,
    attrs: AttrTable,
}

impl ScopePoints {
    pub(crate) fn new(
        scope: InstrumentationScope,
        families: Vec<Family>,
        attrs: AttrTable,
    ) -> Self {
        ScopePoints {
            scope: Some(scope),
            schema_url: String::new(),
            families,
            attrs,
        }
    }

    /// Number of families (OTLP metrics).
    pub fn len(&self) -> usize {
        self.families.len()
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Points of family `i`.
    pub fn points(&self, i: usize) -> usize {
        match self.families.get(i).map(|f| &f.data) {
            None => 0,
            Some(FamilyData::Numbers { points, .. }) => points.len(),
            Some(FamilyData::Otlp(m)) => crate::batch::metric_points(m),
        }
    }

    /// Family `i` as an OTLP metric (empty past the end).
    pub fn metric(&self, i: usize) -> Metric {
        self.metric_part(i, 0, usize::MAX)
    }

    /// Points `from..from + count` of family `i` as an OTLP metric, and whether more points
    /// follow: for a consumer that turns a large family into OTLP a window at a time. A
    /// family kept as OTLP comes whole in its first window.
    pub fn metric_window(&self, i: usize, from: usize, count: usize) -> (Metric, bool) {
        match self.families.get(i).map(|f| &f.data) {
            Some(FamilyData::Numbers { points, .. }) => (
                self.metric_part(i, from, count),
                from.saturating_add(count) < points.len(),
            ),
            Some(FamilyData::Otlp(m)) if from == 0 => (m.clone(), false),
            _ => (Metric::default(), false),
        }
    }

    /// Family `i`'s gauge or sum points in compact form, with the family as an OTLP metric
    /// without points (name, description, unit, type); `None` for a family kept as OTLP.
    /// For consumers that read points one by one: a point's attributes are
    /// [`ScopePoints::attributes`] of its set, the same set for the same attributes.
    pub fn numbers(&self, i: usize) -> Option<(Metric, &[NumPoint])> {
        let f = self.families.get(i)?;
        let FamilyData::Numbers { points, .. } = &f.data else {
            return None;
        };
        Some((self.metric_part(i, 0, 0), points))
    }

    /// Number of distinct attribute sets of the scope (sets are numbered from 0).
    pub fn sets(&self) -> usize {
        self.attrs.sets.len()
    }

    /// The attributes of set `set`, as a point of the set carries them in OTLP.
    pub fn attributes(&self, set: u32) -> Vec<KeyValue> {
        self.attrs.key_values(set)
    }

    fn metric_part(&self, i: usize, from: usize, count: usize) -> Metric {
        let Some(f) = self.families.get(i) else {
            return Metric::default();
        };
        match &f.data {
            FamilyData::Otlp(m) => m.clone(),
            FamilyData::Numbers { shape, points } => {
                let data_points = points
                    .iter()
                    .skip(from)
                    .take(count)
                    .map(|p| self.number_point(p))
                    .collect();
                let data = match *shape {
                    NumberShape::Gauge => Data::Gauge(Gauge { data_points }),
                    NumberShape::Sum {
                        temporality,
                        monotonic,
                    } => Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: temporality,
                        is_monotonic: monotonic,
                    }),
                };
                Metric {
                    name: f.name.clone(),
                    description: f.description.clone(),
                    unit: f.unit.clone(),
                    metadata: Vec::new(),
                    data: Some(data),
                }
            }
        }
    }

    fn number_point(&self, p: &NumPoint) -> NumberDataPoint {
        NumberDataPoint {
            attributes: self.attrs.key_values(p.set),
            start_time_unix_nano: p.start,
            time_unix_nano: p.time,
            value: p.value.map(Into::into),
            exemplars: Vec::new(),
            flags: p.flags,
        }
    }
}

/// One OTLP metric: its name, description and unit, and its points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    pub name: String,
    pub description: String,
    pub unit: String,
    pub data: FamilyData,
}

impl Family {
    fn otlp(m: Metric) -> Family {
        Family {
            name: m.name.clone(),
            description: String::new(),
            unit: String::new(),
            data: FamilyData::Otlp(m),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FamilyData {
    Numbers {
        shape: NumberShape,
        points: Vec<NumPoint>,
    },
    /// Kept as it came (histograms, summaries, imported OTLP).
    Otlp(Metric),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberShape {
    Gauge,
    Sum { temporality: i32, monotonic: bool },
}

impl NumberShape {
    pub const COUNTER: NumberShape = NumberShape::Sum {
        temporality: AggregationTemporality::Cumulative as i32,
        monotonic: true,
    };
}

/// A gauge or sum point: 40 bytes, its attributes a reference to the scope's sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumPoint {
    /// The index of its attribute set ([`ScopePoints::attributes`]).
    pub set: u32,
    pub flags: u32,
    pub start: u64,
    pub time: u64,
    /// `None` for a point flagged "no recorded value".
    pub value: Option<Number>,
}

/// An attribute value, hashable: doubles by their bits, so that two sets are the same set
/// exactly when OTLP would encode them the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Val {
    Str(u32),
    Int(i64),
    Double(u64),
    Bool(bool),
    /// No value at all (`value: None`).
    Absent,
    /// Arrays, maps, bytes: kept as given, by index.
    Other(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Attr {
    key: u32,
    val: Val,
}

/// The distinct strings and attribute sets of one scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AttrTable {
    strings: Vec<Arc<str>>,
    others: Vec<AnyValue>,
    sets: Vec<Arc<[Attr]>>,
}

impl AttrTable {
    fn key_values(&self, set: u32) -> Vec<KeyValue> {
        let Some(attrs) = self.sets.get(set as usize) else {
            return Vec::new();
        };
        attrs
            .iter()
            .map(|a| KeyValue {
                key: self.string(a.key).to_owned(),
                value: self.value(&a.val),
                ..Default::default()
            })
            .collect()
    }

    fn value(&self, v: &Val) -> Option<AnyValue> {
        let scalar = match v {
            Val::Absent => return None,
            Val::Other(i) => return self.others.get(*i as usize).cloned(),
            Val::Str(s) => any_value::Value::StringValue(self.string(*s).to_owned()),
            Val::Int(i) => any_value::Value::IntValue(*i),
            Val::Double(d) => any_value::Value::DoubleValue(f64::from_bits(*d)),
            Val::Bool(b) => any_value::Value::BoolValue(*b),
        };
        Some(AnyValue {
            value: Some(scalar),
        })
    }

    fn string(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", |s| s)
    }
}

/// Builds an [`AttrTable`]; its indexes exist only while a snapshot is being built.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    table: AttrTable,
    strings: HashMap<Arc<str>, u32>,
    sets: HashMap<Arc<[Attr]>, u32>,
    scratch: Vec<Attr>,
}

impl Interner {
    /// The set made of `attributes`, in their order.
    pub fn set(&mut self, attributes: impl IntoIterator<Item = KeyValue>) -> u32 {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for kv in attributes {
            let key = self.string(kv.key);
            let val = match kv.value {
                None => Val::Absent,
                Some(AnyValue { value: None }) => self.other(AnyValue { value: None }),
                Some(AnyValue { value: Some(v) }) => match v {
                    any_value::Value::StringValue(s) => Val::Str(self.string(s)),
                    any_value::Value::IntValue(i) => Val::Int(i),
                    any_value::Value::DoubleValue(d) => Val::Double(d.to_bits()),
                    any_value::Value::BoolValue(b) => Val::Bool(b),
                    other => self.other(AnyValue { value: Some(other) }),
                },
            };
            scratch.push(Attr { key, val });
        }
        let id = match self.sets.get(scratch.as_slice()) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.table.sets.len()).unwrap_or(u32::MAX);
                let set: Arc<[Attr]> = Arc::from(scratch.as_slice());
                self.table.sets.push(set.clone());
                self.sets.insert(set, id);
                id
            }
        };
        self.scratch = scratch;
        id
    }

    fn string(&mut self, s: String) -> u32 {
        if let Some(&i) = self.strings.get(s.as_str()) {
            return i;
        }
        let i = u32::try_from(self.table.strings.len()).unwrap_or(u32::MAX);
        let s: Arc<str> = Arc::from(s);
        self.table.strings.push(s.clone());
        self.strings.insert(s, i);
        i
    }

    /// Values that are not plain scalars are not shared: they are rare, and comparing them
    /// would cost more than it saves.
    fn other(&mut self, v: AnyValue) -> Val {
        let i = u32::try_from(self.table.others.len()).unwrap_or(u32::MAX);
        self.table.others.push(v);
        Val::Other(i)
    }

    pub fn finish(self) -> AttrTable {
        let mut t = self.table;
        t.strings.shrink_to_fit();
        t.sets.shrink_to_fit();
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MetricDesc, SnapshotBuilder, kv, resource, scope};
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn families_share_attribute_sets_and_strings() {
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), UNIX_EPOCH);
        for name in ["a", "b", "c"] {
            let d = MetricDesc::new(name, "By", "");
            for i in 0..100 {
                b.gauge(
                    &d,
                    i,
                    [kv("namespace", "ns"), kv("bucket", format!("b{i}"))],
                );
            }
        }
        let rp = b.build();
        let t = &rp.scopes[0].attrs;
        assert_eq!(t.sets.len(), 100);
        // namespace, ns, bucket and the 100 bucket names.
        assert_eq!(t.strings.len(), 103);
        assert_eq!(std::mem::size_of::<NumPoint>(), 40);
    }

    #[test]
    fn odd_attribute_values_come_back_as_given() {
        let odd = [
            KeyValue {
                key: "absent".into(),
                value: None,
                ..Default::default()
            },
            KeyValue {
                key: "empty".into(),
                value: Some(AnyValue { value: None }),
                ..Default::default()
            },
            KeyValue {
                key: "bytes".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![1, 2])),
                }),
                ..Default::default()
            },
            kv("nan", f64::NAN),
            kv("neg-zero", -0.0),
            kv("zero", 0.0),
            kv("t", true),
            kv("i", -3i64),
        ];
        let mut b = SnapshotBuilder::new(resource([]), scope("s", "1"), SystemTime::now());
        let d = MetricDesc::new("g", "1", "");
        b.gauge(&d, 1, odd.clone());
        b.gauge(&d, 2, [kv("zero", 0.0)]);
        b.gauge(&d, 3, [kv("neg-zero", -0.0)]);
        let m = b.build().to_otlp();
        let Some(Data::Gauge(g)) = &m.scope_metrics[0].metrics[0].data else {
            panic!("a gauge")
        };
        let got = &g.data_points[0].attributes;
        assert_eq!(got.len(), odd.len());
        for (a, b) in got.iter().zip(&odd) {
            assert_eq!(a.key, b.key);
            let bits = |kv: &KeyValue| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::DoubleValue(d)) => Some(d.to_bits()),
                _ => None,
            };
            assert_eq!(bits(a), bits(b), "{}", a.key);
            if bits(a).is_none() {
                assert_eq!(a.value, b.value, "{}", a.key);
            }
        }
        // 0.0 and -0.0 are two sets: OTLP encodes them differently.
        assert_eq!(
            g.data_points[1].attributes[0].value,
            Some(AnyValue {
                value: Some(any_value::Value::DoubleValue(0.0))
            })
        );
        let neg = &g.data_points[2].attributes[0].value;
        assert!(matches!(
            neg.as_ref().and_then(|v| v.value.as_ref()),
            Some(any_value::Value::DoubleValue(d)) if d.is_sign_negative()
        ));
    }

    #[test]
    fn otlp_metrics_come_back_whole() {
        let mut b = SnapshotBuilder::new(resource([kv("r", "1")]), scope("s", "1"), UNIX_EPOCH);
        b.counter(&MetricDesc::new("c", "By", "d"), 5u64, UNIX_EPOCH, []);
        let rm = b.build().to_otlp();
        let back = ResourcePoints::from(rm.clone()).to_otlp();
        assert_eq!(back, rm);
        assert_eq!(ResourcePoints::from(rm).data_points(), 1);
    }
}
