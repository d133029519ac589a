//! Typed catalog entries: a metric's attribute keys are part of its type, so a receiver
//! records a point with one value per declared key, in the declared order, and an
//! attribute the catalog does not declare does not compile.
//!
//! ```
//! use pipeline::catalog::{Metric, kind};
//! use pipeline::typed_metric;
//!
//! typed_metric!(NODES, Gauge, "emcecs.nodes", "{node}", ["state"], "/vdc/nodes", "Nodes by state");
//!
//! let mut b = pipeline::SnapshotBuilder::new(
//!     pipeline::resource([]),
//!     pipeline::scope("doc", "0"),
//!     std::time::SystemTime::UNIX_EPOCH,
//! );
//! NODES.record(&mut b, 3, ["good"]);
//! assert_eq!(NODES.entry.attributes, &["state"]);
//! ```
//!
//! A value for an undeclared key does not compile:
//!
//! ```compile_fail,E0277
//! use pipeline::typed_metric;
//! typed_metric!(NODES, Gauge, "emcecs.nodes", "{node}", ["state"], "/vdc/nodes", "Nodes by state");
//! # let mut b = pipeline::SnapshotBuilder::new(pipeline::resource([]), pipeline::scope("doc", "0"), std::time::SystemTime::UNIX_EPOCH);
//! NODES.record(&mut b, 3, ["good", "extra"]);
//! ```
//!
//! Nor do dynamic attributes on a metric that declares none:
//!
//! ```compile_fail,E0277
//! use pipeline::catalog::Tagged;
//! use pipeline::typed_metric;
//! typed_metric!(NODES, Gauge, "emcecs.nodes", "{node}", ["state"], "/vdc/nodes", "Nodes by state");
//! # let mut b = pipeline::SnapshotBuilder::new(pipeline::resource([]), pipeline::scope("doc", "0"), std::time::SystemTime::UNIX_EPOCH);
//! NODES.record(&mut b, 3, Tagged(["good"], vec![pipeline::kv("tag_x", "y")]));
//! ```

use std::marker::PhantomData;
use std::time::SystemTime;

use super::{CatalogEntry, Instrument};
use crate::otlp::common::v1::KeyValue;
use crate::{AttrValue, HistogramValue, MetricDesc, Number, SnapshotBuilder, kv};

/// The instrument and attribute-set kinds, as types.
pub mod kind {
    use super::Instrument;

    /// An instrument kind: what the catalog calls it.
    pub trait Kind {
        const INSTRUMENT: Instrument;
    }

    /// A value now.
    #[derive(Debug, Clone, Copy)]
    pub struct Gauge;
    /// A cumulative monotonic sum.
    #[derive(Debug, Clone, Copy)]
    pub struct Counter;
    /// A cumulative explicit-bucket histogram.
    #[derive(Debug, Clone, Copy)]
    pub struct Histogram;

    impl Kind for Gauge {
        const INSTRUMENT: Instrument = Instrument::Gauge;
    }
    impl Kind for Counter {
        const INSTRUMENT: Instrument = Instrument::Counter;
    }
    impl Kind for Histogram {
        const INSTRUMENT: Instrument = Instrument::Histogram;
    }

    /// Exactly the declared attributes.
    #[derive(Debug, Clone, Copy)]
    pub struct Closed;
    /// The declared attributes, then dynamic ones the catalog names by a pattern
    /// (`tag_<key in snake case>`), passed with [`super::Tagged`].
    #[derive(Debug, Clone, Copy)]
    pub struct Open;
}

use kind::{Closed, Counter, Gauge, Histogram, Kind, Open};

/// One attribute value: a string, number or bool, or `None` for an attribute left out
/// of this point (a label whose value is not known).
pub trait AttrInput {
    fn attr_value(self) -> Option<AttrValue>;
}

macro_rules! attr_input {
    ($($t:ty),*) => {
        $(impl AttrInput for $t {
            fn attr_value(self) -> Option<AttrValue> {
                Some(self.into())
            }
        })*
    };
}
attr_input!(&str, String, &String, i64, u64, f64, bool, AttrValue);

