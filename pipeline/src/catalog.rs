//! A receiver's metric catalog, like the Collector's mdatagen metadata: every metric it
//! can emit, with type, unit, attributes and source. The metrics reference in docs/ is
//! generated from the catalogs, and tests check that receivers emit only what their
//! catalog lists.

use crate::MetricDesc;

mod typed;
pub use typed::{AttrInput, Attributes, Metric, Tagged, count, kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instrument {
    Gauge,
    /// A cumulative monotonic sum.
    Counter,
    Histogram,
}

impl Instrument {
    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Gauge => "gauge",
            Instrument::Counter => "counter",
            Instrument::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CatalogEntry {
    pub desc: MetricDesc<'static>,
    pub instrument: Instrument,
    pub attributes: &'static [&'static str],
    /// Emitted unless turned off in the configuration.
    pub enabled: bool,
    /// Where the value comes from (an API path, a file, the process).
    pub source: &'static str,
}

/// A catalog entry emitted by default.
pub const fn entry(
    desc: MetricDesc<'static>,
    instrument: Instrument,
    attributes: &'static [&'static str],
    source: &'static str,
) -> CatalogEntry {
    CatalogEntry {
        desc,
        instrument,
        attributes,
        enabled: true,
        source,
    }
}

/// Declares `pub const $id: MetricDesc` for a catalog.
#[macro_export]
macro_rules! metric {
    ($id:ident, $name:literal, $unit:literal, $desc:literal) => {
        pub const $id: $crate::MetricDesc<'static> = $crate::MetricDesc::new($name, $unit, $desc);
    };
}

/// A metric users ask for that no available source can supply: listed with
/// the reason, never emitted with a made-up value.
#[derive(Debug, Clone, Copy)]
pub struct Unavailable {
    pub name: &'static str,
    pub reason: &'static str,
}

/// A metric users ask for by one name that the agent emits under another (an OTel-style
/// name, a gauge where they wrote `_total`, a family with the value as an attribute).
#[derive(Debug, Clone, Copy)]
pub struct Renamed {
    pub asked: &'static str,
    /// The Prometheus names that carry it.
    pub emitted: &'static [&'static str],
    pub note: &'static str,
}

/// One receiver's catalog.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    pub receiver: &'static str,
    pub description: &'static str,
    pub metrics: &'static [CatalogEntry],
    pub unavailable: &'static [Unavailable],
    pub renamed: &'static [Renamed],
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.metrics.iter().find(|m| m.desc.name == name)
    }
}
