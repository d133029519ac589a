//! /object/billing: namespace and bucket info (totals at `uptodate_till`) and samples
//! (sums over 5-minute-aligned windows, start inclusive, end exclusive), single (GET) and
//! bulk (POST with an id list), with ECS's units, paging and body rules.

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::format::Doc;
use crate::model::billing::{Totals, Window, aligned, sample_index, uptodate_till};
use crate::model::{Bucket, Cluster, Namespace};
use crate::server::{Reply, Req, Sim};
use crate::timefmt::{iso, parse_minute};

/// A size unit of `sizeunit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Byte,
    Kb,
    Mb,
    Gb,
}

impl Unit {
    fn parse(s: Option<&str>) -> Result<Unit, Reply> {
        match s.map(str::to_ascii_uppercase).as_deref() {
            None | Some("") | Some("GB") | Some("GIB") => Ok(Unit::Gb),
            Some("BYTE") | Some("BYTES") => Ok(Unit::Byte),
            // "For legacy compatibility, KB, MB, and GB are considered equivalent to KiB,
            // MiB, and GiB": 1024-based.
            Some("KB") | Some("KIB") => Ok(Unit::Kb),
            Some("MB") | Some("MIB") => Ok(Unit::Mb),
            Some(other) => Err(Reply::bad_request(
                1008,
                &format!("Invalid sizeunit {other}; use KB, MB, GB, KiB, MiB, GiB or BYTE"),
            )),
        }
    }

    fn name(self, asked: Option<&str>) -> String {
        match (self, asked) {
            (Unit::Byte, _) => "BYTE".into(),
            (_, Some(a)) if !a.is_empty() => a.to_owned(),
            (Unit::Kb, _) => "KB".into(),
            (Unit::Mb, _) => "MB".into(),
            (Unit::Gb, _) => "GB".into(),
        }
    }

    /// A size as ECS writes it: a string, with at least one decimal for non-byte units.
    fn format(self, bytes: u64) -> String {
        let div = match self {
            Unit::Byte => return bytes.to_string(),
            Unit::Kb => 1024f64,
            Unit::Mb => 1024f64 * 1024.0,
            Unit::Gb => 1024f64 * 1024.0 * 1024.0,
        };
        let v = bytes as f64 / div;
        let s = format!("{v}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    }
}

struct Ctx {
    unit: Unit,
    unit_name: String,
    uptodate: i64,
    /// Samples completed at `uptodate`.
    n: u64,
}

fn ctx(sim: &Sim, req: &Req) -> Result<Ctx, Reply> {
    let unit = Unit::parse(req.q("sizeunit"))?;
    let lag = sim.model().cfg.billing_lag_secs;
    let uptodate = uptodate_till(sim.clock.now(), lag);
    Ok(Ctx {
        unit,
        unit_name: unit.name(req.q("sizeunit")),
        uptodate,
        n: sample_index(uptodate),
    })
}

#[derive(Serialize)]
struct Tag<'a> {
    #[serde(rename = "Key")]
    key: &'a str,
    #[serde(rename = "Value")]
    value: &'a str,
}

fn tags(b: &Bucket) -> Vec<Tag<'_>> {
    b.tags
        .iter()
        .map(|(k, v)| Tag { key: k, value: v })
        .collect()
}

#[derive(Serialize)]
struct BucketInfo<'a> {
    namespace: &'a str,
    name: &'a str,
    sample_time: &'a str,
    vpool_id: &'a str,
    total_size: String,
    total_size_unit: &'a str,
    total_objects: u64,
    total_mpu_size: String,
    total_mpu_parts: String,
    uptodate_till: &'a str,
    #[serde(rename = "TagSet")]
    tag_set: Vec<Tag<'a>>,
}

/// Text shared by every item of one answer.
struct Stamps {
    sample_time: String,
    uptodate_till: String,
}

fn stamps(c: &Ctx) -> Stamps {
    Stamps {
        sample_time: iso(c.uptodate - 240),
        uptodate_till: iso(c.uptodate),
    }
}

