//! Turns one source's snapshot into exposition lines, grouped by family. This runs
//! once per arriving snapshot; a scrape only concatenates what was rendered here.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write;

use base64::Engine;
use pipeline::otlp::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use pipeline::otlp::metrics::v1::{
    AggregationTemporality, DataPointFlags, Exemplar, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint, exemplar, metric::Data, number_data_point,
};
use pipeline::otlp::resource::v1::Resource;
use pipeline::{Batch, NumPoint, Number, ScopePoints};

use crate::naming::{FamilyKind, FamilyName, family_name, sanitize_label_name};
use crate::packed::{LineBuf, Lines};

#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Unit and `_total` suffixes (the specification's default).
    pub add_suffixes: bool,
    /// `otel_scope_name`, `otel_scope_version` and scope attributes as labels.
    pub scope_labels: bool,
    /// Every resource attribute as a label on every series, not only on `target_info`.
    pub resource_to_labels: bool,
    /// Sample timestamps from the data points' own time.
    pub send_timestamps: bool,
    /// Series a single family of a single source may hold; the rest are counted, not kept.
    pub max_series_per_metric: usize,
    /// Keep the lines lz4-compressed ([`crate::packed`]).
    pub pack: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            add_suffixes: true,
            scope_labels: true,
            resource_to_labels: false,
            send_timestamps: false,
            max_series_per_metric: 50_000,
            pack: true,
        }
    }
}

/// Where one series ends in a family's buffers, and its identity for de-duplication.
#[derive(Debug, Clone, Copy)]
pub struct SeriesSpan {
    pub hash: u64,
    pub text_end: u32,
    pub om_end: u32,
}

/// The sample lines of one family from one source, frozen once rendered: scrapes share
/// them without copying.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: FamilyName,
    pub kind: FamilyKind,
    pub help: String,
    pub text: Lines,
    /// OpenMetrics lines when they differ from the text ones (timestamps in seconds);
    /// `None` means the text lines serve both formats.
    pub om: Option<Lines>,
    pub spans: Vec<SeriesSpan>,
}

impl Family {
    pub fn om_lines(&self) -> &Lines {
        self.om.as_ref().unwrap_or(&self.text)
    }
}

/// A family while its lines are being written.
struct FamilyBuf {
    name: FamilyName,
    kind: FamilyKind,
    help: String,
    text: LineBuf,
    om: Option<LineBuf>,
    spans: Vec<SeriesSpan>,
}

/// One sample line: its name (the family's own when `None`), the labels after the
/// series' own (`le`, `quantile`), its value and time.
struct Sample<'a> {
    name: Option<&'a str>,
    extra: Option<(&'a str, &'a str)>,
    value: &'a str,
    ts: Option<u64>,
}

impl FamilyBuf {
    /// Writes `s` with `labels` into the text lines and, when they differ, the OpenMetrics
    /// ones.
    fn sample(&mut self, labels: &str, s: Sample<'_>) {
        let name = s.name.unwrap_or(&self.name.text);
        write_sample(
            &mut self.text.tail,
            name,
            labels,
            s.extra,
            s.value,
            s.ts,
            false,
        );
        if let Some(om) = &mut self.om {
            write_sample(&mut om.tail, name, labels, s.extra, s.value, s.ts, true);
        }
    }

    /// Writes a histogram's or a summary's rows (`key` is `le` or `quantile`, absent on
    /// `_sum` and `_count`), each row's exemplar after its OpenMetrics line.
    fn rows(
        &mut self,
        labels: &str,
        key: &str,
        rows: &[(Option<String>, String, String)],
        ts: Option<u64>,
        exemplars: &[Option<&Exemplar>],
    ) {
        for (i, (k, name, value)) in rows.iter().enumerate() {
            let line = Sample {
                name: Some(name),
                extra: k.as_deref().map(|k| (key, k)),
                value,
                ts,
            };
            self.sample(labels, line);
            if let (Some(om), Some(Some(e))) = (&mut self.om, exemplars.get(i)) {
                write_exemplar(&mut om.tail, e);
            }
        }
    }

    fn freeze(self) -> Family {
        let mut spans = self.spans;
        spans.shrink_to_fit();
        Family {
            name: self.name,
            kind: self.kind,
            help: self.help,
            text: self.text.finish(),
            om: self.om.map(LineBuf::finish),
            spans,
        }
    }
}

