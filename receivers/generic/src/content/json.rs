//! json: a JSONPath (RFC 9535, by the serde_json_path crate) to a value, or to objects
//! whose `value` field is the value and whose fields named in `labels` are the labels.

use serde_json::Value;
use serde_json_path::JsonPath;

use super::{ContentError, Sample, labels, number};
use crate::config::MetricSettings;

pub fn samples(
    doc: &Value,
    path: &JsonPath,
    metric: &MetricSettings,
) -> Result<Vec<Sample>, ContentError> {
    let mut out = Vec::new();
    for node in path.query(doc).all() {
        out.push(sample(node, metric)?);
    }
    if out.is_empty() {
        return Err(ContentError(format!("nothing at {path}")));
    }
    Ok(out)
}

/// One selected node: a number, or an object holding one.
pub fn sample(node: &Value, metric: &MetricSettings) -> Result<Sample, ContentError> {
    let value = match (&metric.value, node) {
        (Some(field), Value::Object(o)) => o.get(field.as_str()).and_then(number),
        (None, v) => number(v),
        (Some(_), _) => None,
    }
    .ok_or_else(|| ContentError(format!("no number in {}", short(node))))?;
    let labels = labels(metric, |f| match node.get(f) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
        _ => None,
    })?;
    Ok(Sample { labels, value })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
