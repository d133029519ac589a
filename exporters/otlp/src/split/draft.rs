//! A request while it is cut, with every data point encoded as soon as it is taken: a
//! 4 MiB request held as OTLP messages took about 14 MB until it was encoded (a billing
//! cycle's memory peak); as bytes it takes its size. The bytes are those prost gives for
//! the whole message — fields in the order prost writes them, defaults left out — which
//! the tests check by decoding and encoding each request again.

use pipeline::otlp::common::v1::InstrumentationScope;
use pipeline::otlp::metrics::v1::{Metric, metric::Data};
use pipeline::otlp::resource::v1::Resource;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len, message};

#[derive(Default)]
pub(super) struct Draft {
    pub resources: Vec<DraftResource>,
}

pub(super) struct DraftResource {
    pub resource: Option<Resource>,
    pub schema_url: String,
    pub scopes: Vec<DraftScope>,
}

pub(super) struct DraftScope {
    pub scope: Option<InstrumentationScope>,
    pub schema_url: String,
    pub metrics: Vec<DraftMetric>,
}

/// A metric's name, description, unit and type, and its points as encoded `data_points`
/// fields.
pub(super) struct DraftMetric {
    /// Name, description, unit and metadata, encoded: prost writes them before the data.
    head: Vec<u8>,
    /// The data's field number in `Metric` (5 gauge, 7 sum, 9 histogram, 10 exponential
    /// histogram, 11 summary), none for a metric without data.
    tag: Option<u32>,
    points: Vec<u8>,
    /// The data message's fields after `data_points` (temporality, monotonicity).
    rest: Vec<u8>,
}

impl DraftMetric {
    pub fn new(mut part: Metric) -> Self {
        let mut points = Vec::new();
        encode_points(&mut part.data, &mut points);
        let tag = data_tag(&part.data);
        let rest = match &part.data {
            None => Vec::new(),
            // `data_points` is field 1 of every data message, written first; with the points
            // taken out, what the message encodes to is what follows them.
            Some(Data::Gauge(g)) => g.encode_to_vec(),
            Some(Data::Sum(x)) => x.encode_to_vec(),
            Some(Data::Histogram(h)) => h.encode_to_vec(),
            Some(Data::ExponentialHistogram(h)) => h.encode_to_vec(),
            Some(Data::Summary(x)) => x.encode_to_vec(),
        };
        let head = Metric { data: None, ..part }.encode_to_vec();
        Self {
            head,
            tag,
            points,
            rest,
        }
    }

    /// Appends the points of the next part of the same family; `part` back if its type
    /// differs (a family keeps its type, so it does not happen).
    pub fn extend(&mut self, mut part: Metric) -> Option<Metric> {
        if data_tag(&part.data) != self.tag {
            return Some(part);
        }
        encode_points(&mut part.data, &mut self.points);
        None
    }

    fn data_len(&self) -> usize {
        self.points.len() + self.rest.len()
    }
}

/// The field number of a metric's data in `Metric`.
fn data_tag(data: &Option<Data>) -> Option<u32> {
    match data {
        None => None,
        Some(Data::Gauge(_)) => Some(5),
        Some(Data::Sum(_)) => Some(7),
        Some(Data::Histogram(_)) => Some(9),
        Some(Data::ExponentialHistogram(_)) => Some(10),
        Some(Data::Summary(_)) => Some(11),
    }
}

/// A part of the request already in (or cheaply turned into) its encoding.
trait Part {
    fn encoded_len(&self) -> usize;
    fn encode(&self, buf: &mut Vec<u8>);
}

impl Part for DraftMetric {
    fn encoded_len(&self) -> usize {
        self.head.len()
            + self.tag.map_or(0, |t| {
                key_len(t) + encoded_len_varint(self.data_len() as u64) + self.data_len()
            })
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.head);
        if let Some(tag) = self.tag {
            encode_key(tag, WireType::LengthDelimited, buf);
            encode_varint(self.data_len() as u64, buf);
            buf.extend_from_slice(&self.points);
            buf.extend_from_slice(&self.rest);
        }
    }
}

/// Moves the data points out of `data` (left with none) into `out`, encoded as field 1.
fn encode_points(data: &mut Option<Data>, out: &mut Vec<u8>) {
    match data {
        None => {}
        Some(Data::Gauge(g)) => each(std::mem::take(&mut g.data_points), out),
        Some(Data::Sum(s)) => each(std::mem::take(&mut s.data_points), out),
        Some(Data::Histogram(h)) => each(std::mem::take(&mut h.data_points), out),
        Some(Data::ExponentialHistogram(h)) => each(std::mem::take(&mut h.data_points), out),
        Some(Data::Summary(s)) => each(std::mem::take(&mut s.data_points), out),
    }
}

fn each<P: Message>(points: Vec<P>, out: &mut Vec<u8>) {
    for p in &points {
        message::encode(1, p, out);
    }
}

/// A length-delimited field's key and length.
fn field_head(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// `ResourceMetrics` and `ScopeMetrics` have one shape: an optional message (field 1), the
/// parts within (field 2), the schema URL (field 3).
fn envelope_len<H: Message>(head: Option<&H>, parts: &[impl Part], schema_url: &str) -> usize {
    head.map_or(0, |h| message::encoded_len(1, h))
        + parts
            .iter()
            .map(|p| field_len(2, p.encoded_len()))
            .sum::<usize>()
        + if schema_url.is_empty() {
            0
        } else {
            field_len(3, schema_url.len())
        }
}

fn envelope_encode<H: Message>(
    head: Option<&H>,
    parts: &[impl Part],
    schema_url: &str,
    buf: &mut Vec<u8>,
) {
    if let Some(h) = head {
        message::encode(1, h, buf);
    }
    for p in parts {
        field_head(2, p.encoded_len(), buf);
        p.encode(buf);
    }
    if !schema_url.is_empty() {
        field_head(3, schema_url.len(), buf);
        buf.extend_from_slice(schema_url.as_bytes());
    }
}

impl Part for DraftScope {
    fn encoded_len(&self) -> usize {
        envelope_len(self.scope.as_ref(), &self.metrics, &self.schema_url)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        envelope_encode(self.scope.as_ref(), &self.metrics, &self.schema_url, buf);
    }
}

impl Part for DraftResource {
    fn encoded_len(&self) -> usize {
        envelope_len(self.resource.as_ref(), &self.scopes, &self.schema_url)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        envelope_encode(self.resource.as_ref(), &self.scopes, &self.schema_url, buf);
    }
}

impl Draft {
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The `ExportMetricsServiceRequest`, encoded into one buffer of its exact size.
    pub fn encode(self) -> Vec<u8> {
        let lens: Vec<usize> = self
            .resources
            .iter()
            .map(DraftResource::encoded_len)
            .collect();
        let mut buf = Vec::with_capacity(lens.iter().map(|&l| field_len(1, l)).sum());
        for (r, len) in self.resources.iter().zip(lens) {
            field_head(1, len, &mut buf);
            r.encode(&mut buf);
        }
        buf
    }
}
