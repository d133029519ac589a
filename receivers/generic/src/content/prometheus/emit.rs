//! Imported families as OTLP points: counters as monotonic cumulative sums, gauges and
//! untyped samples as gauges, histograms as explicit-bucket histograms, summaries as
//! summaries; each family named with the service's prefix, its HELP as description.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pipeline::{HistogramValue, MetricDesc, SnapshotBuilder, SummaryValue, kv};

use super::{Family, Kind, Point};
use crate::config::MetricSettings;
use crate::cumulative::Starts;

/// What an emission needs besides the families: where the points go and the block's
/// counter starts.
pub struct Target<'a> {
    pub builder: &'a mut SnapshotBuilder,
    pub starts: &'a mut Starts,
    pub prefix: &'a str,
    pub now: SystemTime,
}

pub fn emit(t: &mut Target<'_>, metric: &MetricSettings, families: &[Family]) {
    // Fixed labels of the metric (`site: =lab`) are added to every series.
    let fixed: Vec<(String, String)> = metric
        .labels
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.strip_prefix('=')?.to_owned())))
        .collect();
    for f in families {
        let name = format!("{}{}", t.prefix, f.name);
        let unit = if f.unit.is_empty() {
            &metric.unit
        } else {
            &f.unit
        };
        let description = if f.help.is_empty() {
            &metric.description
        } else {
            &f.help
        };
        let desc = MetricDesc::new(&name, unit, description);
        for p in &f.points {
            let mut labels = p.labels.clone();
            labels.extend(fixed.iter().cloned());
            point(t, &desc, f.kind, p, &labels);
        }
    }
}

fn point(
    t: &mut Target<'_>,
    desc: &MetricDesc<'_>,
    kind: Kind,
    p: &Point,
    labels: &[(String, String)],
) {
    let attrs = labels.iter().map(|(k, v)| kv(k.clone(), v.clone()));
    let created = p.created.and_then(epoch_seconds);
    match kind {
        Kind::Gauge | Kind::Untyped => {
            if let Some(v) = p.value {
                t.builder.gauge(desc, v, attrs);
            }
        }
        Kind::Counter => {
            if let Some(v) = p.value {
                let start = t.starts.start(desc.name, labels, v, t.now, created);
                t.builder.counter(desc, v, start, attrs);
            }
        }
        Kind::Histogram => {
            let (bounds, counts, total) = buckets(p);
            let start = t.starts.start(desc.name, labels, total, t.now, created);
            let value = HistogramValue {
                bounds: &bounds,
                counts: &counts,
                sum: p.sum.unwrap_or(0.0),
                min: None,
                max: None,
            };
            t.builder.histogram(desc, &value, start, attrs);
        }
        Kind::Summary => {
            let count = p.count.unwrap_or(0.0);
            let start = t.starts.start(desc.name, labels, count, t.now, created);
            let mut quantiles = p.quantiles.clone();
            quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
            let value = SummaryValue {
                quantiles: &quantiles,
                count: whole(count),
                sum: p.sum.unwrap_or(0.0),
            };
            t.builder.summary(desc, &value, start, attrs);
        }
    }
}

/// Cumulative `le` buckets as OTLP's per-bucket counts: the finite bounds, one count per
/// bound and one above the last (up to `_count`, or the `+Inf` bucket without it), and the
/// total count.
pub fn buckets(p: &Point) -> (Vec<f64>, Vec<u64>, f64) {
    let mut b = p.buckets.clone();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let inf = b.iter().find(|(le, _)| *le == f64::INFINITY).map(|x| x.1);
    let total = p.count.or(inf).unwrap_or(0.0);
    let mut bounds = Vec::with_capacity(b.len());
    let mut counts = Vec::with_capacity(b.len() + 1);
    let mut below = 0.0;
    for (le, cumulative) in b.into_iter().filter(|(le, _)| le.is_finite()) {
        bounds.push(le);
        counts.push(whole(cumulative - below));
        below = cumulative.max(below);
    }
    counts.push(whole(total - below));
    (bounds, counts, total)
}

/// A count as pages write it (a float) as a whole number; negative and NaN as 0.
fn whole(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

fn epoch_seconds(s: f64) -> Option<SystemTime> {
    if s.is_finite() && s > 0.0 {
        Some(UNIX_EPOCH + Duration::from_secs_f64(s))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_buckets_become_per_bucket_counts() {
        let p = Point {
            buckets: vec![(1.0, 5.0), (0.1, 2.0), (f64::INFINITY, 6.0)],
            count: Some(6.0),
            ..Point::default()
        };
        assert_eq!(buckets(&p), (vec![0.1, 1.0], vec![2, 3, 1], 6.0));
        let no_inf = Point {
            buckets: vec![(0.5, 1.0)],
            count: Some(4.0),
            ..Point::default()
        };
        assert_eq!(buckets(&no_inf), (vec![0.5], vec![1, 3], 4.0));
    }
}
