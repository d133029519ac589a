//! Fuzz tests of the `/metrics` basic-auth check (any `Authorization` value is refused or
//! accepted, never a panic, and only the right password passes) and of rendering compact
//! snapshots (the same lines as from OTLP). `PROPTEST_CASES` sets the number of cases
//! (scripts/fuzz runs many more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use exporter_prometheus::auth::BasicAuth;
use proptest::prelude::*;

/// The default case count unless `PROPTEST_CASES` says otherwise; no regression files
/// written into the source tree (a failure prints its input, which becomes a test).
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c.failure_persistence = None;
    c
}

/// One user, `admin` / `s3cret`, hashed at bcrypt's lowest cost to keep cases cheap.
fn auth() -> &'static BasicAuth {
    static AUTH: OnceLock<BasicAuth> = OnceLock::new();
    AUTH.get_or_init(|| {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        BasicAuth::new(BTreeMap::from([("admin".to_owned(), hash)]))
    })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn any_header_is_refused_unless_it_holds_the_password(header in prop_oneof![
        any::<String>(),
        "(Basic|basic|Bearer) [A-Za-z0-9+/=]{0,16}",
        ("(admin|Admin|)", any::<String>())
            .prop_map(|(u, p)| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")))),
    ]) {
        let right = pipeline::http_server::basic_credentials(&header)
            == Some(("admin".to_owned(), "s3cret".to_owned()));
        prop_assert_eq!(auth().check(Some(&header)), right);
    }
}

#[test]
fn the_right_password_passes() {
    let header = format!("Basic {}", STANDARD.encode("admin:s3cret"));
    assert!(auth().check(Some(&header)));
    assert!(!auth().check(None));
}

/// A snapshot point for the render equivalence below: family, counter or gauge, stale, time
/// offset (a history when it goes back), value, attributes.
type Call = (usize, u8, i64, f64, Vec<(usize, usize)>);

const NAMES: [&str; 3] = ["bytes", "bytes.total", "ops"];
/// Keys that sanitize to the same label, a reserved one, and values that need escaping.
const KEYS: [&str; 5] = ["a.b", "a_b", "job", "namespace", "le"];
const VALUES: [&str; 4] = ["x", "with \"quote\"", "back\\slash", "line\nbreak"];

proptest! {
    #![proptest_config(config(256))]

    /// Rendered from the compact points or from the same snapshot as OTLP, the lines,
    /// series and counts are the same.
    #[test]
    fn compact_and_otlp_snapshots_render_the_same(
        calls in proptest::collection::vec(
            (0..NAMES.len(), 0u8..3, 0i64..3, -2.0f64..2.0,
             proptest::collection::vec((0..KEYS.len(), 0..VALUES.len()), 0..3)),
            0..40),
        limit in 1usize..20,
        timestamps in any::<bool>(),
    ) {
        use exporter_prometheus::render::{RenderOptions, render};
        use pipeline::{Batch, MetricDesc, SnapshotBuilder, kv, resource, scope};
        use std::time::{Duration, UNIX_EPOCH};

        let t0 = UNIX_EPOCH + Duration::from_secs(1_781_524_950);
        let mut b = SnapshotBuilder::new(
            resource([kv("service.name", "ecs"), kv("service.instance.id", "c1")]),
            scope("s", "1"),
            t0,
        );
        for (name, kind, back, value, attrs) in &calls as &Vec<Call> {
            let d = MetricDesc::new(NAMES[*name], "By", "a family");
            let attrs: Vec<_> = attrs.iter().map(|&(k, v)| kv(KEYS[k], VALUES[v])).collect();
            let at = t0 - Duration::from_secs(60 * *back as u64);
            match kind {
                0 => b.gauge_at(&d, *value, attrs, at),
                1 => b.gauge_stale(&d, attrs),
                _ => b.counter(&d, *value, UNIX_EPOCH, attrs),
            }
        }
        let compact = Batch::new("r".into(), vec![b.build()]);
        let otlp = Batch::new(
            "r".into(),
            compact.resource_metrics.iter().map(|r| r.to_otlp().into()).collect(),
        );
        let opts = RenderOptions {
            max_series_per_metric: limit,
            send_timestamps: timestamps,
            ..RenderOptions::default()
        };
        let hasher = std::collections::hash_map::RandomState::new();
        let (a, b) = (render(&compact, &opts, &hasher), render(&otlp, &opts, &hasher));
        prop_assert_eq!(format!("{:?}", a.families), format!("{:?}", b.families));
        prop_assert_eq!(a.series, b.series);
        prop_assert_eq!(&a.overflow, &b.overflow);
        prop_assert_eq!(&a.dropped, &b.dropped);
    }
}
