//! Cuts a batch into export requests that each stay under the server's size limit, one
//! request at a time, so that a large snapshot is never copied whole: the compact snapshot
//! is turned into OTLP [`WINDOW`] points at a time. Metrics here, logs in
//! [`LogsSplitter`].

mod draft;
mod logs;

use draft::{Draft, DraftMetric, DraftResource, DraftScope};
pub use logs::LogsSplitter;

use pipeline::ResourcePoints;
use pipeline::otlp::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, Metric, Sum, Summary, metric::Data,
};
use prost::Message;

/// Bytes a length-delimited field adds beyond its content, at most.
const FIELD_OVERHEAD: usize = 6;

/// Points of a family in OTLP form at a time. A whole 20,000-point billing family in OTLP
/// form took 8 MB at the billing cycle's memory peak; a window, about 1.6 MB. Windows of
/// one family that go into one request are joined, so the requests are the same as if
/// the family had been turned into OTLP whole.
pub const WINDOW: usize = 4096;

pub struct Splitter<'a> {
    rms: &'a [ResourcePoints],
    max: usize,
    window: usize,
    rm: usize,
    sm: usize,
    m: usize,
    /// Points of family `m` already turned into OTLP.
    from: usize,
    /// Whether family `m` has points past the current window.
    more: bool,
    /// What is left of the current window of family `m`, in OTLP form, while its points
    /// are cut into requests.
    current: Option<Metric>,
}

impl<'a> Splitter<'a> {
    pub fn new(rms: &'a [ResourcePoints], max_bytes: usize) -> Self {
        Self::with_window(rms, max_bytes, WINDOW)
    }

    fn with_window(rms: &'a [ResourcePoints], max_bytes: usize, window: usize) -> Self {
        Self {
            rms,
            window,
            max: max_bytes,
            rm: 0,
            sm: 0,
            m: 0,
            from: 0,
            more: false,
            current: None,
        }
    }
}

/// How many of `pts` fit in `budget` once encoded (at least one if `force`), and their size.
fn fitting<P: Message>(pts: &[P], budget: usize, force: bool) -> (usize, usize) {
    let mut size = 0;
    let mut n = 0;
    for p in pts {
        let s = p.encoded_len() + FIELD_OVERHEAD;
        if size + s > budget && !(force && n == 0) {
            break;
        }
        size += s;
        n += 1;
    }
    (n, size)
}

/// Records from `start` whose encoded size fits in `budget` (at least one if `force`),
/// copied: the logs splitter cuts the batch's own records.
fn take<P: Message + Clone>(
    pts: &[P],
    start: usize,
    budget: usize,
    force: bool,
) -> (Vec<P>, usize) {
    let rest = pts.get(start..).unwrap_or_default();
    let (n, size) = fitting(rest, budget, force);
    (rest[..n].to_vec(), size)
}

/// Moves out the points at the front of `pts` whose encoded size fits in `budget` (at least
/// one if `force`); the rest stay. Moved, not cloned: the splitter owns the family it cuts.
fn take_front<P: Message>(pts: &mut Vec<P>, budget: usize, force: bool) -> (Vec<P>, usize) {
    let (n, size) = fitting(pts, budget, force);
    let rest = pts.split_off(n);
    (std::mem::replace(pts, rest), size)
}

/// The front points of `m` that fit, as a metric of their own; the points taken and the
/// size they add.
fn piece(m: &mut Metric, budget: usize, force: bool) -> (Metric, usize, usize) {
    let (data, taken, size) = match &mut m.data {
        None => (None, 0, 0),
        Some(Data::Gauge(g)) => {
            let (p, s) = take_front(&mut g.data_points, budget, force);
            let n = p.len();
            (Some(Data::Gauge(Gauge { data_points: p })), n, s)
        }
        Some(Data::Sum(x)) => {
            let (p, s) = take_front(&mut x.data_points, budget, force);
            let n = p.len();
            (
                Some(Data::Sum(Sum {
                    data_points: p,
                    ..x.clone_empty()
                })),
                n,
                s,
            )
        }
        Some(Data::Histogram(x)) => {
            let (p, s) = take_front(&mut x.data_points, budget, force);
            let n = p.len();
            (
                Some(Data::Histogram(Histogram {
                    data_points: p,
                    aggregation_temporality: x.aggregation_temporality,
                })),
                n,
                s,
            )
        }
        Some(Data::ExponentialHistogram(x)) => {
            let (p, s) = take_front(&mut x.data_points, budget, force);
            let n = p.len();
            (
                Some(Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: p,
                    aggregation_temporality: x.aggregation_temporality,
                })),
                n,
                s,
            )
        }
        Some(Data::Summary(x)) => {
            let (p, s) = take_front(&mut x.data_points, budget, force);
            let n = p.len();
            (Some(Data::Summary(Summary { data_points: p })), n, s)
        }
    };
    let out = Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        metadata: m.metadata.clone(),
        data,
    };
    (out, taken, size)
}

trait CloneEmpty {
    fn clone_empty(&self) -> Self;
}

