//! text: a regular expression; each match is a series, its named capture `value` the value
//! and its other named captures the labels.

use regex::Regex;

use super::{ContentError, Sample, labels};
use crate::config::MetricSettings;

pub fn samples(
    text: &str,
    re: &Regex,
    metric: &MetricSettings,
) -> Result<Vec<Sample>, ContentError> {
    let names: Vec<&str> = re
        .capture_names()
        .flatten()
        .filter(|n| *n != "value")
        .collect();
    let mut out = Vec::new();
    for c in re.captures_iter(text) {
        let raw = c.name("value").map(|m| m.as_str()).unwrap_or_default();
        let value = raw
            .trim()
            .parse::<f64>()
            .map_err(|_| ContentError(format!("{raw:?} is not a number")))?;
        let mut l: Vec<(String, String)> = names
            .iter()
            .filter_map(|n| c.name(n).map(|m| ((*n).to_owned(), m.as_str().to_owned())))
            .collect();
        l.extend(labels(metric, |_| None)?);
        out.push(Sample { labels: l, value });
    }
    if out.is_empty() {
        return Err(ContentError(format!("nothing matched {:?}", re.as_str())));
    }
    Ok(out)
}