/// Everything one source contributes to /metrics.
#[derive(Debug, Default)]
pub struct SourceRender {
    /// Sorted by text name.
    pub families: Vec<Family>,
    pub series: usize,
    /// Series refused by the cardinality limit, by family.
    pub overflow: BTreeMap<String, u64>,
    /// Metrics or points that could not be translated, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
}

struct Renderer<'a> {
    opts: &'a RenderOptions,
    hasher: &'a RandomState,
    families: Vec<FamilyBuf>,
    index: HashMap<String, usize>,
    seen: Vec<HashSet<u64>>,
    out: SourceRender,
    labels: String,
}

/// Labels shared by every point of one resource and scope, already rendered.
struct Base {
    /// `name="value"` pairs, comma-separated, without braces.
    rendered: String,
    names: Vec<String>,
}

pub fn render(batch: &Batch, opts: &RenderOptions, hasher: &RandomState) -> SourceRender {
    let mut r = Renderer {
        opts,
        hasher,
        families: Vec::new(),
        index: HashMap::new(),
        seen: Vec::new(),
        out: SourceRender::default(),
        labels: String::with_capacity(256),
    };
    for rm in &batch.resource_metrics {
        let default_resource = Resource::default();
        let res = rm.resource.as_ref().unwrap_or(&default_resource);
        let (resource_labels, info_labels) = resource_labels(res, opts.resource_to_labels);
        if !info_labels.is_empty() {
            r.target_info(&resource_labels, info_labels);
        }
        for sm in &rm.scopes {
            let base = base_labels(&resource_labels, sm.scope.as_ref(), opts.scope_labels);
            // Gauges and sums are read compact, each attribute set's labels rendered once
            // (the families of one bucket share a set); the rest as OTLP.
            let mut labels: Vec<Option<Box<str>>> = vec![None; sm.sets()];
            for i in 0..sm.len() {
                match sm.numbers(i) {
                    Some((header, points)) => {
                        if let Some(fi) = r.family_for(&header) {
                            r.compact_numbers(fi, sm, points, &base, &mut labels);
                        }
                    }
                    None => r.metric(&sm.metric(i), &base),
                }
            }
        }
    }
    let mut families = r.families;
    families.sort_by(|a, b| a.name.text.cmp(&b.name.text));
    r.out.series = families.iter().map(|f| f.spans.len()).sum();
    r.out.families = families.into_iter().map(FamilyBuf::freeze).collect();
    r.out
}

/// `job`/`instance` (and every other attribute when `all` is set) for the series, and the
/// remaining attributes for `target_info`.
type Labels = Vec<(String, String)>;

fn resource_labels(res: &Resource, all: bool) -> (Labels, Labels) {
    let get = |k: &str| {
        res.attributes
            .iter()
            .find(|kv| kv.key == k)
            .map(|kv| value_string(kv.value.as_ref()))
            .filter(|v| !v.is_empty())
    };
    let mut series = Vec::new();
    if let Some(name) = get("service.name") {
        let job = match get("service.namespace") {
            Some(ns) => format!("{ns}/{name}"),
            None => name,
        };
        series.push(("job".to_owned(), job));
    }
    if let Some(instance) = get("service.instance.id") {
        series.push(("instance".to_owned(), instance));
    }
    let others: Vec<&KeyValue> = res
        .attributes
        .iter()
        .filter(|kv| {
            !matches!(
                kv.key.as_str(),
                "service.name" | "service.namespace" | "service.instance.id"
            )
        })
        .collect();
    let info = merge_collisions(others.iter().map(|kv| (kv.key.as_str(), kv.value.as_ref())));
    if all {
        for (k, v) in &info {
            if k != "job" && k != "instance" {
                series.push((k.clone(), v.clone()));
            }
        }
    }
    (series, info)
}

fn base_labels(
    resource: &[(String, String)],
    scope: Option<&InstrumentationScope>,
    scope_labels: bool,
) -> Base {
    let mut pairs: Vec<(String, String)> = resource.to_vec();
    if scope_labels && let Some(scope) = scope {
        if !scope.name.is_empty() {
            pairs.push(("otel_scope_name".into(), scope.name.clone()));
        }
        if !scope.version.is_empty() {
            pairs.push(("otel_scope_version".into(), scope.version.clone()));
        }
        for (k, v) in merge_collisions(
            scope
                .attributes
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_ref())),
        ) {
            pairs.push((format!("otel_scope_{k}"), v));
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rendered = String::new();
    for (k, v) in &pairs {
        push_label(&mut rendered, k, v);
    }
    Base {
        rendered,
        names: pairs.into_iter().map(|(k, _)| k).collect(),
    }
}