fn vpool<'a>(m: &'a Cluster, b: &Bucket) -> &'a str {
    m.rgs.get(b.rg).map_or("", |r| r.id.as_str())
}

fn bucket_info<'a>(m: &'a Cluster, b: &'a Bucket, c: &'a Ctx, st: &'a Stamps) -> BucketInfo<'a> {
    let t = b.billing.totals(c.n);
    BucketInfo {
        namespace: &b.namespace,
        name: &b.name,
        sample_time: &st.sample_time,
        vpool_id: vpool(m, b),
        total_size: c.unit.format(t.size),
        total_size_unit: &c.unit_name,
        total_objects: t.objects,
        total_mpu_size: c.unit.format(t.mpu_size),
        total_mpu_parts: t.mpu_parts.to_string(),
        uptodate_till: &st.uptodate_till,
        tag_set: tags(b),
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum NamespaceInfo<'a> {
    Valid {
        namespace: &'a str,
        valid_namespace: &'static str,
        total_size: String,
        total_size_unit: &'a str,
        total_objects: u64,
        sample_time: &'a str,
        uptodate_till: &'a str,
        total_mpu_size: String,
        total_mpu_parts: u64,
        next_marker: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        bucket_billing_info: Option<Vec<BucketInfo<'a>>>,
    },
    Invalid {
        namespace: &'a str,
        valid_namespace: &'static str,
    },
}

fn namespace_totals(ns: &Namespace, n: u64) -> Totals {
    let mut t = Totals::default();
    for b in ns.buckets.values() {
        t.add(&b.billing.totals(n));
    }
    t
}

/// Buckets after `marker`, one page, and the marker of the next ("" at the end).
fn bucket_page<'a>(
    sim: &Sim,
    ns: &'a Namespace,
    marker: Option<&str>,
) -> (Vec<&'a Bucket>, String) {
    let all: Vec<&Bucket> = ns.buckets.values().collect();
    let (items, next) = super::page(&all, |b| b.name.as_str(), marker, sim.billing_detail_page);
    (items.to_vec(), next.unwrap_or_default())
}

#[allow(clippy::too_many_arguments)]
fn namespace_info<'a>(
    sim: &Sim,
    m: &'a Cluster,
    ns: &'a Namespace,
    c: &'a Ctx,
    st: &'a Stamps,
    detail: bool,
    marker: Option<&str>,
) -> NamespaceInfo<'a> {
    let t = namespace_totals(ns, c.n);
    let (buckets, next_marker) = if detail {
        let (items, next) = bucket_page(sim, ns, marker);
        (
            Some(items.iter().map(|b| bucket_info(m, b, c, st)).collect()),
            next,
        )
    } else {
        (None, String::new())
    };
    NamespaceInfo::Valid {
        namespace: &ns.name,
        valid_namespace: "true",
        total_size: c.unit.format(t.size),
        total_size_unit: &c.unit_name,
        total_objects: t.objects,
        sample_time: &st.sample_time,
        uptodate_till: &st.uptodate_till,
        total_mpu_size: c.unit.format(t.mpu_size),
        total_mpu_parts: t.mpu_parts,
        next_marker,
        bucket_billing_info: buckets,
    }
}

fn detail(req: &Req) -> bool {
    req.q("include_bucket_detail")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The id list of a bulk POST, with ECS's rules for bodies.
fn ids(req: &Req) -> Result<Vec<String>, Reply> {
    let body = req.body.as_ref();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            1003,
            "Unsupported media type",
            "a request body listing the ids is required",
        ));
    }
    let xml = req
        .header("content-type")
        .is_some_and(|c| c.contains("xml"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    if xml {
        return xml_ids(body);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Reply::bad_request(1013, &format!("Bad request body: {e}")))?;
    match v {
        Value::Null => Err(Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            999,
            "An unexpected error occurred",
            "null request body",
        )),
        Value::Array(_) => Err(Reply::bad_request(1013, "Bad request body")),
        Value::Object(map) => {
            if let Some(k) = map.keys().find(|k| *k != "id") {
                return Err(Reply::bad_request(
                    1013,
                    &format!("Property {k} is not a valid property"),
                ));
            }
            match map.get("id") {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| Reply::bad_request(1013, "id must be a list of strings"))
                    })
                    .collect(),
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(_) => Err(Reply::bad_request(1013, "id must be a list of strings")),
            }
        }
        _ => Err(Reply::bad_request(1013, "Bad request body")),
    }
}