impl CloneEmpty for Sum {
    fn clone_empty(&self) -> Self {
        Sum {
            data_points: Vec::new(),
            aggregation_temporality: self.aggregation_temporality,
            is_monotonic: self.is_monotonic,
        }
    }
}

/// Each item is one `ExportMetricsServiceRequest`, encoded.
impl Iterator for Splitter<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut draft = Draft::default();
        let out = &mut draft.resources;
        let mut last: Option<(usize, usize)> = None;
        // The family whose points the request's last metric holds.
        let mut last_family: Option<(usize, usize, usize)> = None;
        let mut size = 0usize;
        while let Some(r) = self.rms.get(self.rm) {
            let Some(s) = r.scopes.get(self.sm) else {
                (self.rm, self.sm, self.m) = (self.rm + 1, 0, 0);
                continue;
            };
            if self.m >= s.len() {
                (self.sm, self.m) = (self.sm + 1, 0);
                continue;
            }
            let mut metric = match self.current.take() {
                Some(m) => m,
                None => {
                    let (m, more) = s.metric_window(self.m, self.from, self.window);
                    self.from = self.from.saturating_add(self.window);
                    self.more = more;
                    m
                }
            };
            let new_rm = last.is_none_or(|(rm, _)| rm != self.rm);
            let new_sm = new_rm || last.is_some_and(|(_, sm)| sm != self.sm);
            let continued = last_family == Some((self.rm, self.sm, self.m));
            let mut overhead = if continued {
                0
            } else {
                metric.name.len()
                    + metric.description.len()
                    + metric.unit.len()
                    + 4 * FIELD_OVERHEAD
            };
            if new_rm {
                overhead +=
                    r.resource.as_ref().map_or(0, Message::encoded_len) + 2 * FIELD_OVERHEAD;
            }
            if new_sm {
                overhead += s.scope.as_ref().map_or(0, Message::encoded_len) + 2 * FIELD_OVERHEAD;
            }
            let budget = self.max.saturating_sub(size + overhead);
            let left = pipeline::batch::metric_points(&metric);
            let (part, taken, part_size) = piece(&mut metric, budget, out.is_empty());
            if taken == 0 && left > 0 {
                self.current = Some(metric);
                break;
            }
            if new_rm {
                out.push(DraftResource {
                    resource: r.resource.clone(),
                    scopes: Vec::new(),
                    schema_url: r.schema_url.clone(),
                });
            }
            let rm_out = out.last_mut()?;
            if new_sm {
                rm_out.scopes.push(DraftScope {
                    scope: s.scope.clone(),
                    metrics: Vec::new(),
                    schema_url: s.schema_url.clone(),
                });
            }
            let metrics = &mut rm_out.scopes.last_mut()?.metrics;
            let part = match metrics.last_mut() {
                Some(prev) if continued => prev.extend(part),
                _ => Some(part),
            };
            metrics.extend(part.map(DraftMetric::new));
            last = Some((self.rm, self.sm));
            last_family = Some((self.rm, self.sm, self.m));
            size += overhead + part_size;
            if taken < left {
                self.current = Some(metric);
            } else if !self.more {
                (self.m, self.from) = (self.m + 1, 0);
            }
        }
        (!draft.is_empty()).then(|| draft.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
    use pipeline::{HistogramValue, MetricDesc, SnapshotBuilder, kv, resource, scope};
    use std::time::{SystemTime, UNIX_EPOCH};

    /// The requests, decoded; each must be the bytes prost gives for what it decodes to.
    fn requests(
        rms: &[ResourcePoints],
        limit: usize,
        window: usize,
    ) -> Vec<ExportMetricsServiceRequest> {
        Splitter::with_window(rms, limit, window)
            .map(|bytes| {
                let req = ExportMetricsServiceRequest::decode(&bytes[..])
                    .unwrap_or_else(|e| panic!("a request does not decode: {e}"));
                assert!(
                    req.encode_to_vec() == bytes,
                    "not prost's encoding of the request"
                );
                req
            })
            .collect()
    }

    /// Gauges, counters and histograms (kept as OTLP) over two resources of two scopes
    /// each, with schema URLs and without.
    fn mixed_batch(points: usize) -> Vec<ResourcePoints> {
        let mut out = Vec::new();
        for r in 0..2 {
            for sc in 0..2 {
                let mut b = SnapshotBuilder::new(
                    resource([kv("service.name", "x"), kv("cluster", format!("c{r}"))]),
                    scope(format!("s{sc}"), "1"),
                    SystemTime::now(),
                );
                for i in 0..points {
                    let attrs = [kv("bucket", format!("bucket-{i:06}"))];
                    let g = MetricDesc::new("g", "By", "A gauge");
                    b.gauge(&g, i as f64 / 3.0, attrs.clone());
                    let c = MetricDesc::new("c", "1", "");
                    b.counter(&c, i as i64, UNIX_EPOCH, attrs.clone());
                    if i % 10 == 0 {
                        let h = HistogramValue {
                            bounds: &[0.1, 1.0],
                            counts: &[1, 2, i as u64],
                            sum: 9.5,
                            min: Some(0.05),
                            max: Some(4.0),
                        };
                        let d = MetricDesc::new("h", "s", "A histogram");
                        b.histogram(&d, &h, UNIX_EPOCH, attrs);
                    }
                }
                let mut rp = b.build();
                if r == 1 {
                    rp.schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
                    for s in &mut rp.scopes {
                        s.schema_url = "https://opentelemetry.io/schemas/1.26.0".into();
                    }
                }
                out.push(rp);
            }
        }
        out
    }

    fn big_batch(points: usize) -> Vec<ResourcePoints> {
        let mut b = SnapshotBuilder::new(
            resource([kv("service.name", "x")]),
            scope("s", "1"),
            SystemTime::now(),
        );
        for i in 0..points {
            b.gauge(
                &MetricDesc::new("emcecs.bucket.storage", "By", "Stored"),
                i as i64,
                [
                    kv("bucket", format!("bucket-{i:06}")),
                    kv("namespace", "ns"),
                ],
            );
            b.gauge(
                &MetricDesc::new("emcecs.bucket.objects", "{object}", "Objects"),
                i as i64,
                [kv("bucket", format!("bucket-{i:06}"))],
            );
        }
        vec![b.build()]
    }

    fn count_points(reqs: &[ExportMetricsServiceRequest]) -> usize {
        reqs.iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(pipeline::batch::metric_points)
            .sum()
    }

    /// Each gauge point, encoded, with its metric's name.
    fn gauge_points<'a>(metrics: impl Iterator<Item = &'a Metric>) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for m in metrics {
            if let Some(Data::Gauge(g)) = &m.data {
                out.extend(
                    g.data_points
                        .iter()
                        .map(|p| (m.name.clone(), p.encode_to_vec())),
                );
            }
        }
        out
    }

    #[test]
    fn a_small_batch_is_one_request() {
        let rms = big_batch(10);
        let reqs = requests(&rms, 4 << 20, WINDOW);
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].resource_metrics, [rms[0].to_otlp()]);
    }

    #[test]
    fn a_large_batch_is_cut_under_the_limit_without_losing_points() {
        let rms = big_batch(20_000);
        let whole = ExportMetricsServiceRequest {
            resource_metrics: vec![rms[0].to_otlp()],
        }
        .encoded_len();
        let limit = 256 * 1024;
        let reqs = requests(&rms, limit, WINDOW);
        assert!(
            reqs.len() >= whole / limit,
            "{} requests for {whole} bytes",
            reqs.len()
        );
        for r in &reqs {
            assert!(
                r.encoded_len() <= limit,
                "request of {} bytes",
                r.encoded_len()
            );
            assert_eq!(r.resource_metrics[0].resource, rms[0].resource);
        }
        assert_eq!(count_points(&reqs), 40_000);
        // The same points in the same order, each under its own metric.
        let cut = gauge_points(
            reqs.iter()
                .flat_map(|r| &r.resource_metrics)
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics),
        );
        let whole = gauge_points(rms[0].to_otlp().scope_metrics[0].metrics.iter());
        assert!(cut == whole, "points reordered or changed by the cut");
    }

    /// A family turned into OTLP a window at a time gives the very requests of the family
    /// turned into OTLP whole: windows that share a request are one metric there. Every
    /// request is prost's encoding of what it decodes to (`requests`), and all of them
    /// together hold the batch's points.
    #[test]
    fn windows_give_the_requests_of_whole_families() {
        let mut rms = big_batch(3_000);
        rms.extend(big_batch(700));
        rms.extend(mixed_batch(500));
        let points: usize = rms
            .iter()
            .flat_map(|r| r.to_otlp().scope_metrics)
            .flat_map(|s| s.metrics)
            .map(|m| pipeline::batch::metric_points(&m))
            .sum();
        for limit in [10, 4_000, 64 * 1024, 4 << 20] {
            let whole = requests(&rms, limit, usize::MAX);
            assert_eq!(count_points(&whole), points, "limit {limit}");
            for window in [1, 7, 1_000, 2_999, 3_000] {
                let cut = requests(&rms, limit, window);
                assert_eq!(cut.len(), whole.len(), "limit {limit}, window {window}");
                assert!(
                    cut == whole,
                    "limit {limit}, window {window}: requests differ"
                );
            }
        }
        // One request: the batch itself, as OTLP.
        let one = requests(&rms, 64 << 20, WINDOW);
        assert_eq!(one.len(), 1);
        let whole: Vec<_> = rms.iter().map(ResourcePoints::to_otlp).collect();
        assert!(
            one[0].resource_metrics == whole,
            "one request differs from the batch"
        );
    }

    #[test]
    fn a_point_larger_than_the_limit_still_goes_alone() {
        let rms = big_batch(3);
        let reqs = requests(&rms, 10, WINDOW);
        assert_eq!(count_points(&reqs), 6);
        assert_eq!(reqs.len(), 6);
    }
}
