//! The billing reads: bulk POSTs over batches of namespaces with bucket detail, and the
//! per-namespace GETs that continue a namespace whose bucket list was cut at a page
//! (`next_marker`). Sizes are asked in KB and multiplied by 1024: exact, since ECS's KB is
//! 1024 bytes and fractional (`9765.625`), and KB is accepted by every ECS version (BYTE
//! is not documented before ObjectScale).

use std::collections::BTreeMap;

use pull::read::typed::{ArrayOr, Keyed, List, Obj, Scalar, Seen};
use serde_json::json;
use tokio::time::Instant;

use super::answer::{self, BucketInfo, BucketSample, InfoItem, InfoTop, SampleItem, SampleTop};
use crate::client::{Call, ClientError};
use crate::cluster::Cluster;

/// Pages of one namespace's bucket detail read at most, as a guard against a marker
/// that never ends.
const MAX_PAGES: usize = 10_000;

/// Bytes from a KB figure (`"9765.625"` → 10,000,000).
pub fn kb(v: &Scalar<'_>) -> Option<u64> {
    v.num()
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

fn time(v: &Scalar<'_>) -> Option<i64> {
    v.text().and_then(pipeline::timefmt::parse_minute)
}

fn bucket_figures(b: &BucketInfo<'_>) -> Option<BucketFigures> {
    Some(BucketFigures {
        name: b.name.text()?.to_owned(),
        vpool: b.vpool_id.text().unwrap_or("").to_owned(),
        size: kb(&b.total_size)?,
        objects: b.total_objects.uint().unwrap_or(0),
        mpu_size: kb(&b.total_mpu_size).unwrap_or(0),
        mpu_parts: b.total_mpu_parts.uint().unwrap_or(0),
        tags: answer::tags(&b.tag_set),
    })
}

#[allow(clippy::too_many_arguments)]
fn traffic(
    ingress: &Scalar<'_>,
    egress: &Scalar<'_>,
    objects_created: &Scalar<'_>,
    objects_deleted: &Scalar<'_>,
    bytes_delta: &Scalar<'_>,
    total_size: &Scalar<'_>,
) -> Traffic {
    Traffic {
        ingress: ingress.uint().unwrap_or(0),
        egress: egress.uint().unwrap_or(0),
        objects_created: objects_created.uint().unwrap_or(0),
        objects_deleted: objects_deleted.uint().unwrap_or(0),
        bytes_delta: bytes_delta.int().unwrap_or(0),
        total_size: kb(total_size).unwrap_or(0),
    }
}

fn bucket_traffic(b: &BucketSample<'_>) -> Option<(String, Traffic)> {
    let t = traffic(
        &b.ingress,
        &b.egress,
        &b.objects_created,
        &b.objects_deleted,
        &b.bytes_delta,
        &b.total_size,
    );
    Some((b.name.text()?.to_owned(), t))
}

fn valid(v: &Scalar<'_>) -> bool {
    v.text().is_none_or(|v| !v.eq_ignore_ascii_case("false"))
}

fn next_marker(marker: &Scalar<'_>, xml: &Scalar<'_>) -> Option<String> {
    marker.text().or_else(|| xml.text()).map(str::to_owned)
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

fn typed<'a, T: serde::Deserialize<'a>>(route: &str, body: &'a [u8]) -> Result<T, ClientError> {
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

/// A bulk answer's namespaces, after the check that it carries a list: each namespace's
/// name, whether ECS still knows it, and the rest of it.
fn bulk_items<I, T, O>(
    route: &str,
    bulk: ArrayOr<I, T>,
    lists: impl FnOnce(T) -> Vec<Option<I>>,
    keys: impl Fn(&T, &str) -> bool,
    name_of: impl Fn(&I) -> (Option<String>, bool),
    mut read: impl FnMut(I, String) -> Result<Item<O>, ClientError>,
) -> Result<Vec<Item<O>>, ClientError> {
    let items = match bulk {
        ArrayOr::Array(items) => {
            crate::client::require(route, true, |_| false)?;
            items
        }
        ArrayOr::Object(top) => {
            crate::client::require(route, false, |k| keys(&top, k))?;
            lists(top)
        }
        ArrayOr::Other => {
            crate::client::require(route, false, |_| false)?;
            Vec::new()
        }
    };
    let mut out = Vec::new();
    for item in items {
        let (name, valid) = item.as_ref().map_or((None, true), &name_of);
        let Some(name) = name else {
            return Err(malformed(route, "an item without a namespace"));
        };
        let Some(item) = item.filter(|_| valid) else {
            out.push((Answer::Gone(name), None));
            continue;
        };
        out.push(read(item, name)?);
    }
    Ok(out)
}

/// The namespaces of a bulk `/object/billing/namespace/info` answer, with the first page
/// of their buckets.
pub fn read_info(body: &[u8]) -> Result<Vec<Item<NamespaceFigures>>, ClientError> {
    let bulk: ArrayOr<InfoItem<'_>, InfoTop<'_>> = typed(INFO, body)?;
    bulk_items(
        INFO,
        bulk,
        |top| {
            answer::bulk_items(
                [
                    top.namespace_billing_infos,
                    top.namespace_billing_info_infos,
                ],
                top.namespace_billing_info,
                |o| o.namespace_billing_info.is_present(),
                |o| match o.namespace_billing_info {
                    Seen::Present(l) => l,
                    Seen::Absent => List::No,
                },
            )
        },
        |top, k| match k {
            "namespace_billing_infos" => top.namespace_billing_infos.is_present(),
            "namespace_billing_info_infos" => top.namespace_billing_info_infos.is_present(),
            "namespace_billing_info" => top.namespace_billing_info.is_present(),
            _ => false,
        },
        |i| {
            (
                i.namespace.text().map(str::to_owned),
                valid(&i.valid_namespace),
            )
        },
        |item, name| {
            let ns = NamespaceFigures {
                size: kb(&item.total_size).ok_or_else(|| {
                    malformed(INFO, format!("namespace {name}: no readable total_size"))
                })?,
                objects: item.total_objects.uint().unwrap_or(0),
                mpu_size: kb(&item.total_mpu_size).unwrap_or(0),
                mpu_parts: item.total_mpu_parts.uint().unwrap_or(0),
                uptodate: time(&item.uptodate_till),
                buckets: item
                    .bucket_billing_info
                    .objects()
                    .filter_map(bucket_figures)
                    .collect(),
                name,
            };
            Ok((
                Answer::Found(ns),
                next_marker(&item.next_marker, &item.next_marker_xml),
            ))
        },
    )
}

/// The namespaces of a bulk `/object/billing/namespace/sample` answer, with the first
/// page of their buckets.
pub fn read_sample(body: &[u8]) -> Result<Vec<Item<NamespaceSample>>, ClientError> {
    let bulk: ArrayOr<SampleItem<'_>, SampleTop<'_>> = typed(SAMPLE, body)?;
    bulk_items(
        SAMPLE,
        bulk,
        |top| {
            answer::bulk_items(
                [
                    top.namespace_billing_samples,
                    top.namespace_billing_sample_infos,
                ],
                top.namespace_billing_sample,
                |o| o.namespace_billing_sample.is_present(),
                |o| match o.namespace_billing_sample {
                    Seen::Present(l) => l,
                    Seen::Absent => List::No,
                },
            )
        },
        |top, k| match k {
            "namespace_billing_samples" => top.namespace_billing_samples.is_present(),
            "namespace_billing_sample_infos" => top.namespace_billing_sample_infos.is_present(),
            "namespace_billing_sample" => top.namespace_billing_sample.is_present(),
            _ => false,
        },
        |i| {
            (
                i.namespace.text().map(str::to_owned),
                valid(&i.valid_namespace),
            )
        },
        |item, name| {
            let ns = NamespaceSample {
                total: traffic(
                    &item.ingress,
                    &item.egress,
                    &item.objects_created,
                    &item.objects_deleted,
                    &item.bytes_delta,
                    &item.total_size,
                ),
                end: time(&item.sample_end_time),
                buckets: item
                    .bucket_billing_sample
                    .objects()
                    .filter_map(bucket_traffic)
                    .collect(),
                name,
            };
            Ok((
                Answer::Found(ns),
                next_marker(&item.next_marker, &item.next_marker_xml),
            ))
        },
    )
}

/// A page: the object itself, or the object inside a single-key wrapper `{ "<root>": {…} }`.
fn page<I>(top: Obj<Keyed<I>>, inner: impl FnOnce(&mut I) -> Option<I>) -> Option<I> {
    let mut k = top.0?;
    if k.keys == 1
        && let Some(i) = inner(&mut k.value)
    {
        return Some(i);
    }
    Some(k.value)
}

/// A page of one namespace's bucket sizes (`GET …/{namespace}/info?marker=`).
pub fn read_info_page(route: &str, body: &[u8]) -> Result<Page<BucketFigures>, ClientError> {
    let top: Obj<Keyed<InfoItem<'_>>> = typed(route, body)?;
    let Some(p) = page(top, |o| {
        match std::mem::take(&mut o.namespace_billing_info) {
            Seen::Present(List::One(inner)) => Some(*inner),
            other => {
                o.namespace_billing_info = other;
                None
            }
        }
    }) else {
        return Ok((Vec::new(), None));
    };
    let buckets = p
        .bucket_billing_info
        .objects()
        .filter_map(bucket_figures)
        .collect();
    Ok((buckets, next_marker(&p.next_marker, &p.next_marker_xml)))
}

/// A page of one namespace's bucket traffic (`GET …/{namespace}/sample?marker=`).
pub fn read_sample_page(route: &str, body: &[u8]) -> Result<Page<(String, Traffic)>, ClientError> {
    let top: Obj<Keyed<SampleItem<'_>>> = typed(route, body)?;
    let Some(p) = page(top, |o| {
        match std::mem::take(&mut o.namespace_billing_sample) {
            Seen::Present(List::One(inner)) => Some(*inner),
            other => {
                o.namespace_billing_sample = other;
                None
            }
        }
    }) else {
        return Ok((Vec::new(), None));
    };
    let buckets = p
        .bucket_billing_sample
        .objects()
        .filter_map(bucket_traffic)
        .collect();
    Ok((buckets, next_marker(&p.next_marker, &p.next_marker_xml)))
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
            rest_of_namespace(
                cl,
                "info",
                &name,
                marker,
                "",
                deadline,
                read_info_page,
                |b| ns.buckets.extend(b),
            )
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
    let read = cl
        .client
        .read_json(call.until(deadline), read_sample)
        .await?;
    let mut out = Vec::new();
    for (answer, marker) in read {
        if let Answer::Found(mut ns) = answer {
            let name = ns.name.clone();
            rest_of_namespace(
                cl,
                "sample",
                &name,
                marker,
                &window,
                deadline,
                read_sample_page,
                |b| ns.buckets.extend(b),
            )
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

    fn names(v: serde_json::Value) -> Vec<String> {
        read_info(v.to_string().as_bytes())
            .unwrap()
            .into_iter()
            .map(|(a, _)| match a {
                Answer::Found(f) => f.name,
                Answer::Gone(n) => format!("gone:{n}"),
            })
            .collect()
    }

    #[test]
    fn kb_is_1024_bytes_and_keeps_fractions() {
        let s = |v: serde_json::Value| -> Scalar<'static> {
            serde_json::from_str(Box::leak(v.to_string().into_boxed_str())).unwrap()
        };
        assert_eq!(kb(&s(json!("9765.625"))), Some(10_000_000));
        assert_eq!(kb(&s(json!(10240))), Some(10_485_760));
        assert_eq!(kb(&s(json!("N/A"))), None);
        assert_eq!(kb(&s(json!("-1"))), None);
    }

    #[test]
    fn bulk_items_in_every_shape() {
        let ns = |n: &str| json!({"namespace": n, "total_size": "1.0"});
        let flat = json!({"namespace_billing_infos": [ns("a"), ns("b")]});
        assert_eq!(names(flat), ["a", "b"]);
        let xmlish = json!({"namespace_billing_infos": {"namespace_billing_info": [ns("a")]}});
        assert_eq!(names(xmlish), ["a"]);
        let one = json!({"namespace_billing_infos": ns("a")});
        assert_eq!(names(one), ["a"]);
        let bare = json!([ns("a"), {"namespace": "b", "valid_namespace": "false"}]);
        assert_eq!(names(bare), ["a", "gone:b"]);
        let samples = json!({"namespace_billing_sample_infos": [{"namespace": "a"}]});
        let read = read_sample(samples.to_string().as_bytes()).unwrap();
        assert_eq!(read.len(), 1);
        let e = read_info(b"{}").unwrap_err();
        assert_eq!(e.kind(), "missing_fields");
        let e = read_info(br#"{"namespace_billing_infos": [3]}"#).unwrap_err();
        assert!(e.to_string().contains("without a namespace"), "{e}");
    }

    #[test]
    fn bucket_tags_in_json_and_xml_shapes() {
        let json_shape =
            json!({"name": "b", "total_size": "1.0", "TagSet": [{"Key": "team", "Value": "x"}]});
        let xml_shape = json!({"name": "b", "total_size": "1.0", "TagSet": {"Tag": [{"Key": "team", "Value": "x"}]}});
        for b in [json_shape, xml_shape] {
            let text = b.to_string();
            let b: BucketInfo<'_> = serde_json::from_str(&text).unwrap();
            let f = bucket_figures(&b);
            assert_eq!(
                f.map(|f| f.tags),
                Some(vec![("team".to_owned(), "x".to_owned())])
            );
        }
    }

    #[test]
    fn pages_wrapped_or_not() {
        let inner = json!({"bucket_billing_info": [{"name": "b", "total_size": "1.0"}], "next_marker": "m"});
        for v in [inner.clone(), json!({"namespace_billing_info": inner})] {
            let (buckets, marker) = read_info_page("/r", v.to_string().as_bytes()).unwrap();
            assert_eq!(buckets.len(), 1);
            assert_eq!(marker.as_deref(), Some("m"));
        }
        let (buckets, marker) = read_info_page("/r", b"[1]").unwrap();
        assert!(buckets.is_empty() && marker.is_none());
    }
}
