//! Fuzz tests of the small parsers every scrape and answer goes through: the
//! `Authorization: Basic` header of a scrape and ECS's minute timestamps. `PROPTEST_CASES`
//! sets the number of cases (scripts/fuzz runs many more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pipeline::http_server::basic_credentials;
use pipeline::timefmt::parse_minute;
use proptest::prelude::*;

mod common;
use common::config;

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn any_authorization_header_is_read_or_refused(header in prop_oneof![
        any::<String>(),
        "(Basic|basic|BASIC|Bearer|) {0,3}[A-Za-z0-9+/=]{0,24} ?",
        any::<Vec<u8>>().prop_map(|b| format!("Basic {}", STANDARD.encode(b))),
    ]) {
        if let Some((user, password)) = basic_credentials(&header) {
            prop_assert!(user.len() + password.len() < header.len());
            prop_assert!(!user.contains(':'));
        }
    }

    /// Whatever the user (without a colon) and the password, the header a client writes
    /// reads back as them.
    #[test]
    fn basic_credentials_read_back(user in "[^:]{0,16}", password in any::<String>()) {
        let header = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        prop_assert_eq!(basic_credentials(&header), Some((user, password)));
    }

    #[test]
    fn any_timestamp_is_read_or_refused(s in prop_oneof![
        any::<String>(),
        "[+-]?[0-9]{1,20}-[+-]?[0-9]{1,3}-[+-]?[0-9]{1,3}T[+-]?[0-9]{1,20}:[+-]?[0-9]{1,20}(:[+-]?[0-9]{1,20}(\\.[0-9]{0,3})?)?Z?",
    ]) {
        if let Some(t) = parse_minute(&s) {
            // Years 1..=9999: from 0001-01-01 to the end of 9999.
            prop_assert!((-62_135_596_800..253_402_300_800).contains(&t), "{s:?} read as {t}");
        }
    }

    /// Every minute of years 1..=9999 reads back as what timefmt writes.
    #[test]
    fn minutes_read_back(t in -62_135_596_800i64 / 60..253_402_300_800i64 / 60) {
        let t = t * 60;
        prop_assert_eq!(parse_minute(&pipeline::timefmt::minute(t)), Some(t));
        prop_assert_eq!(parse_minute(&pipeline::timefmt::iso(t)), Some(t));
    }
}
