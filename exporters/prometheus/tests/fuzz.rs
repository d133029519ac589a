//! Fuzz test of the `/metrics` basic-auth check: any `Authorization` value is refused or
//! accepted, never a panic, and only the right password passes. `PROPTEST_CASES` sets the
//! number of cases (scripts/fuzz runs many more).
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