fn xml_ids(body: &[u8]) -> Result<Vec<String>, Reply> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut out = Vec::new();
    let mut in_id = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => in_id = e.name().0 == "id",
            Ok(Event::End(_)) => in_id = false,
            Ok(Event::Text(t)) if in_id => {
                let s = t.xml10_content().trim().to_owned();
                out.push(s);
            }
            Ok(Event::Eof) => return Ok(out),
            Err(e) => return Err(Reply::bad_request(1013, &format!("Bad request body: {e}"))),
            _ => {}
        }
        buf.clear();
    }
}

macro_rules! try_reply {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

pub fn bucket_info_one(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let st = stamps(&c);
    let (ns, name) = (&req.segments[3], &req.segments[4]);
    let m = sim.model();
    match m.bucket(ns, name) {
        Some(b) => Reply::ok(Doc::typed(
            "bucket_billing_info",
            &bucket_info(&m, b, &c, &st),
            req.format,
        )),
        None => Reply::not_found(&format!("{ns}/{name}")),
    }
}

pub fn buckets_info(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let st = stamps(&c);
    let names = try_reply!(ids(req));
    let ns = &req.segments[3];
    let m = sim.model();
    if !m.namespaces.contains_key(ns) {
        return Reply::not_found(ns);
    }
    let items: Vec<BucketInfo> = names
        .iter()
        .filter_map(|b| m.bucket(ns, b))
        .map(|b| bucket_info(&m, b, &c, &st))
        .collect();
    Reply::ok(Doc::typed_list(
        "bucket_billing_infos",
        "bucket_billing_info",
        &items,
        req.format,
    ))
}

pub fn namespace_info_one(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let st = stamps(&c);
    let name = &req.segments[3];
    let m = sim.model();
    match m.namespaces.get(name) {
        Some(ns) => {
            let v = namespace_info(sim, &m, ns, &c, &st, detail(req), req.q("marker"));
            Reply::ok(Doc::typed("namespace_billing_info", &v, req.format))
        }
        None => Reply::not_found(name),
    }
}

pub fn namespaces_info(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let st = stamps(&c);
    let names = try_reply!(ids(req));
    let m = sim.model();
    let items: Vec<NamespaceInfo> = names
        .iter()
        .map(|n| match m.namespaces.get(n) {
            Some(ns) => namespace_info(sim, &m, ns, &c, &st, detail(req), None),
            None => NamespaceInfo::Invalid {
                namespace: n,
                valid_namespace: "false",
            },
        })
        .collect();
    Reply::ok(Doc::typed_list(
        "namespace_billing_infos",
        "namespace_billing_info",
        &items,
        req.format,
    ))
}

/// The sample window of a request: `start_time`, `end_time` (YYYY-MM-DDTHH:MM, on
/// 5-minute boundaries, start < end); the end is clamped to `uptodate_till`.
struct Span {
    start: i64,
    end: i64,
}

fn span(req: &Req, c: &Ctx) -> Result<Span, Reply> {
    let get = |k: &str| {
        req.q(k)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Reply::bad_request(1005, &format!("Required parameter {k} is missing")))
            .and_then(|v| {
                parse_minute(v).ok_or_else(|| {
                    Reply::bad_request(
                        1008,
                        &format!("Invalid {k} {v:?}; expected YYYY-MM-DDTHH:MM"),
                    )
                })
            })
    };
    let (start, end) = (get("start_time")?, get("end_time")?);
    for (k, t) in [("start_time", start), ("end_time", end)] {
        if !aligned(t) {
            return Err(Reply::bad_request(
                1008,
                &format!("{k} {} must be a multiple of 5 minutes", iso(t)),
            ));
        }
    }
    if start >= end {
        return Err(Reply::bad_request(
            1008,
            "start_time must be before end_time",
        ));
    }
    Ok(Span {
        start,
        end: end.min(c.uptodate).max(start),
    })
}

