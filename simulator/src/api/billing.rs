//! /object/billing: namespace and bucket info (totals at `uptodate_till`) and samples
//! (sums over 5-minute-aligned windows, start inclusive, end exclusive), single (GET) and
//! bulk (POST with an id list), with ECS's units, paging and body rules.

use http::StatusCode;
use serde_json::{Map, Value, json};

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

fn tags(b: &Bucket) -> Value {
    json!(
        b.tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect::<Vec<_>>()
    )
}

fn bucket_info_json(m: &Cluster, b: &Bucket, c: &Ctx) -> Value {
    let t = b.billing.totals(c.n);
    json!({
        "namespace": b.namespace,
        "name": b.name,
        "sample_time": iso(c.uptodate - 240),
        "vpool_id": m.rgs.get(b.rg).map(|r| r.id.clone()).unwrap_or_default(),
        "total_size": c.unit.format(t.size),
        "total_size_unit": c.unit_name,
        "total_objects": t.objects,
        "total_mpu_size": c.unit.format(t.mpu_size),
        "total_mpu_parts": t.mpu_parts.to_string(),
        "uptodate_till": iso(c.uptodate),
        "TagSet": tags(b),
    })
}

fn namespace_totals(ns: &Namespace, n: u64) -> Totals {
    let mut t = Totals::default();
    for b in ns.buckets.values() {
        t.add(&b.billing.totals(n));
    }
    t
}

/// Buckets after `marker`, one page.
fn bucket_page<'a>(
    sim: &Sim,
    ns: &'a Namespace,
    marker: Option<&str>,
) -> (Vec<&'a Bucket>, String) {
    let all: Vec<&Bucket> = ns.buckets.values().collect();
    let (items, next) = super::page(&all, |b| b.name.as_str(), marker, sim.billing_detail_page);
    (items.to_vec(), next.unwrap_or_default())
}

