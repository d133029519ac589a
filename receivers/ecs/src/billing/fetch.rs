//! The billing reads: bulk POSTs over batches of namespaces with bucket detail, and the
//! per-namespace GETs that continue a namespace whose bucket list was cut at a page
//! (`next_marker`). Sizes are asked in KB and multiplied by 1024: exact, since ECS's KB is
//! 1024 bytes and fractional (`9765.625`), and KB is accepted by every ECS version (BYTE
//! is not documented before ObjectScale).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::client::parse::{int, list, num, text, uint, unwrap};
use crate::client::{Call, ClientError};
use crate::cluster::Cluster;

/// Pages of one namespace's bucket detail read at most, as a guard against a marker
/// that never ends.
const MAX_PAGES: usize = 10_000;

/// Bytes from a KB figure (`"9765.625"` → 10,000,000).
pub fn kb(v: &Value) -> Option<u64> {
    num(v)
        .filter(|k| *k >= 0.0)
        .map(|k| (k * 1024.0).round() as u64)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketFigures {
    pub name: String,
    /// Replication group id (`vpool_id`).
    pub vpool: String,
    pub size: u64,
    pub objects: u64,
    pub mpu_size: u64,
    pub mpu_parts: u64,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceFigures {
    pub name: String,
    pub size: u64,
    pub objects: u64,
    pub mpu_size: u64,
    pub mpu_parts: u64,
    /// `uptodate_till`: the figures are consistent up to here (epoch seconds).
    pub uptodate: Option<i64>,
    pub buckets: Vec<BucketFigures>,
}

/// What a sample window says of a bucket or a namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    pub ingress: u64,
    pub egress: u64,
    pub objects_created: u64,
    pub objects_deleted: u64,
    /// Bytes written minus bytes deleted in the window.
    pub bytes_delta: i64,
    /// Size at the end of the window.
    pub total_size: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamespaceSample {
    pub name: String,
    pub total: Traffic,
    /// `sample_end_time` as ECS clamped it.
    pub end: Option<i64>,
    pub buckets: BTreeMap<String, Traffic>,
}

/// One namespace's answer in a bulk call.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    Found(T),
    /// `"valid_namespace":"false"`: deleted since the namespace list was read.
    Gone(String),
}

fn time(v: &Value) -> Option<i64> {
    text(v).and_then(pipeline::timefmt::parse_minute)
}

fn bucket_figures(b: &Value) -> Option<BucketFigures> {
    let tags = list(
        if b["TagSet"].get("Tag").is_some() {
            &b["TagSet"]
        } else {
            b
        },
        if b["TagSet"].get("Tag").is_some() {
            "Tag"
        } else {
            "TagSet"
        },
    )
    .iter()
    .filter_map(|t| {
        Some((
            text(&t["Key"])?.to_owned(),
            text(&t["Value"]).unwrap_or("").to_owned(),
        ))
    })
    .collect();
    Some(BucketFigures {
        name: text(&b["name"])?.to_owned(),
        vpool: text(&b["vpool_id"]).unwrap_or("").to_owned(),
        size: kb(&b["total_size"])?,
        objects: uint(&b["total_objects"]).unwrap_or(0),
        mpu_size: kb(&b["total_mpu_size"]).unwrap_or(0),
        mpu_parts: uint(&b["total_mpu_parts"]).unwrap_or(0),
        tags,
    })
}

fn traffic(v: &Value) -> Traffic {
    Traffic {
        ingress: uint(&v["ingress"]).unwrap_or(0),
        egress: uint(&v["egress"]).unwrap_or(0),
        objects_created: uint(&v["objects_created"]).unwrap_or(0),
        objects_deleted: uint(&v["objects_deleted"]).unwrap_or(0),
        bytes_delta: int(&v["bytes_delta"]).unwrap_or(0),
        total_size: kb(&v["total_size"]).unwrap_or(0),
    }
}

/// The items of a bulk answer: `{"<root>s":[…]}` (info) or `{"<root>_infos":[…]}`
/// (samples), `{"<list>":{"<root>":[…]}}` (XML-shaped), or a bare list.
fn items<'a>(v: &'a Value, root: &str) -> Vec<&'a Value> {
    let list_key = [format!("{root}s"), format!("{root}_infos")]
        .into_iter()
        .find(|k| v.get(k).is_some())
        .unwrap_or_default();
    match v.get(&list_key) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) if o.get(root).is_some() => list(o, root),
        Some(o @ Value::Object(_)) => vec![o],
        _ => match v {
            Value::Array(a) => a.iter().collect(),
            _ => list(v, root),
        },
    }
}

fn valid(item: &Value) -> bool {
    text(&item["valid_namespace"]).is_none_or(|v| !v.eq_ignore_ascii_case("false"))
}

