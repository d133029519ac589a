//! What the property tests share.

use proptest::prelude::ProptestConfig;

/// The default case count unless `PROPTEST_CASES` says otherwise; no regression files
/// written into the source tree (a failure prints its input, which becomes a test).
pub fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c.failure_persistence = None;
    c
}
