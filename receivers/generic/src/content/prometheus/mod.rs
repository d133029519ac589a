//! prometheus: a Prometheus text (0.0.4) or OpenMetrics page, imported whole or by family.
//! The metric's `filter` is a regular expression over family names, matched against the
//! whole name (as Prometheus' relabelling does); every family when unset.

mod emit;
mod parse;

pub use emit::{Target, emit};
pub use parse::{Family, Kind, ParseError, Point, parse};

use regex::Regex;

use super::ContentError;

/// A family filter as users write it, anchored on the whole name as Prometheus' relabelling
/// anchors it.
pub fn family_filter(filter: &str) -> Result<Regex, ContentError> {
    Regex::new(&format!("^(?:{filter})$")).map_err(|e| ContentError(e.to_string()))
}

/// The families of `page` the metric imports.
pub fn select(page: &[Family], filter: Option<&Regex>) -> Result<Vec<Family>, ContentError> {
    let Some(re) = filter else {
        if page.is_empty() {
            return Err(ContentError("the page has no samples".into()));
        }
        return Ok(page.to_vec());
    };
    let out: Vec<Family> = page
        .iter()
        .filter(|f| re.is_match(&f.name))
        .cloned()
        .collect();
    if out.is_empty() {
        return Err(ContentError(format!("no family matches {:?}", re.as_str())));
    }
    Ok(out)
}
