//! Requests encoded once and sent as bytes.
//!
//! The generated clients take the request as a message and encode it on each attempt, so a
//! request that may be retried must be kept as a message and cloned per attempt: about
//! three times its encoded size, twice (a 4 MiB request held 25 MB). Encoded while it is
//! cut from the batch (`split::draft`), a request is its 4 MiB of bytes, shared by every
//! attempt. The bytes on the wire are the same: [`Encoded`] writes back exactly the bytes
//! it was given.

use std::fmt;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use prost::Message;
use prost::encoding::{DecodeContext, WireType, skip_field};
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

/// An encoded protobuf message: cheap to clone, encodes to its own bytes.
#[derive(Clone, Default, PartialEq)]
pub struct Encoded(Bytes);

impl Encoded {
    pub fn new(message: &impl Message) -> Self {
        Encoded(Bytes::from(message.encode_to_vec()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Bytes that are already one encoded message.
impl From<Vec<u8>> for Encoded {
    fn from(bytes: Vec<u8>) -> Self {
        Encoded(Bytes::from(bytes))
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Encoded({} bytes)", self.0.len())
    }
}

impl Message for Encoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    /// Never decoded: the agent only sends these.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// The service methods the agent calls.
pub const METRICS_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
pub const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// One unary gRPC call of `path` with an encoded request, as the generated clients make it.
pub async fn unary<R>(
    channel: Channel,
    compression: Option<CompressionEncoding>,
    path: &'static str,
    request: tonic::Request<Encoded>,
) -> Result<R, tonic::Status>
where
    R: Message + Default + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(16 << 20);
    if let Some(c) = compression {
        grpc = grpc.send_compressed(c).accept_compressed(c);
    }
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(format!("Service was not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<Encoded, R>::default();
    grpc.unary(request, PathAndQuery::from_static(path), codec)
        .await
        .map(tonic::Response::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
    use pipeline::{MetricDesc, SnapshotBuilder, kv, resource, scope};
    use std::time::SystemTime;

    #[test]
    fn an_encoded_request_encodes_to_the_same_bytes() {
        let mut b =
            SnapshotBuilder::new(resource([kv("a", "b")]), scope("s", "1"), SystemTime::now());
        for i in 0..50i64 {
            b.gauge(&MetricDesc::new("g", "By", "G"), i, [kv("i", i)]);
        }
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![b.build().to_otlp()],
        };
        let e = Encoded::new(&req);
        assert_eq!(e.encode_to_vec(), req.encode_to_vec());
        assert_eq!(e.encoded_len(), req.encoded_len());
        // What the codec writes: length-prefixed as a field would be, too.
        assert_eq!(
            e.encode_length_delimited_to_vec(),
            req.encode_length_delimited_to_vec()
        );
    }
}
