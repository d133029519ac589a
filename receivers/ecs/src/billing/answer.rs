//! The shapes of the billing answers, read straight from the bytes: a bulk answer with
//! bucket detail is about 13 KB per namespace (13 MB for 1,000), and a tree of it would
//! hold several times that. Every field is lenient (see `pull::read::typed`): ECS writes
//! sizes as strings and counts as numbers or strings, and XML-shaped JSON turns lists of
//! one into objects.

use pull::read::typed::{List, Scalar, Seen};
use serde::Deserialize;

/// A tag of `TagSet`.
#[derive(Debug, Deserialize)]
pub struct Tag<'a> {
    #[serde(rename = "Key", borrow, default)]
    pub key: Scalar<'a>,
    #[serde(rename = "Value", borrow, default)]
    pub value: Scalar<'a>,
}

/// An item of `TagSet`: a tag, or (XML-shaped, `"TagSet": {"Tag": […]}`) the wrapper of
/// the tags.
#[derive(Debug, Deserialize)]
pub struct TagItem<'a> {
    #[serde(rename = "Key", borrow, default)]
    pub key: Scalar<'a>,
    #[serde(rename = "Value", borrow, default)]
    pub value: Scalar<'a>,
    #[serde(rename = "Tag", borrow, default)]
    pub tag: Seen<List<Tag<'a>>>,
}

/// A bucket's tags as (key, value): a list of tags, `{"Tag": […]}`, or a single tag.
pub fn tags(set: &List<TagItem<'_>>) -> Vec<(String, String)> {
    let pair = |k: &Scalar<'_>, v: &Scalar<'_>| {
        Some((k.text()?.to_owned(), v.text().unwrap_or("").to_owned()))
    };
    match set {
        List::One(w) if w.tag.is_present() => w
            .tag
            .get()
            .into_iter()
            .flat_map(|l| l.objects())
            .filter_map(|t| pair(&t.key, &t.value))
            .collect(),
        _ => set
            .objects()
            .filter_map(|t| pair(&t.key, &t.value))
            .collect(),
    }
}

/// A bucket of an info answer.
#[derive(Debug, Deserialize)]
pub struct BucketInfo<'a> {
    #[serde(borrow, default)]
    pub name: Scalar<'a>,
    #[serde(borrow, default)]
    pub vpool_id: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_size: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_objects: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_mpu_size: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_mpu_parts: Scalar<'a>,
    #[serde(rename = "TagSet", borrow, default)]
    pub tag_set: List<TagItem<'a>>,
}

/// A namespace of an info answer, or a page of its buckets, or (XML-shaped) the wrapper
/// of the namespaces (`namespace_billing_info`).
#[derive(Debug, Deserialize)]
pub struct InfoItem<'a> {
    #[serde(borrow, default)]
    pub namespace: Scalar<'a>,
    #[serde(borrow, default)]
    pub valid_namespace: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_size: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_objects: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_mpu_size: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_mpu_parts: Scalar<'a>,
    #[serde(borrow, default)]
    pub uptodate_till: Scalar<'a>,
    #[serde(borrow, default)]
    pub bucket_billing_info: List<BucketInfo<'a>>,
    #[serde(borrow, default)]
    pub next_marker: Scalar<'a>,
    #[serde(rename = "NextMarker", borrow, default)]
    pub next_marker_xml: Scalar<'a>,
    #[serde(borrow, default)]
    pub namespace_billing_info: Seen<List<InfoItem<'a>>>,
}

/// The traffic figures of a namespace or a bucket over a sample window.
#[derive(Debug, Deserialize)]
pub struct BucketSample<'a> {
    #[serde(borrow, default)]
    pub name: Scalar<'a>,
    #[serde(borrow, default)]
    pub ingress: Scalar<'a>,
    #[serde(borrow, default)]
    pub egress: Scalar<'a>,
    #[serde(borrow, default)]
    pub objects_created: Scalar<'a>,
    #[serde(borrow, default)]
    pub objects_deleted: Scalar<'a>,
    #[serde(borrow, default)]
    pub bytes_delta: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_size: Scalar<'a>,
}

/// A namespace of a sample answer, or a page of its buckets, or (XML-shaped) the wrapper
/// of the namespaces (`namespace_billing_sample`).
#[derive(Debug, Deserialize)]
pub struct SampleItem<'a> {
    #[serde(borrow, default)]
    pub namespace: Scalar<'a>,
    #[serde(borrow, default)]
    pub valid_namespace: Scalar<'a>,
    #[serde(borrow, default)]
    pub sample_end_time: Scalar<'a>,
    #[serde(borrow, default)]
    pub ingress: Scalar<'a>,
    #[serde(borrow, default)]
    pub egress: Scalar<'a>,
    #[serde(borrow, default)]
    pub objects_created: Scalar<'a>,
    #[serde(borrow, default)]
    pub objects_deleted: Scalar<'a>,
    #[serde(borrow, default)]
    pub bytes_delta: Scalar<'a>,
    #[serde(borrow, default)]
    pub total_size: Scalar<'a>,
    #[serde(borrow, default)]
    pub bucket_billing_sample: List<BucketSample<'a>>,
    #[serde(borrow, default)]
    pub next_marker: Scalar<'a>,
    #[serde(rename = "NextMarker", borrow, default)]
    pub next_marker_xml: Scalar<'a>,
    #[serde(borrow, default)]
    pub namespace_billing_sample: Seen<List<SampleItem<'a>>>,
}

/// The object of a bulk info answer: the list under one of its names.
#[derive(Debug, Deserialize)]
pub struct InfoTop<'a> {
    #[serde(borrow, default)]
    pub namespace_billing_infos: Seen<List<InfoItem<'a>>>,
    #[serde(borrow, default)]
    pub namespace_billing_info_infos: Seen<List<InfoItem<'a>>>,
    #[serde(borrow, default)]
    pub namespace_billing_info: Seen<List<InfoItem<'a>>>,
}

/// The object of a bulk sample answer.
#[derive(Debug, Deserialize)]
pub struct SampleTop<'a> {
    #[serde(borrow, default)]
    pub namespace_billing_samples: Seen<List<SampleItem<'a>>>,
    #[serde(borrow, default)]
    pub namespace_billing_sample_infos: Seen<List<SampleItem<'a>>>,
    #[serde(borrow, default)]
    pub namespace_billing_sample: Seen<List<SampleItem<'a>>>,
}

/// The namespaces of a bulk answer, whichever way it holds them: under `<root>s` (info)
/// or `<root>_infos` (samples), whichever comes first of the two that is present; as a
/// list there, or an object wrapping the list under `<root>` (XML-shaped), or a single
/// namespace; else under `<root>` itself.
pub fn bulk_items<I>(
    lists: [Seen<List<I>>; 2],
    root: Seen<List<I>>,
    wrapped: impl Fn(&I) -> bool,
    unwrap: impl FnOnce(I) -> List<I>,
) -> Vec<Option<I>> {
    let [first, second] = lists;
    let chosen = match (first, second) {
        (Seen::Present(l), _) | (Seen::Absent, Seen::Present(l)) => Some(l),
        (Seen::Absent, Seen::Absent) => None,
    };
    match chosen {
        Some(List::Many(items)) => items,
        Some(List::One(o)) if wrapped(&o) => unwrap(*o).into_items(),
        Some(List::One(o)) => vec![Some(*o)],
        Some(List::No) | None => match root {
            Seen::Present(l) => l.into_items(),
            Seen::Absent => Vec::new(),
        },
    }
}
