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
            ContentType::Xml => pull::read::xml::parse_with_attributes(text)
                .map(|(root, tree)| Parsed::Tree(serde_json::json!({ root: tree })))
                .map_err(|e| ContentError(format!("not XML: {e}"))),
        }
    }

    /// What `metric` takes from the read, selected by its compiled `filter`.
    pub fn read(&self, filter: &Filter, metric: &MetricSettings) -> Result<Reading, ContentError> {
        let samples = match (self, filter) {
            (Parsed::Text(t), Filter::Regex(re)) => text::samples(t, re, metric),
            (Parsed::Tree(v), Filter::Path(p)) => json::samples(v, p, metric),
            (Parsed::Tree(v), Filter::Elements(p)) => xml::samples(v, p, metric),
            (Parsed::Page(p), Filter::Families(re)) => {
                return prometheus::select(p, re.as_ref()).map(Reading::Families);
            }
            _ => Err(ContentError(
                "a read parsed for another content type than its filter".into(),
            )),
        };
        samples.map(Reading::Samples)
    }
}

/// A text metric without a filter: the whole read, spaces around it aside, is the value.
const WHOLE_READ: &str = r"(?s)\A\s*(?P<value>\S+)\s*\z";

/// A metric's filter, compiled once when the receiver is built (a run at a 1 s interval
/// must not compile 1,000 regular expressions a second).
pub enum Filter {
    Regex(regex::Regex),
    Path(serde_json_path::JsonPath),
    Elements(String),
    /// prometheus: the families to import, by their whole name (all when unset).
    Families(Option<regex::Regex>),
}

impl Filter {
    pub fn new(content: ContentType, metric: &MetricSettings) -> Result<Self, ContentError> {
        let f = metric.filter.as_deref();
        Ok(match content {
            ContentType::Text => Filter::Regex(
                regex::Regex::new(f.unwrap_or(WHOLE_READ))
                    .map_err(|e| ContentError(e.to_string()))?,
            ),
            ContentType::Json => Filter::Path(
                serde_json_path::JsonPath::parse(f.unwrap_or("$"))
                    .map_err(|e| ContentError(e.to_string()))?,
            ),
            ContentType::Xml => Filter::Elements(f.unwrap_or("/").to_owned()),
            ContentType::Prometheus => {
                Filter::Families(f.map(prometheus::family_filter).transpose()?)
            }
        })
    }
}

/// A number as sources write them: `"42"`, `1e3`, with spaces around.
pub fn number(v: &serde_json::Value) -> Option<f64> {
    pull::read::json::num(v)
}

/// The metric's labels: a fixed one (`=value`), or the field `from` of the selected
/// object read by `field`. An object without that field has no such label (dtquery's
/// first entry has no `type`, the others do), as Prometheus treats an empty label.
pub fn labels(
    metric: &MetricSettings,
    field: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ContentError> {
    Ok(metric
        .labels
        .iter()
        .filter_map(|(label, from)| match from.strip_prefix('=') {
            Some(fixed) => Some((label.clone(), fixed.to_owned())),
            None => field(from).map(|v| (label.clone(), v)),
        })
        .collect())
}