/// Sanitizes attribute keys; keys that become equal have their values joined with `;` in
/// the lexicographic order of the original keys, as the specification requires.
fn merge_collisions<'a>(
    attrs: impl Iterator<Item = (&'a str, Option<&'a AnyValue>)>,
) -> Vec<(String, String)> {
    let mut v: Vec<(String, &str, String)> = attrs
        .map(|(k, val)| (sanitize_label_name(k).into_owned(), k, value_string(val)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
    let mut out: Vec<(String, String)> = Vec::with_capacity(v.len());
    for (name, _, value) in v {
        match out.last_mut() {
            Some((last, joined)) if *last == name => {
                joined.push(';');
                joined.push_str(&value);
            }
            _ => out.push((name, value)),
        }
    }
    out
}

/// An attribute value as a label value, per the OpenTelemetry attribute specification.
pub fn value_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => format_f64(*d),
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(other) => json_value(Some(other)).to_string(),
    }
}

fn json_value(v: Option<&any_value::Value>) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        None | Some(any_value::Value::StringValueStrindex(_)) => J::Null,
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(J::Number)
            .unwrap_or_else(|| J::String(format_f64(*d))),
        Some(any_value::Value::BytesValue(b)) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(any_value::Value::ArrayValue(a)) => J::Array(
            a.values
                .iter()
                .map(|x| json_value(x.value.as_ref()))
                .collect(),
        ),
        Some(any_value::Value::KvlistValue(kvs)) => J::Object(
            kvs.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        json_value(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect(),
        ),
    }
}

/// A sample value: shortest round-trip decimal, `+Inf`, `-Inf`, `NaN`.
pub fn format_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn push_label(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(name);
    out.push_str("=\"");
    escape_label_value(out, value);
    out.push('"');
}

/// Labels that the exporter sets itself; a point attribute with one of these names is
/// exposed as `exported_<name>` instead of overwriting it.
fn reserved(name: &str, base: &Base) -> bool {
    matches!(name, "le" | "quantile" | "job" | "instance")
        || name.starts_with("otel_scope_")
        || base.names.iter().any(|b| b == name)
}