impl<T: AttrInput> AttrInput for Option<T> {
    fn attr_value(self) -> Option<AttrValue> {
        self.and_then(AttrInput::attr_value)
    }
}

/// The attributes of one point of a metric with `N` declared keys: `[V; N]` (one value
/// per key, in the declared order), `()` for a metric without attributes, or
/// [`Tagged`] for a metric whose catalog entry names dynamic attributes.
pub trait Attributes<const N: usize, X> {
    fn key_values(self, keys: &[&'static str; N]) -> Vec<KeyValue>;
}

impl<V: AttrInput, const N: usize, X> Attributes<N, X> for [V; N] {
    fn key_values(self, keys: &[&'static str; N]) -> Vec<KeyValue> {
        // Exactly sized: a snapshot keeps every point's attributes, and a spare slot per
        // point costs megabytes on a large cluster.
        let mut out = Vec::with_capacity(N);
        out.extend(
            keys.iter()
                .zip(self)
                .filter_map(|(k, v)| v.attr_value().map(|v| kv(*k, v))),
        );
        out.shrink_to_fit();
        out
    }
}

impl<X> Attributes<0, X> for () {
    fn key_values(self, _: &[&'static str; 0]) -> Vec<KeyValue> {
        Vec::new()
    }
}

/// The declared attributes, then dynamic ones: only for metrics declared with a pattern
/// for them.
#[derive(Debug, Clone)]
pub struct Tagged<A, T>(pub A, pub T);

impl<A, T, const N: usize> Attributes<N, Open> for Tagged<A, T>
where
    A: Attributes<N, Closed>,
    T: IntoIterator<Item = KeyValue>,
{
    fn key_values(self, keys: &[&'static str; N]) -> Vec<KeyValue> {
        let mut out = self.0.key_values(keys);
        let tags: Vec<KeyValue> = self.1.into_iter().collect();
        out.reserve_exact(tags.len());
        out.extend(tags);
        out
    }
}

/// A catalog entry whose instrument `K`, attribute keys (`N` of them) and openness `X`
/// are part of its type. Declare it with [`crate::typed_metric!`].
#[derive(Debug, Clone, Copy)]
pub struct Metric<'n, K, const N: usize, X = Closed> {
    /// What the catalog and the reference list.
    pub entry: CatalogEntry,
    /// The declared keys, in the order points carry them.
    pub keys: [&'static str; N],
    /// The name points are recorded under: the entry's, unless renamed.
    recorded_as: &'n str,
    kind: PhantomData<fn() -> (K, X)>,
}

/// The number of keys of a declaration.
pub const fn count(keys: &[&str]) -> usize {
    keys.len()
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl<K: Kind, const N: usize, X> Metric<'static, K, N, X> {
    /// `attributes` is what the reference lists: the `keys`, then for an open metric the
    /// pattern of its dynamic attributes.
    pub const fn new(
        desc: MetricDesc<'static>,
        keys: [&'static str; N],
        attributes: &'static [&'static str],
        enabled: bool,
        source: &'static str,
    ) -> Self {
        assert!(
            attributes.len() >= N,
            "the listed attributes must begin with the keys"
        );
        let mut i = 0;
        while i < N {
            assert!(
                same(keys[i], attributes[i]),
                "the listed attributes must begin with the keys"
            );
            i += 1;
        }
        Self {
            entry: CatalogEntry {
                desc,
                instrument: K::INSTRUMENT,
                attributes,
                enabled,
                source,
            },
            keys,
            recorded_as: desc.name,
            kind: PhantomData,
        }
    }
}

impl<'n, K, const N: usize, X> Metric<'n, K, N, X> {
    /// The same metric under another name (a cost metric whose name ends with the
    /// configured currency).
    pub fn renamed<'m>(&self, name: &'m str) -> Metric<'m, K, N, X> {
        Metric {
            entry: self.entry,
            keys: self.keys,
            recorded_as: name,
            kind: PhantomData,
        }
    }

    /// The name, unit and description points are recorded with.
    pub fn desc(&self) -> MetricDesc<'n> {
        MetricDesc::new(
            self.recorded_as,
            self.entry.desc.unit,
            self.entry.desc.description,
        )
    }
}

impl<const N: usize, X> Metric<'_, Gauge, N, X> {
    /// A point stamped with the snapshot's time.
    pub fn record(
        &self,
        b: &mut SnapshotBuilder,
        value: impl Into<Number>,
        attrs: impl Attributes<N, X>,
    ) {
        b.gauge(&self.desc(), value, attrs.key_values(&self.keys));
    }

    /// A point with its own time.
    pub fn record_at(
        &self,
        b: &mut SnapshotBuilder,
        value: impl Into<Number>,
        attrs: impl Attributes<N, X>,
        time: SystemTime,
    ) {
        b.gauge_at(&self.desc(), value, attrs.key_values(&self.keys), time);
    }

    /// A staleness marker: the series has no value now.
    pub fn stale(&self, b: &mut SnapshotBuilder, attrs: impl Attributes<N, X>) {
        b.gauge_stale(&self.desc(), attrs.key_values(&self.keys));
    }
}

impl<const N: usize, X> Metric<'_, Counter, N, X> {
    /// A point stamped with the snapshot's time, counting since `start`.
    pub fn record(
        &self,
        b: &mut SnapshotBuilder,
        value: impl Into<Number>,
        start: SystemTime,
        attrs: impl Attributes<N, X>,
    ) {
        b.counter(&self.desc(), value, start, attrs.key_values(&self.keys));
    }