/// The window figures every sample answer carries.
#[derive(Serialize)]
struct SampleFields<'a> {
    sample_start_time: &'a str,
    sample_end_time: &'a str,
    objects_created: String,
    objects_deleted: String,
    bytes_delta: String,
    bytes_deleted: String,
    total_objects_deleted: String,
    total_size_deleted: String,
    total_size: String,
    total_size_unit: &'a str,
    total_objects: String,
    total_mpu_size: String,
    total_mpu_parts: u64,
    ingress: u64,
    egress: u64,
    uptodate_till: &'a str,
}

struct SpanText {
    start: String,
    end: String,
    uptodate: String,
}

fn sample_fields<'a>(w: &Window, t: &Totals, s: &'a SpanText, c: &'a Ctx) -> SampleFields<'a> {
    SampleFields {
        sample_start_time: &s.start,
        sample_end_time: &s.end,
        objects_created: w.objects_created.to_string(),
        objects_deleted: w.objects_deleted.to_string(),
        bytes_delta: w.bytes_delta().to_string(),
        bytes_deleted: c.unit.format(w.bytes_deleted),
        total_objects_deleted: w.objects_deleted.to_string(),
        total_size_deleted: c.unit.format(w.bytes_deleted),
        total_size: c.unit.format(t.size),
        total_size_unit: &c.unit_name,
        total_objects: t.objects.to_string(),
        total_mpu_size: c.unit.format(t.mpu_size),
        total_mpu_parts: t.mpu_parts,
        ingress: w.ingress,
        egress: w.egress,
        uptodate_till: &s.uptodate,
    }
}

#[derive(Serialize)]
struct BucketSample<'a> {
    namespace: &'a str,
    name: &'a str,
    vpool_id: &'a str,
    #[serde(flatten)]
    fields: SampleFields<'a>,
    #[serde(rename = "TagSet")]
    tag_set: Vec<Tag<'a>>,
}

fn bucket_sample<'a>(
    m: &'a Cluster,
    b: &'a Bucket,
    s: &Span,
    st: &'a SpanText,
    c: &'a Ctx,
) -> BucketSample<'a> {
    let (a, z) = (sample_index(s.start), sample_index(s.end));
    BucketSample {
        namespace: &b.namespace,
        name: &b.name,
        vpool_id: vpool(m, b),
        fields: sample_fields(&b.billing.window(a, z), &b.billing.totals(z), st, c),
        tag_set: tags(b),
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum NamespaceSample<'a> {
    Valid {
        namespace: &'a str,
        #[serde(flatten)]
        fields: Box<SampleFields<'a>>,
        next_marker: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        bucket_billing_sample: Option<Vec<BucketSample<'a>>>,
    },
    Invalid {
        namespace: &'a str,
        valid_namespace: &'static str,
    },
}

#[allow(clippy::too_many_arguments)]
fn namespace_sample<'a>(
    sim: &Sim,
    m: &'a Cluster,
    ns: &'a Namespace,
    s: &Span,
    st: &'a SpanText,
    c: &'a Ctx,
    detail: bool,
    marker: Option<&str>,
) -> NamespaceSample<'a> {
    let (a, z) = (sample_index(s.start), sample_index(s.end));
    let mut w = Window::default();
    let mut t = Totals::default();
    for b in ns.buckets.values() {
        w.add(&b.billing.window(a, z));
        t.add(&b.billing.totals(z));
    }
    let (buckets, next_marker) = if detail {
        let (items, next) = bucket_page(sim, ns, marker);
        (
            Some(
                items
                    .iter()
                    .map(|b| bucket_sample(m, b, s, st, c))
                    .collect(),
            ),
            next,
        )
    } else {
        (None, String::new())
    };
    NamespaceSample::Valid {
        namespace: &ns.name,
        fields: Box::new(sample_fields(&w, &t, st, c)),
        next_marker,
        bucket_billing_sample: buckets,
    }
}