impl Renderer<'_> {
    fn target_info(&mut self, resource_labels: &[(String, String)], info: Vec<(String, String)>) {
        let mut labels = String::new();
        let mut pairs: Vec<(String, String)> = resource_labels
            .iter()
            .filter(|(k, _)| k == "job" || k == "instance")
            .cloned()
            .collect();
        pairs.extend(
            info.into_iter()
                .filter(|(k, _)| k != "job" && k != "instance"),
        );
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in &pairs {
            push_label(&mut labels, k, v);
        }
        let name = FamilyName {
            text: "target_info".into(),
            openmetrics: "target".into(),
            unit: String::new(),
        };
        let Some(fi) = self.family(name, FamilyKind::Info, "Target metadata") else {
            return;
        };
        let hash = self.hash("target_info", &labels);
        if !self.seen[fi].insert(hash) {
            return;
        }
        let f = &mut self.families[fi];
        let one = Sample {
            name: Some("target_info"),
            extra: None,
            value: "1",
            ts: None,
        };
        f.sample(&labels, one);
        close_span(f, hash);
    }

    fn family(&mut self, name: FamilyName, kind: FamilyKind, help: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(&name.text) {
            if self.families[i].kind != kind {
                return None;
            }
            if self.families[i].help.is_empty() {
                self.families[i].help = help.to_owned();
            }
            return Some(i);
        }
        let i = self.families.len();
        self.index.insert(name.text.clone(), i);
        self.families.push(FamilyBuf {
            name,
            kind,
            help: help.to_owned(),
            text: LineBuf::new(self.opts.pack),
            om: self
                .opts
                .send_timestamps
                .then(|| LineBuf::new(self.opts.pack)),
            spans: Vec::new(),
        });
        self.seen.push(HashSet::new());
        Some(i)
    }

    fn drop_metric(&mut self, reason: &'static str, metric: &Metric) {
        *self.out.dropped.entry(reason).or_insert(0) += 1;
        tracing::debug!(metric = %metric.name, reason, "metric not exposed to Prometheus");
    }

    fn metric(&mut self, metric: &Metric, base: &Base) {
        let Some(fi) = self.family_for(metric) else {
            return;
        };
        match &metric.data {
            Some(Data::Gauge(g)) => self.numbers(fi, &g.data_points, base),
            Some(Data::Sum(s)) => self.numbers(fi, &s.data_points, base),
            Some(Data::Histogram(h)) => {
                for p in &h.data_points {
                    self.histogram(fi, p, base);
                }
            }
            Some(Data::Summary(s)) => {
                for p in &s.data_points {
                    self.summary(fi, p, base);
                }
            }
            _ => {}
        }
    }

    /// The family `metric`'s points go to; `None` (counted) when they cannot be exposed.
    fn family_for(&mut self, metric: &Metric) -> Option<usize> {
        let cumulative = AggregationTemporality::Cumulative as i32;
        let kind = match &metric.data {
            None => return None,
            Some(Data::Gauge(_)) => FamilyKind::Gauge,
            Some(Data::Sum(s)) if s.aggregation_temporality != cumulative => {
                self.drop_metric("delta_temporality", metric);
                return None;
            }
            Some(Data::Sum(s)) if s.is_monotonic => FamilyKind::Counter,
            Some(Data::Sum(_)) => FamilyKind::Gauge,
            Some(Data::Histogram(h)) if h.aggregation_temporality != cumulative => {
                self.drop_metric("delta_temporality", metric);
                return None;
            }
            Some(Data::Histogram(_)) => FamilyKind::Histogram,
            Some(Data::ExponentialHistogram(_)) => {
                self.drop_metric("exponential_histogram", metric);
                return None;
            }
            Some(Data::Summary(_)) => FamilyKind::Summary,
        };
        let name = family_name(&metric.name, &metric.unit, kind, self.opts.add_suffixes);
        let Some(fi) = self.family(name, kind, &metric.description) else {
            tracing::warn!(metric = %metric.name, "another metric of this source has the same Prometheus name and a different type; dropped");
            self.drop_metric("type_conflict", metric);
            return None;
        };
        Some(fi)
    }

    /// Renders the point's labels into `self.labels`; `None` if the point has no value, or
    /// the series is a duplicate or over the limit.
    fn admit(&mut self, fi: usize, attrs: &[KeyValue], flags: u32, base: &Base) -> Option<u64> {
        if flags & DataPointFlags::NoRecordedValueMask as u32 != 0 {
            return None;
        }
        self.point_labels(attrs, base);
        self.admit_labels(fi)
    }

    /// `attrs` and the base labels, as a series' labels, into `self.labels`.
    fn point_labels(&mut self, attrs: &[KeyValue], base: &Base) {
        let mut pairs =
            merge_collisions(attrs.iter().map(|kv| (kv.key.as_str(), kv.value.as_ref())));
        for (name, _) in pairs.iter_mut() {
            if reserved(name, base) {
                name.insert_str(0, "exported_");
            }
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        self.labels.clear();
        for (k, v) in &pairs {
            push_label(&mut self.labels, k, v);
        }
        if !base.rendered.is_empty() {
            if !self.labels.is_empty() {
                self.labels.push(',');
            }
            self.labels.push_str(&base.rendered);
        }
    }

    /// The series of `self.labels` in family `fi`: its hash, or `None` (counted) if it is a
    /// duplicate or over the limit.
    fn admit_labels(&mut self, fi: usize) -> Option<u64> {
        let family = &self.families[fi];
        if family.spans.len() >= self.opts.max_series_per_metric {
            *self
                .out
                .overflow
                .entry(family.name.text.clone())
                .or_insert(0) += 1;
            return None;
        }
        let hash = self.hash(&family.name.text, &self.labels);
        if !self.seen[fi].insert(hash) {
            *self.out.dropped.entry("duplicate_series").or_insert(0) += 1;
            return None;
        }
        Some(hash)
    }

    fn hash(&self, name: &str, labels: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        name.hash(&mut h);
        labels.hash(&mut h);
        h.finish()
    }

    /// A receiver that reports a series' recent history (points with their own times)
    /// sends them newest first: the newest is the series' value, the older ones are not
    /// duplicates to count.
    fn numbers(&mut self, fi: usize, points: &[NumberDataPoint], base: &Base) {
        let mut newest: Option<&NumberDataPoint> = None;
        for p in points {
            if newest.is_some_and(|n| {
                n.time_unix_nano > p.time_unix_nano && n.attributes == p.attributes
            }) {
                continue;
            }
            self.number(fi, p, base);
            newest = Some(p);
        }
    }

    fn number(&mut self, fi: usize, p: &NumberDataPoint, base: &Base) {
        let Some(hash) = self.admit(fi, &p.attributes, p.flags, base) else {
            return;
        };
        let value = match p.value {
            Some(number_data_point::Value::AsInt(i)) => i.to_string(),
            Some(number_data_point::Value::AsDouble(d)) => format_f64(d),
            None => return,
        };
        self.write_number(fi, hash, &value, p.time_unix_nano);
    }

    /// As [`Renderer::numbers`], for points kept compact: `labels` holds each attribute
    /// set's rendered labels once rendered.
    fn compact_numbers(
        &mut self,
        fi: usize,
        scope: &ScopePoints,
        points: &[NumPoint],
        base: &Base,
        labels: &mut [Option<Box<str>>],
    ) {
        let mut newest: Option<&NumPoint> = None;
        for p in points {
            // Compared as OTLP attributes, as `numbers` does (only in a series' history).
            if newest.is_some_and(|n| {
                n.time > p.time && scope.attributes(n.set) == scope.attributes(p.set)
            }) {
                continue;
            }
            self.compact_number(fi, scope, p, base, labels);
            newest = Some(p);
        }
    }

    fn compact_number(
        &mut self,
        fi: usize,
        scope: &ScopePoints,
        p: &NumPoint,
        base: &Base,
        labels: &mut [Option<Box<str>>],
    ) {
        if p.flags & DataPointFlags::NoRecordedValueMask as u32 != 0 {
            return;
        }
        match labels.get_mut(p.set as usize) {
            Some(Some(rendered)) => {
                self.labels.clear();
                self.labels.push_str(rendered);
            }
            slot => {
                self.point_labels(&scope.attributes(p.set), base);
                if let Some(slot) = slot {
                    *slot = Some(self.labels.as_str().into());
                }
            }
        }
        let Some(hash) = self.admit_labels(fi) else {
            return;
        };
        let value = match p.value {
            Some(Number::Int(i)) => i.to_string(),
            Some(Number::Double(d)) => format_f64(d),
            None => return,
        };
        self.write_number(fi, hash, &value, p.time);
    }

    /// One sample line of a gauge or counter, with `self.labels`.
    fn write_number(&mut self, fi: usize, hash: u64, value: &str, time: u64) {
        let ts = self.opts.send_timestamps.then_some(time);
        let f = &mut self.families[fi];
        let line = Sample {
            name: None,
            extra: None,
            value,
            ts,
        };
        f.sample(&self.labels, line);
        close_span(f, hash);
    }

    fn histogram(&mut self, fi: usize, p: &HistogramDataPoint, base: &Base) {
        let Some(hash) = self.admit(fi, &p.attributes, p.flags, base) else {
            return;
        };
        let ts = self.opts.send_timestamps.then_some(p.time_unix_nano);
        let f = &mut self.families[fi];
        let exemplars = bucket_exemplars(p);
        // Exemplars exist in OpenMetrics only: from here on its lines differ from the text
        // ones, which so far served both.
        if f.om.is_none() && exemplars.iter().any(Option::is_some) {
            f.om = Some(f.text.clone());
        }
        let bucket = format!("{}_bucket", f.name.text);
        let mut rows: Vec<(Option<String>, String, String)> =
            Vec::with_capacity(p.explicit_bounds.len() + 3);
        let mut cumulative = 0u64;
        for (i, bound) in p.explicit_bounds.iter().enumerate() {
            cumulative += p.bucket_counts.get(i).copied().unwrap_or(0);
            rows.push((
                Some(format_f64(*bound)),
                bucket.clone(),
                cumulative.to_string(),
            ));
        }
        rows.push((Some("+Inf".into()), bucket, p.count.to_string()));
        // The specification exposes _sum only when it cannot decrease (no negative values).
        if let Some(sum) = p.sum
            && p.min.is_none_or(|m| m >= 0.0)
        {
            rows.push((None, format!("{}_sum", f.name.text), format_f64(sum)));
        }
        rows.push((None, format!("{}_count", f.name.text), p.count.to_string()));
        f.rows(&self.labels, "le", &rows, ts, &exemplars);
        close_span(f, hash);
    }

    fn summary(&mut self, fi: usize, p: &SummaryDataPoint, base: &Base) {
        let Some(hash) = self.admit(fi, &p.attributes, p.flags, base) else {
            return;
        };
        let ts = self.opts.send_timestamps.then_some(p.time_unix_nano);
        let f = &mut self.families[fi];
        let mut rows: Vec<(Option<String>, String, String)> = Vec::new();
        for q in &p.quantile_values {
            rows.push((
                Some(format_f64(q.quantile)),
                f.name.text.clone(),
                format_f64(q.value),
            ));
        }
        if p.sum >= 0.0 {
            rows.push((None, format!("{}_sum", f.name.text), format_f64(p.sum)));
        }
        rows.push((None, format!("{}_count", f.name.text), p.count.to_string()));
        f.rows(&self.labels, "quantile", &rows, ts, &[]);
        close_span(f, hash);
    }
}

