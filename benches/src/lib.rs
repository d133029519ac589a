//! Data shared by the benches and the scale harness: the same series held by our
//! exporter and by the opentelemetry-prometheus bridge (architecture decision 1), so that
//! both are measured on identical content.

pub mod ecs;

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use pipeline::{Batch, MetricDesc, SnapshotBuilder, kv, resource, scope};

/// Gauges per data set; each holds `series / GAUGES` series with three labels (bucket-like
/// series: the shape of a large ECS snapshot).
pub const GAUGES: usize = 10;

const NAMES: [&str; GAUGES] = [
    "bench.bucket.storage",
    "bench.bucket.objects",
    "bench.bucket.mpu",
    "bench.bucket.mpu.parts",
    "bench.bucket.ingress",
    "bench.bucket.egress",
    "bench.bucket.cost",
    "bench.bucket.quota",
    "bench.bucket.versions",
    "bench.bucket.retention",
];

fn labels(i: usize) -> (String, String, &'static str) {
    (
        format!("namespace-{:04}", i / 20),
        format!("bucket-{i:06}"),
        "vdc1",
    )
}

/// One receiver snapshot with `series` gauge points.
pub fn otlp_batch(series: usize) -> Batch {
    let mut b = SnapshotBuilder::new(
        resource([
            kv("service.name", "ecs"),
            kv("service.instance.id", "cluster-1"),
        ]),
        scope("bench", "1"),
        SystemTime::now(),
    );
    let per = series / GAUGES;
    for (g, name) in NAMES.iter().enumerate() {
        let desc = MetricDesc::new(name, "By", "A bench gauge");
        for i in 0..per {
            let (ns, bucket, vdc) = labels(i);
            b.gauge(
                &desc,
                (i * (g + 1)) as i64,
                [kv("namespace", ns), kv("bucket", bucket), kv("vdc", vdc)],
            );
        }
    }
    Batch::new("ecs/bench".into(), vec![b.build()])
}

/// The same series behind the SDK's observable gauges and the opentelemetry-prometheus
/// bridge; a scrape is `registry.gather()` plus the text encoder.
pub struct Bridge {
    _provider: SdkMeterProvider,
    pub registry: prometheus::Registry,
}

impl Bridge {
    pub fn new(series: usize) -> Bridge {
        let registry = prometheus::Registry::new();
        let exporter = match opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
        {
            Ok(e) => e,
            Err(e) => panic!("bridge exporter: {e}"),
        };
        // The SDK keeps 2000 series per metric by default and folds the rest into one
        // overflow series; lift the limit so the bridge really holds every series.
        let limit = series / GAUGES + 1;
        let provider = SdkMeterProvider::builder()
            .with_reader(exporter)
            .with_view(move |_: &opentelemetry_sdk::metrics::Instrument| {
                opentelemetry_sdk::metrics::Stream::builder()
                    .with_cardinality_limit(limit)
                    .build()
                    .ok()
            })
            .build();
        let meter = provider.meter("bench");
        let per = series / GAUGES;
        let sets: Arc<Vec<Vec<KeyValue>>> = Arc::new(
            (0..per)
                .map(|i| {
                    let (ns, bucket, vdc) = labels(i);
                    vec![
                        KeyValue::new("namespace", ns),
                        KeyValue::new("bucket", bucket),
                        KeyValue::new("vdc", vdc),
                    ]
                })
                .collect(),
        );
        for (g, name) in NAMES.iter().enumerate() {
            let sets = sets.clone();
            let _gauge = meter
                .i64_observable_gauge(name.to_string())
                .with_unit("By")
                .with_description("A bench gauge")
                .with_callback(move |obs| {
                    for (i, attrs) in sets.iter().enumerate() {
                        obs.observe((i * (g + 1)) as i64, attrs);
                    }
                })
                .build();
        }
        Bridge {
            _provider: provider,
            registry,
        }
    }

    pub fn scrape(&self) -> Vec<u8> {
        use prometheus::Encoder;
        let families = self.registry.gather();
        let mut buf = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&families, &mut buf) {
            panic!("encode: {e}");
        }
        buf
    }
}

/// (current, peak) resident memory of this process in bytes, from /proc/self/status.
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