fn next_marker(item: &Value) -> Option<String> {
    text(&item["next_marker"])
        .or_else(|| text(&item["NextMarker"]))
        .map(str::to_owned)
}

fn malformed(route: &str, message: impl Into<String>) -> ClientError {
    ClientError::Malformed {
        route: route.to_owned(),
        message: message.into(),
    }
}

/// One namespace of a bulk answer, and the marker of its next bucket page when ECS cut
/// its bucket list.
pub type Item<T> = (Answer<T>, Option<String>);

/// One page of a namespace's bucket detail, and the marker of the next.
pub type Page<T> = (Vec<T>, Option<String>);

const INFO: &str = "/object/billing/namespace/info";
const SAMPLE: &str = "/object/billing/namespace/sample";

fn tree(route: &str, body: &[u8]) -> Result<Value, ClientError> {
    serde_json::from_slice(body).map_err(|e| crate::client::invalid_json(route, false, body, &e))
}

/// Reads the rest of a namespace whose bucket list a bulk answer cut at a page: follows
/// `marker` with the per-namespace GET of the same `kind` (`info` or `sample`, with
/// `query` added), reads each page with `read` and hands its items to `on_page`.
#[allow(clippy::too_many_arguments)]
async fn rest_of_namespace<T>(
    cl: &Cluster,
    kind: &str,
    namespace: &str,
    mut marker: Option<String>,
    query: &str,
    deadline: Instant,
    read: fn(&str, &[u8]) -> Result<Page<T>, ClientError>,
    mut on_page: impl FnMut(Vec<T>),
) -> Result<(), ClientError> {
    let route = format!("/object/billing/namespace/{{namespace}}/{kind}");
    let mut pages = 0;
    while let Some(m) = marker.take() {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(malformed(
                &format!("/object/billing/namespace/{kind}"),
                format!("namespace {namespace}: endless bucket pages"),
            ));
        }
        let path = format!(
            "/object/billing/namespace/{}/{kind}?sizeunit=KB&include_bucket_detail=true{query}&marker={}",
            crate::percent(namespace),
            crate::percent(&m)
        );
        let (items, next) = cl
            .client
            .read_json(Call::get(&route, path).until(deadline), |b| read(&route, b))
            .await?;
        on_page(items);
        marker = next.filter(|n| *n != m);
    }
    Ok(())
}

fn bucket_traffic(page: &Value) -> impl Iterator<Item = (String, Traffic)> + '_ {
    list(page, "bucket_billing_sample")
        .into_iter()
        .filter_map(|b| Some((text(&b["name"])?.to_owned(), traffic(b))))
}

/// A bulk answer's namespaces, after the check that it carries a list.
fn bulk_items<T>(
    route: &str,
    body: &[u8],
    root: &str,
    mut read: impl FnMut(&Value, String) -> Result<T, ClientError>,
) -> Result<Vec<Item<T>>, ClientError> {
    let v = tree(route, body)?;
    crate::client::require(route, v.is_array(), |k| v.get(k).is_some())?;
    let mut out = Vec::new();
    for item in items(&v, root) {
        let Some(name) = text(&item["namespace"]).map(str::to_owned) else {
            return Err(malformed(route, "an item without a namespace"));
        };
        if !valid(item) {
            out.push((Answer::Gone(name), None));
            continue;
        }
        out.push((Answer::Found(read(item, name)?), next_marker(item)));
    }
    Ok(out)
}

/// The namespaces of a bulk `/object/billing/namespace/info` answer, with the first page
/// of their buckets.
pub fn read_info(body: &[u8]) -> Result<Vec<Item<NamespaceFigures>>, ClientError> {
    bulk_items(INFO, body, "namespace_billing_info", |item, name| {
        Ok(NamespaceFigures {
            size: kb(&item["total_size"]).ok_or_else(|| {
                malformed(INFO, format!("namespace {name}: no readable total_size"))
            })?,
            objects: uint(&item["total_objects"]).unwrap_or(0),
            mpu_size: kb(&item["total_mpu_size"]).unwrap_or(0),
            mpu_parts: uint(&item["total_mpu_parts"]).unwrap_or(0),
            uptodate: time(&item["uptodate_till"]),
            buckets: list(item, "bucket_billing_info")
                .into_iter()
                .filter_map(bucket_figures)
                .collect(),
            name,
        })
    })
}

/// The namespaces of a bulk `/object/billing/namespace/sample` answer, with the first
/// page of their buckets.
pub fn read_sample(body: &[u8]) -> Result<Vec<Item<NamespaceSample>>, ClientError> {
    bulk_items(SAMPLE, body, "namespace_billing_sample", |item, name| {
        Ok(NamespaceSample {
            total: traffic(item),
            end: time(&item["sample_end_time"]),
            buckets: bucket_traffic(item).collect(),
            name,
        })
    })
}

