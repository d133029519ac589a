//! xml: a path to elements (`/root/disks/disk`); the value is the element's text, or the
//! child or `@attribute` named by `value`; labels name children or `@attributes`. The
//! document is read by the toolkit's lenient XML reader into a tree (elements as objects,
//! repeated elements as lists, attributes as `@name`, an element's own text beside its
//! attributes as `#text`).

use serde_json::Value;

use super::{ContentError, Sample, labels, number};
use crate::config::MetricSettings;

pub fn samples(
    doc: &Value,
    filter: &str,
    metric: &MetricSettings,
) -> Result<Vec<Sample>, ContentError> {
    let mut nodes = vec![doc];
    for step in filter.split('/').filter(|s| !s.is_empty()) {
        nodes = nodes
            .into_iter()
            .filter_map(|n| n.get(step))
            .flat_map(|n| match n {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![other],
            })
            .collect();
    }
    if nodes.is_empty() {
        return Err(ContentError(format!("no element at {filter}")));
    }
    nodes.into_iter().map(|n| sample(n, metric)).collect()
}

fn text_of(n: &Value) -> Option<&Value> {
    match n {
        Value::Object(o) => o.get("#text"),
        other => Some(other),
    }
}

fn sample(node: &Value, metric: &MetricSettings) -> Result<Sample, ContentError> {
    let raw = match &metric.value {
        Some(f) => node.get(f.as_str()).and_then(text_of),
        None => text_of(node),
    };
    let value = raw
        .and_then(number)
        .ok_or_else(|| ContentError(format!("no number in {node}")))?;
    let labels = labels(metric, |f| match node.get(f).and_then(text_of) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ Value::Number(_)) => Some(v.to_string()),
        _ => None,
    })?;
    Ok(Sample { labels, value })
}