fn exemplar_value(e: &Exemplar) -> Option<f64> {
    match e.value? {
        exemplar::Value::AsDouble(d) => Some(d),
        exemplar::Value::AsInt(i) => Some(i as f64),
    }
}

/// Per bucket (the `+Inf` one last), the newest exemplar whose value falls in it and that
/// names a trace.
fn bucket_exemplars(p: &HistogramDataPoint) -> Vec<Option<&Exemplar>> {
    let mut out: Vec<Option<&Exemplar>> = vec![None; p.explicit_bounds.len() + 1];
    if p.exemplars.is_empty() {
        return out;
    }
    for e in &p.exemplars {
        let Some(v) = exemplar_value(e) else {
            continue;
        };
        if e.trace_id.len() != 16 || e.span_id.len() != 8 || !v.is_finite() {
            continue;
        }
        let i = p
            .explicit_bounds
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(p.explicit_bounds.len());
        if out[i].is_none_or(|o| o.time_unix_nano <= e.time_unix_nano) {
            out[i] = Some(e);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends ` # {trace_id="…",span_id="…"} value timestamp` to the line just written.
fn write_exemplar(out: &mut Vec<u8>, e: &Exemplar) {
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    let _ = write!(
        out,
        " # {{trace_id=\"{}\",span_id=\"{}\"}} {}",
        hex(&e.trace_id),
        hex(&e.span_id),
        format_f64(exemplar_value(e).unwrap_or(0.0))
    );
    if e.time_unix_nano > 0 {
        let ns = e.time_unix_nano;
        let _ = write!(
            out,
            " {}.{:03}",
            ns / 1_000_000_000,
            (ns / 1_000_000) % 1000
        );
    }
    out.push(b'\n');
}

fn close_span(f: &mut FamilyBuf, hash: u64) {
    f.text.series_done();
    if let Some(om) = &mut f.om {
        om.series_done();
    }
    let text_end = u32::try_from(f.text.len()).unwrap_or(u32::MAX);
    let om_end =
        f.om.as_ref()
            .map_or(text_end, |om| u32::try_from(om.len()).unwrap_or(u32::MAX));
    f.spans.push(SeriesSpan {
        hash,
        text_end,
        om_end,
    });
}

/// `name{labels[,extra]} value[ timestamp]\n`. Text timestamps are milliseconds,
/// OpenMetrics ones seconds.
fn write_sample(
    out: &mut Vec<u8>,
    name: &str,
    labels: &str,
    extra: Option<(&str, &str)>,
    value: &str,
    ts_nanos: Option<u64>,
    openmetrics: bool,
) {
    out.extend_from_slice(name.as_bytes());
    if !labels.is_empty() || extra.is_some() {
        out.push(b'{');
        out.extend_from_slice(labels.as_bytes());
        if let Some((k, v)) = extra {
            if !labels.is_empty() {
                out.push(b',');
            }
            // Values of `le` and `quantile` are numbers: nothing to escape.
            let _ = write!(out, "{k}=\"{v}\"");
        }
        out.push(b'}');
    }
    out.push(b' ');
    out.extend_from_slice(value.as_bytes());
    if let Some(ns) = ts_nanos.filter(|&ns| ns > 0) {
        if openmetrics {
            let _ = write!(
                out,
                " {}.{:03}",
                ns / 1_000_000_000,
                (ns / 1_000_000) % 1000
            );
        } else {
            let _ = write!(out, " {}", ns / 1_000_000);
        }
    }
    out.push(b'\n');
}