fn span_text(s: &Span, c: &Ctx) -> SpanText {
    SpanText {
        start: iso(s.start),
        end: iso(s.end),
        uptodate: iso(c.uptodate),
    }
}

pub fn bucket_sample_one(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let s = try_reply!(span(req, &c));
    let st = span_text(&s, &c);
    let (ns, name) = (&req.segments[3], &req.segments[4]);
    let m = sim.model();
    let Some(b) = m.bucket(ns, name) else {
        return Reply::not_found(&format!("{ns}/{name}"));
    };
    let v = bucket_sample(&m, b, &s, &st, &c);
    if m.cfg.version.wraps_roots() {
        // As the 4.1 spec's example: wrapped in JSON, not in XML.
        let inner = serde_json::to_value(&v).unwrap_or(Value::Null);
        Reply::ok(
            Doc::jaxb(
                "bucket_billing_sample",
                json!({"bucket_billing_sample": inner.clone()}),
            )
            .with_xml(inner),
        )
    } else {
        Reply::ok(Doc::typed("bucket_billing_sample", &v, req.format))
    }
}

pub fn buckets_sample(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let s = try_reply!(span(req, &c));
    let st = span_text(&s, &c);
    let names = try_reply!(ids(req));
    let ns = &req.segments[3];
    let m = sim.model();
    if !m.namespaces.contains_key(ns) {
        return Reply::not_found(ns);
    }
    let items: Vec<BucketSample> = names
        .iter()
        .filter_map(|b| m.bucket(ns, b))
        .map(|b| bucket_sample(&m, b, &s, &st, &c))
        .collect();
    Reply::ok(Doc::typed_list(
        "bucket_billing_sample_infos",
        "bucket_billing_sample",
        &items,
        req.format,
    ))
}

pub fn namespace_sample_one(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let s = try_reply!(span(req, &c));
    let st = span_text(&s, &c);
    let name = &req.segments[3];
    let m = sim.model();
    match m.namespaces.get(name) {
        Some(ns) => {
            let v = namespace_sample(sim, &m, ns, &s, &st, &c, detail(req), req.q("marker"));
            Reply::ok(Doc::typed("namespace_billing_sample", &v, req.format))
        }
        None => Reply::not_found(name),
    }
}

pub fn namespaces_sample(sim: &Sim, req: &Req) -> Reply {
    let c = try_reply!(ctx(sim, req));
    let s = try_reply!(span(req, &c));
    let st = span_text(&s, &c);
    let names = try_reply!(ids(req));
    let m = sim.model();
    let items: Vec<NamespaceSample> = names
        .iter()
        .map(|n| match m.namespaces.get(n) {
            Some(ns) => namespace_sample(sim, &m, ns, &s, &st, &c, detail(req), None),
            None => NamespaceSample::Invalid {
                namespace: n,
                valid_namespace: "false",
            },
        })
        .collect();
    Reply::ok(Doc::typed_list(
        "namespace_billing_sample_infos",
        "namespace_billing_sample",
        &items,
        req.format,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_1024_based_and_keep_fractions() {
        assert_eq!(Unit::Kb.format(10_000_000), "9765.625");
        assert_eq!(Unit::Kb.format(10_485_760), "10240.0");
        assert_eq!(Unit::Byte.format(10_485_760), "10485760");
        assert_eq!(Unit::Gb.format(0), "0.0");
        assert_eq!(Unit::parse(Some("KiB")).ok(), Some(Unit::Kb));
        assert!(Unit::parse(Some("TB")).is_err());
    }
}
