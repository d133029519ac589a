//! Dates as ECS writes and reads them: `2015-04-13T08:26:00Z` out, `2015-04-13T08:25`
//! (billing sample bounds) in, UTC months for billing periods. Civil-date arithmetic, no
//! time-zone database needed. Shared by the simulator and the ECS receiver.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch.
pub fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

pub fn from_secs(s: i64) -> SystemTime {
    if s >= 0 {
        UNIX_EPOCH + Duration::from_secs(s as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(s.unsigned_abs())
    }
}

/// `yyyy-MM-dd'T'HH:mm:ss'Z'`
pub fn iso(t: i64) -> String {
    let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `yyyy-MM-dd'T'HH:mm:ss` without a zone (as /vdc/alerts writes its timestamps).
pub fn iso_local(t: i64) -> String {
    let s = iso(t);
    s.trim_end_matches('Z').to_owned()
}

/// Parses `YYYY-MM-DDTHH:MM` (also accepting `:SS` and a trailing `Z`).
pub fn parse_minute(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T')?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    // Years outside 1..=9999 are nonsense here, and would overflow the arithmetic.
    if dp.next().is_some()
        || !(1..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let mut tp = time.split(':');
    // Unsigned: a negative hour or minute is no time of day, and `-9223372036854775808`
    // would overflow the arithmetic below.
    let hh: u32 = tp.next()?.parse().ok()?;
    let mm: u32 = tp.next()?.parse().ok()?;
    // Seconds may carry a fraction (`11.957`), which is dropped.
    let ss: u32 = match tp.next() {
        Some(x) => x.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if tp.next().is_some() || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + i64::from(hh * 3600 + mm * 60 + ss))
}

/// `YYYY-MM-DDTHH:MM`, the form of billing sample bounds.
pub fn minute(t: i64) -> String {
    let s = iso(t);
    s[..16].to_owned()
}

/// The first second of the UTC month holding `t`.
pub fn month_start(t: i64) -> i64 {
    let (y, m, _) = civil_from_days(t.div_euclid(86_400));
    days_from_civil(y, m, 1) * 86_400
}

/// The first second of the UTC month after the one holding `t`.
pub fn next_month_start(t: i64) -> i64 {
    let (y, m, _) = civil_from_days(t.div_euclid(86_400));
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(y, m, 1) * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_428_913_560), "2015-04-13T08:26:00Z");
        assert_eq!(parse_minute("2015-04-13T08:26"), Some(1_428_913_560));
        assert_eq!(parse_minute("2015-04-13T08:26:00Z"), Some(1_428_913_560));
        assert_eq!(parse_minute("2024-02-29T23:55"), Some(1_709_250_900));
        assert_eq!(parse_minute("2015-13-01T00:00"), None);
        assert_eq!(parse_minute("yesterday"), None);
        assert_eq!(parse_minute("99999999999999999-01-01T00:00"), None);
        for t in [0i64, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_minute(&iso(t)), Some(t));
        }
        // Seconds are kept, their fraction dropped.
        assert_eq!(
            parse_minute("2015-06-15T18:39:11.957Z"),
            Some(1_434_393_551)
        );
        assert_eq!(parse_minute("2015-06-15T18:39:11"), Some(1_434_393_551));
        assert_eq!(minute(1_428_913_560), "2015-04-13T08:26");
    }

    /// Found by the fuzz test: a negative minute read as a time before year 1, and a
    /// negative hour of 19 digits overflowed (a panic in debug builds).
    #[test]
    fn negative_hours_minutes_and_seconds_are_refused() {
        assert_eq!(parse_minute("1-1-1T0:-1"), None);
        assert_eq!(parse_minute("2020-01-01T-5:00"), None);
        assert_eq!(parse_minute("2020-01-01T00:00:-1"), None);
        assert_eq!(parse_minute("2020-01-01T-9223372036854775808:00"), None);
        assert_eq!(parse_minute("2020-01-01T00:-9223372036854775808"), None);
        assert_eq!(parse_minute("1-1-1T-0:-200000000000000000"), None);
    }

    #[test]
    fn months() {
        // 2024-02-29T23:55 (a leap day).
        let t = 1_709_250_900;
        assert_eq!(iso(month_start(t)), "2024-02-01T00:00:00Z");
        assert_eq!(iso(next_month_start(t)), "2024-03-01T00:00:00Z");
        // 2025-12-31T10:00.
        let dec = 1_767_175_200;
        assert_eq!(iso(dec), "2025-12-31T10:00:00Z");
        assert_eq!(iso(next_month_start(dec)), "2026-01-01T00:00:00Z");
        // The first second of a month belongs to it: 2026-11-01T00:00.
        let first = 1_793_491_200;
        assert_eq!(iso(first), "2026-11-01T00:00:00Z");
        assert_eq!(month_start(first), first);
        assert_eq!(month_start(first - 1), 1_790_812_800);
    }
}