    /// A point with its own time, counting since `start`.
    pub fn record_at(
        &self,
        b: &mut SnapshotBuilder,
        value: impl Into<Number>,
        start: SystemTime,
        attrs: impl Attributes<N, X>,
        time: SystemTime,
    ) {
        b.counter_at(
            &self.desc(),
            value,
            start,
            attrs.key_values(&self.keys),
            time,
        );
    }
}

impl<const N: usize, X> Metric<'_, Histogram, N, X> {
    /// A cumulative point, counting since `start`.
    pub fn record(
        &self,
        b: &mut SnapshotBuilder,
        value: &HistogramValue<'_>,
        start: SystemTime,
        attrs: impl Attributes<N, X>,
    ) {
        b.histogram(&self.desc(), value, start, attrs.key_values(&self.keys));
    }
}

/// Declares `pub const $id` as a typed catalog entry:
///
/// `typed_metric!(ID, Gauge, "name", "unit", ["key", ...], source, "description")`, with
/// `Gauge`, `Counter` or `Histogram`; `["key", ...] + "pattern"` for a metric that also
/// carries dynamic attributes (recorded with [`Tagged`]); and a trailing `, off` for an
/// entry not emitted by default.
#[macro_export]
macro_rules! typed_metric {
    ($id:ident, $kind:ident, $name:literal, $unit:literal, [$($key:literal),* $(,)?], $source:expr, $desc:literal $(, $off:ident)?) => {
        pub const $id: $crate::catalog::Metric<
            'static,
            $crate::catalog::kind::$kind,
            { $crate::catalog::count(&[$($key),*]) },
        > = $crate::catalog::Metric::new(
            $crate::MetricDesc::new($name, $unit, $desc),
            [$($key),*],
            &[$($key),*],
            $crate::typed_metric!(@enabled $($off)?),
            $source,
        );
    };
    ($id:ident, $kind:ident, $name:literal, $unit:literal, [$($key:literal),* $(,)?] + $pattern:literal, $source:expr, $desc:literal $(, $off:ident)?) => {
        pub const $id: $crate::catalog::Metric<
            'static,
            $crate::catalog::kind::$kind,
            { $crate::catalog::count(&[$($key),*]) },
            $crate::catalog::kind::Open,
        > = $crate::catalog::Metric::new(
            $crate::MetricDesc::new($name, $unit, $desc),
            [$($key),*],
            &[$($key,)* $pattern],
            $crate::typed_metric!(@enabled $($off)?),
            $source,
        );
    };
    (@enabled) => { true };
    (@enabled off) => { false };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::common::v1::any_value::Value;

    crate::typed_metric!(DISK, Gauge, "t.disk", "By", ["node", "disk"], "src", "Disk");
    crate::typed_metric!(NONE, Counter, "t.total", "", [], "src", "Total", off);
    crate::typed_metric!(
        BUCKET,
        Gauge,
        "t.bucket",
        "By",
        ["bucket"] + "tag_<key>",
        "src",
        "Bucket"
    );

    #[test]
    fn attributes_are_sized_exactly() {
        // Snapshots keep every point's attributes: spare capacity is memory held per point.
        let a = <[&str; 2] as Attributes<2, Closed>>::key_values(["n1", "d1"], &DISK.keys);
        assert_eq!((a.len(), a.capacity()), (2, 2));
        let a = <[Option<&str>; 2] as Attributes<2, Closed>>::key_values(
            [Some("n1"), None],
            &DISK.keys,
        );
        assert_eq!((a.len(), a.capacity()), (1, 1));
        let tags = vec![kv("tag_team", "a"), kv("tag_env", "b")];
        let a = Tagged(["b1"], tags).key_values(&BUCKET.keys);
        assert_eq!((a.len(), a.capacity()), (3, 3));
    }

    fn points(b: SnapshotBuilder) -> Vec<(String, Vec<(String, String)>)> {
        let rm = b.build().to_otlp();
        let mut out = Vec::new();
        for m in &rm.scope_metrics[0].metrics {
            let attrs = |a: &[KeyValue]| {
                a.iter()
                    .map(|kv| {
                        let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                            Some(Value::StringValue(s)) => s.clone(),
                            Some(Value::IntValue(i)) => i.to_string(),
                            other => format!("{other:?}"),
                        };
                        (kv.key.clone(), v)
                    })
                    .collect::<Vec<_>>()
            };
            use crate::otlp::metrics::v1::metric::Data;
            match &m.data {
                Some(Data::Gauge(g)) => g
                    .data_points
                    .iter()
                    .for_each(|p| out.push((m.name.clone(), attrs(&p.attributes)))),
                Some(Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .for_each(|p| out.push((m.name.clone(), attrs(&p.attributes)))),
                _ => {}
            }
        }
        out
    }

    fn builder() -> SnapshotBuilder {
        SnapshotBuilder::new(
            crate::resource([]),
            crate::scope("t", "0"),
            SystemTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn entries_list_keys_and_patterns() {
        assert_eq!(DISK.entry.attributes, &["node", "disk"]);
        assert_eq!(DISK.entry.instrument, Instrument::Gauge);
        const { assert!(DISK.entry.enabled) };
        assert_eq!(NONE.entry.attributes, &[] as &[&str]);
        const { assert!(!NONE.entry.enabled) };
        assert_eq!(BUCKET.entry.attributes, &["bucket", "tag_<key>"]);
        assert_eq!(BUCKET.keys, ["bucket"]);
    }

    #[test]
    fn points_carry_the_keys_in_order_and_leave_out_unknown_values() {
        let mut b = builder();
        DISK.record(&mut b, 1, ["n1", "d1"]);
        DISK.record(&mut b, 2, [Some("n2"), None]);
        NONE.record(&mut b, 5u64, SystemTime::UNIX_EPOCH, ());
        BUCKET.record(&mut b, 3, Tagged(["b1"], vec![kv("tag_owner", "me")]));
        BUCKET
            .renamed("t.bucket.eur")
            .record(&mut b, 4, Tagged(["b2"], None));
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            points(b),
            vec![
                ("t.disk".into(), vec![kv("node", "n1"), kv("disk", "d1")]),
                ("t.disk".into(), vec![kv("node", "n2")]),
                ("t.total".into(), vec![]),
                (
                    "t.bucket".into(),
                    vec![kv("bucket", "b1"), kv("tag_owner", "me")]
                ),
                ("t.bucket.eur".into(), vec![kv("bucket", "b2")]),
            ]
        );
    }
}