fn namespace_info_json(
    sim: &Sim,
    m: &Cluster,
    ns: &Namespace,
    c: &Ctx,
    detail: bool,
    marker: Option<&str>,
) -> Value {
    let t = namespace_totals(ns, c.n);
    let mut v = json!({
        "namespace": ns.name,
        "valid_namespace": "true",
        "total_size": c.unit.format(t.size),
        "total_size_unit": c.unit_name,
        "total_objects": t.objects,
        "sample_time": iso(c.uptodate - 240),
        "uptodate_till": iso(c.uptodate),
        "total_mpu_size": c.unit.format(t.mpu_size),
        "total_mpu_parts": t.mpu_parts,
        "next_marker": "",
    });
    if detail {
        let (items, next) = bucket_page(sim, ns, marker);
        v["bucket_billing_info"] = json!(
            items
                .iter()
                .map(|b| bucket_info_json(m, b, c))
                .collect::<Vec<_>>()
        );
        v["next_marker"] = json!(next);
    }
    v
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

/// JSON `{"<root>": [items]}`; XML `<root><item>…</item>…</root>`.
fn wrap_list(root: &str, item: &str, items: Vec<Value>) -> Reply {
    Reply::ok(Doc::jaxb(root, json!({ root: items })).with_xml(json!({ item: items })))
}

pub fn bucket_info(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (ns, name) = (&req.segments[3], &req.segments[4]);
    let m = sim.model();
    match m.bucket(ns, name) {
        Some(b) => Reply::ok(Doc::jaxb(
            "bucket_billing_info",
            bucket_info_json(&m, b, &c),
        )),
        None => Reply::not_found(&format!("{ns}/{name}")),
    }
}

pub fn buckets_info(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let names = match ids(req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let ns = &req.segments[3];
    let m = sim.model();
    if !m.namespaces.contains_key(ns) {
        return Reply::not_found(ns);
    }
    let items = names
        .iter()
        .filter_map(|b| m.bucket(ns, b))
        .map(|b| bucket_info_json(&m, b, &c))
        .collect();
    wrap_list("bucket_billing_infos", "bucket_billing_info", items)
}

pub fn namespace_info(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let name = &req.segments[3];
    let m = sim.model();
    match m.namespaces.get(name) {
        Some(ns) => Reply::ok(Doc::jaxb(
            "namespace_billing_info",
            namespace_info_json(sim, &m, ns, &c, detail(req), req.q("marker")),
        )),
        None => Reply::not_found(name),
    }
}

pub fn namespaces_info(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let names = match ids(req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let m = sim.model();
    let items = names
        .iter()
        .map(|n| match m.namespaces.get(n) {
            Some(ns) => namespace_info_json(sim, &m, ns, &c, detail(req), None),
            None => json!({"namespace": n, "valid_namespace": "false"}),
        })
        .collect();
    wrap_list("namespace_billing_infos", "namespace_billing_info", items)
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

fn window_json(out: &mut Map<String, Value>, w: &Window, t: &Totals, s: &Span, c: &Ctx) {
    out.insert("sample_start_time".into(), json!(iso(s.start)));
    out.insert("sample_end_time".into(), json!(iso(s.end)));
    out.insert(
        "objects_created".into(),
        json!(w.objects_created.to_string()),
    );
    out.insert(
        "objects_deleted".into(),
        json!(w.objects_deleted.to_string()),
    );
    out.insert("bytes_delta".into(), json!(w.bytes_delta().to_string()));
    out.insert(
        "bytes_deleted".into(),
        json!(c.unit.format(w.bytes_deleted)),
    );
    out.insert(
        "total_objects_deleted".into(),
        json!(w.objects_deleted.to_string()),
    );
    out.insert(
        "total_size_deleted".into(),
        json!(c.unit.format(w.bytes_deleted)),
    );
    out.insert("total_size".into(), json!(c.unit.format(t.size)));
    out.insert("total_size_unit".into(), json!(c.unit_name));
    out.insert("total_objects".into(), json!(t.objects.to_string()));
    out.insert("total_mpu_size".into(), json!(c.unit.format(t.mpu_size)));
    out.insert("total_mpu_parts".into(), json!(t.mpu_parts));
    out.insert("ingress".into(), json!(w.ingress));
    out.insert("egress".into(), json!(w.egress));
    out.insert("uptodate_till".into(), json!(iso(c.uptodate)));
}

fn bucket_sample_json(m: &Cluster, b: &Bucket, s: &Span, c: &Ctx) -> Value {
    let (a, z) = (sample_index(s.start), sample_index(s.end));
    let mut out = Map::new();
    out.insert("namespace".into(), json!(b.namespace));
    out.insert("name".into(), json!(b.name));
    out.insert(
        "vpool_id".into(),
        json!(m.rgs.get(b.rg).map(|r| r.id.clone()).unwrap_or_default()),
    );
    window_json(
        &mut out,
        &b.billing.window(a, z),
        &b.billing.totals(z),
        s,
        c,
    );
    out.insert("TagSet".into(), tags(b));
    Value::Object(out)
}

fn namespace_sample_json(
    sim: &Sim,
    m: &Cluster,
    ns: &Namespace,
    s: &Span,
    c: &Ctx,
    detail: bool,
    marker: Option<&str>,
) -> Value {
    let (a, z) = (sample_index(s.start), sample_index(s.end));
    let mut w = Window::default();
    let mut t = Totals::default();
    for b in ns.buckets.values() {
        w.add(&b.billing.window(a, z));
        t.add(&b.billing.totals(z));
    }
    let mut out = Map::new();
    out.insert("namespace".into(), json!(ns.name));
    window_json(&mut out, &w, &t, s, c);
    out.insert("next_marker".into(), json!(""));
    if detail {
        let (items, next) = bucket_page(sim, ns, marker);
        out.insert(
            "bucket_billing_sample".into(),
            json!(
                items
                    .iter()
                    .map(|b| bucket_sample_json(m, b, s, c))
                    .collect::<Vec<_>>()
            ),
        );
        out.insert("next_marker".into(), json!(next));
    }
    Value::Object(out)
}

pub fn bucket_sample(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = match span(req, &c) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (ns, name) = (&req.segments[3], &req.segments[4]);
    let m = sim.model();
    let Some(b) = m.bucket(ns, name) else {
        return Reply::not_found(&format!("{ns}/{name}"));
    };
    let v = bucket_sample_json(&m, b, &s, &c);
    if m.cfg.version.wraps_roots() {
        // As the 4.1 spec's example: wrapped in JSON.
        Reply::ok(
            Doc::jaxb(
                "bucket_billing_sample",
                json!({"bucket_billing_sample": v.clone()}),
            )
            .with_xml(v),
        )
    } else {
        Reply::ok(Doc::jaxb("bucket_billing_sample", v))
    }
}

pub fn buckets_sample(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = match span(req, &c) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let names = match ids(req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let ns = &req.segments[3];
    let m = sim.model();
    if !m.namespaces.contains_key(ns) {
        return Reply::not_found(ns);
    }
    let items = names
        .iter()
        .filter_map(|b| m.bucket(ns, b))
        .map(|b| bucket_sample_json(&m, b, &s, &c))
        .collect();
    wrap_list(
        "bucket_billing_sample_infos",
        "bucket_billing_sample",
        items,
    )
}

pub fn namespace_sample(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = match span(req, &c) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let name = &req.segments[3];
    let m = sim.model();
    match m.namespaces.get(name) {
        Some(ns) => Reply::ok(Doc::jaxb(
            "namespace_billing_sample",
            namespace_sample_json(sim, &m, ns, &s, &c, detail(req), req.q("marker")),
        )),
        None => Reply::not_found(name),
    }
}

pub fn namespaces_sample(sim: &Sim, req: &Req) -> Reply {
    let c = match ctx(sim, req) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let s = match span(req, &c) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let names = match ids(req) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let m = sim.model();
    let items = names
        .iter()
        .map(|n| match m.namespaces.get(n) {
            Some(ns) => namespace_sample_json(sim, &m, ns, &s, &c, detail(req), None),
            None => json!({"namespace": n, "valid_namespace": "false"}),
        })
        .collect();
    wrap_list(
        "namespace_billing_sample_infos",
        "namespace_billing_sample",
        items,
    )
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
