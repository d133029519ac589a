//! What a read says: each metric's filter turns the read into samples (a value and its
//! labels), by content type.

mod json;
pub mod prometheus;
mod text;
mod xml;

use crate::config::{ContentType, MetricSettings};

/// One series' value in one read.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A read that does not say what the metric's filter looks for.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ContentError(pub String);

/// What one metric takes from a read: values (text, json, xml) or whole families
/// (prometheus).
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Samples(Vec<Sample>),
    Families(Vec<prometheus::Family>),
}

/// Parses the read once per group: every metric of the group is derived from this.
pub enum Parsed {
    Text(String),
    Tree(serde_json::Value),
    Page(Vec<prometheus::Family>),
}

impl Parsed {
    pub fn new(content: ContentType, body: &[u8]) -> Result<Self, ContentError> {
        let text =
            std::str::from_utf8(body).map_err(|e| ContentError(format!("not UTF-8 text: {e}")))?;
        match content {
            ContentType::Text => Ok(Parsed::Text(text.to_owned())),
            ContentType::Prometheus => prometheus::parse(text)
                .map(Parsed::Page)
                .map_err(|e| ContentError(format!("not a Prometheus page: {e}"))),
            ContentType::Json => serde_json::from_str(text)
                .map(Parsed::Tree)
                .map_err(|e| ContentError(format!("not JSON: {e}"))),
            ContentType::Xml => pull::read::xml::parse(text)
                .map(|(root, tree)| Parsed::Tree(serde_json::json!({ root: tree })))
                .map_err(|e| ContentError(format!("not XML: {e}"))),
        }
    }

    /// What `metric` takes from the read.
    pub fn read(
        &self,
        content: ContentType,
        metric: &MetricSettings,
    ) -> Result<Reading, ContentError> {
        let samples = match (self, content) {
            (Parsed::Text(t), ContentType::Text) => text::samples(t, metric),
            (Parsed::Tree(v), ContentType::Json) => json::samples(v, metric),
            (Parsed::Tree(v), ContentType::Xml) => xml::samples(v, metric),
            (Parsed::Page(p), ContentType::Prometheus) => {
                return prometheus::select(p, metric).map(Reading::Families);
            }
            _ => Err(ContentError(format!(
                "a read parsed for another content type than {content:?}"
            ))),
        };
        samples.map(Reading::Samples)
    }
}

/// A number as sources write them: `"42"`, `1e3`, with spaces around.
pub fn number(v: &serde_json::Value) -> Option<f64> {
    pull::read::json::num(v)
}

/// A fixed label (`=value`) or the field `name` of `obj` read by `field`.
pub fn labels(
    metric: &MetricSettings,
    field: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ContentError> {
    metric
        .labels
        .iter()
        .map(|(label, from)| match from.strip_prefix('=') {
            Some(fixed) => Ok((label.clone(), fixed.to_owned())),
            None => field(from)
                .map(|v| (label.clone(), v))
                .ok_or_else(|| ContentError(format!("no field {from:?} for label {label:?}"))),
        })
        .collect()
}