/// A page of one namespace's bucket sizes (`GET …/{namespace}/info?marker=`).
pub fn read_info_page(route: &str, body: &[u8]) -> Result<Page<BucketFigures>, ClientError> {
    let v = tree(route, body)?;
    let page = unwrap(&v, "namespace_billing_info");
    let buckets = list(page, "bucket_billing_info")
        .into_iter()
        .filter_map(bucket_figures)
        .collect();
    Ok((buckets, next_marker(page)))
}

/// A page of one namespace's bucket traffic (`GET …/{namespace}/sample?marker=`).
pub fn read_sample_page(
    route: &str,
    body: &[u8],
) -> Result<Page<(String, Traffic)>, ClientError> {
    let v = tree(route, body)?;
    let page = unwrap(&v, "namespace_billing_sample");
    Ok((bucket_traffic(page).collect(), next_marker(page)))
}

/// Sizes of a batch of namespaces and their buckets.
pub async fn info(
    cl: &Cluster,
    batch: &[String],
    deadline: Instant,
) -> Result<Vec<Answer<NamespaceFigures>>, ClientError> {
    let call = Call::post_json(
        INFO,
        "/object/billing/namespace/info?sizeunit=KB&include_bucket_detail=true",
        &json!({ "id": batch }),
    );
    let read = cl.client.read_json(call.until(deadline), read_info).await?;
    let mut out = Vec::new();
    for (answer, marker) in read {
        if let Answer::Found(mut ns) = answer {
            let name = ns.name.clone();
            rest_of_namespace(cl, "info", &name, marker, "", deadline, read_info_page, |b| {
                ns.buckets.extend(b)
            })
            .await?;
            out.push(Answer::Found(ns));
        } else {
            out.push(answer);
        }
    }
    Ok(out)
}

/// Traffic of a batch of namespaces and their buckets over `[start, end)`.
pub async fn sample(
    cl: &Cluster,
    batch: &[String],
    start: i64,
    end: i64,
    deadline: Instant,
) -> Result<Vec<Answer<NamespaceSample>>, ClientError> {
    let window = format!(
        "&start_time={}&end_time={}",
        pipeline::timefmt::minute(start),
        pipeline::timefmt::minute(end)
    );
    let call = Call::post_json(
        SAMPLE,
        format!("/object/billing/namespace/sample?sizeunit=KB&include_bucket_detail=true{window}"),
        &json!({ "id": batch }),
    );
    let read = cl.client.read_json(call.until(deadline), read_sample).await?;
    let mut out = Vec::new();
    for (answer, marker) in read {
        if let Answer::Found(mut ns) = answer {
            let name = ns.name.clone();
            rest_of_namespace(cl, "sample", &name, marker, &window, deadline, read_sample_page, |b| {
                ns.buckets.extend(b)
            })
            .await?;
            out.push(Answer::Found(ns));
        } else {
            out.push(answer);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_is_1024_bytes_and_keeps_fractions() {
        assert_eq!(kb(&json!("9765.625")), Some(10_000_000));
        assert_eq!(kb(&json!(10240)), Some(10_485_760));
        assert_eq!(kb(&json!("N/A")), None);
        assert_eq!(kb(&json!("-1")), None);
    }

    #[test]
    fn bulk_items_in_every_shape() {
        let flat = json!({"namespace_billing_infos": [{"namespace": "a"}, {"namespace": "b"}]});
        assert_eq!(items(&flat, "namespace_billing_info").len(), 2);
        let xmlish =
            json!({"namespace_billing_infos": {"namespace_billing_info": [{"namespace": "a"}]}});
        assert_eq!(items(&xmlish, "namespace_billing_info").len(), 1);
        let one = json!({"namespace_billing_infos": {"namespace": "a"}});
        assert_eq!(items(&one, "namespace_billing_info").len(), 1);
        let samples = json!({"namespace_billing_sample_infos": [{"namespace": "a"}]});
        assert_eq!(items(&samples, "namespace_billing_sample").len(), 1);
    }

    #[test]
    fn bucket_tags_in_json_and_xml_shapes() {
        let json_shape =
            json!({"name": "b", "total_size": "1.0", "TagSet": [{"Key": "team", "Value": "x"}]});
        let xml_shape = json!({"name": "b", "total_size": "1.0", "TagSet": {"Tag": [{"Key": "team", "Value": "x"}]}});
        for b in [json_shape, xml_shape] {
            let f = bucket_figures(&b);
            assert_eq!(
                f.map(|f| f.tags),
                Some(vec![("team".to_owned(), "x".to_owned())])
            );
        }
    }
}
