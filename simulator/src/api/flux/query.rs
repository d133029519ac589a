//! The one Flux query form the simulator understands:
//! `from(bucket: "<db>") |> range(start: <T>[, stop: <T>]) |> filter(fn: (r) => r._measurement == "<m>")`,
//! whitespace-tolerant, with `<T>` an RFC 3339 UTC time or a duration relative to now
//! (`-30m`, `-1h`, `-90s`, `-1h30m`).

use crate::timefmt::parse_minute;

/// A point in time with nanoseconds, as Flux bounds carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    pub secs: i64,
    pub nanos: u32,
}

impl Instant {
    pub fn at(secs: i64) -> Instant {
        Instant { secs, nanos: 0 }
    }

    /// Nanoseconds since the epoch.
    pub fn total_nanos(self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    Absolute(Instant),
    /// Seconds relative to now (negative: in the past).
    Relative(i64),
}

impl Time {
    pub fn resolve(self, now: i64) -> Instant {
        match self {
            Time::Absolute(i) => i,
            Time::Relative(d) => Instant::at(now.saturating_add(d)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub bucket: String,
    pub start: Time,
    /// None: now.
    pub stop: Option<Time>,
    pub measurement: String,
}

/// The query without whitespace outside string literals.
fn compact(flux: &str) -> String {
    let mut out = String::with_capacity(flux.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in flux.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// A string literal at the start of `s`: its value and the rest.
fn literal(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '"' => return Some((value, &body[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

fn expect<'a>(s: &'a str, prefix: &str, what: &str) -> Result<&'a str, String> {
    s.strip_prefix(prefix)
        .ok_or_else(|| format!("expected {what} ({prefix:?}) at {:?}", head(s)))
}

fn head(s: &str) -> String {
    let h: String = s.chars().take(30).collect();
    if h.is_empty() { "the end".into() } else { h }
}

pub fn parse(flux: &str) -> Result<Query, String> {
    let q = compact(flux);
    let rest = expect(&q, "from(bucket:", "from(bucket: \"…\")")?;
    let (bucket, rest) = literal(rest).ok_or("the bucket must be a string literal")?;
    let rest = expect(rest, ")", "the end of from()")?;
    let rest = expect(rest, "|>range(", "a range(start: …) stage")?;
    let rest = expect(rest, "start:", "range's start")?;
    let end = rest.find([',', ')']).ok_or("unterminated range()")?;
    let start = time(&rest[..end])?;
    let mut rest = &rest[end..];
    let mut stop = None;
    if let Some(r) = rest.strip_prefix(",stop:") {
        let end = r.find(')').ok_or("unterminated range()")?;
        stop = Some(time(&r[..end])?);
        rest = &r[end..];
    }
    let rest = expect(rest, ")", "the end of range()")?;
    let rest = expect(
        rest,
        "|>filter(fn:(r)=>r._measurement==",
        "a filter(fn: (r) => r._measurement == \"…\") stage",
    )?;
    let (measurement, rest) = literal(rest).ok_or("the measurement must be a string literal")?;
    let rest = expect(rest, ")", "the end of filter()")?;
    if !rest.is_empty() {
        return Err(format!(
            "unsupported Flux after the filter: {:?}",
            head(rest)
        ));
    }
    Ok(Query {
        bucket,
        start,
        stop,
        measurement,
    })
}

/// `<T>`: `now()`, a negative duration, or an RFC 3339 UTC time.
fn time(s: &str) -> Result<Time, String> {
    if s == "now()" {
        return Ok(Time::Relative(0));
    }
    if let Some(d) = s.strip_prefix('-') {
        return duration(d)
            .map(|secs| Time::Relative(-secs))
            .ok_or_else(|| format!("cannot parse the duration {s:?}"));
    }
    rfc3339(s)
        .map(Time::Absolute)
        .ok_or_else(|| format!("cannot parse the time {s:?} (RFC 3339 UTC or -<duration>)"))
}

/// `1h30m`, `90s`, `2d` in seconds.
fn duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// `2026-11-30T05:00:00Z`, `2026-11-30T05:00:00.25Z` (or `+00:00`).
fn rfc3339(s: &str) -> Option<Instant> {
    let body = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    // Seconds are required in RFC 3339.
    if whole.split(':').count() != 3 {
        return None;
    }
    let secs = parse_minute(whole)?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    Some(Instant { secs, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_form_with_any_spacing() {
        let q = parse(
            "from(bucket:\"monitoring_vdc\") |> range(start: -30m) |> filter(fn: (r) => r._measurement == \"cq_performance_transaction\")",
        )
        .unwrap();
        assert_eq!(q.bucket, "monitoring_vdc");
        assert_eq!(q.start, Time::Relative(-1800));
        assert_eq!(q.stop, None);
        assert_eq!(q.measurement, "cq_performance_transaction");
        let q = parse(
            " from( bucket: \"monitoring_op\" )\n  |> range(start: 2026-11-30T05:00:00Z, stop: 2026-11-30T05:30:00.5Z)\n  |> filter(fn: (r) => r._measurement == \"cpu\")\n",
        )
        .unwrap();
        assert_eq!(q.start, Time::Absolute(Instant::at(1_796_014_800)));
        assert_eq!(
            q.stop,
            Some(Time::Absolute(Instant {
                secs: 1_796_016_600,
                nanos: 500_000_000
            }))
        );
    }

    #[test]
    fn durations_and_refusals() {
        assert_eq!(duration("1h30m"), Some(5400));
        assert_eq!(duration("90s"), Some(90));
        assert_eq!(duration("1x"), None);
        assert_eq!(duration(""), None);
        for bad in [
            "from(bucket: \"b\") |> filter(fn: (r) => r._measurement == \"m\")",
            "from(bucket: \"b\") |> range(start: -1h)",
            "from(bucket: \"b\") |> range(start: yesterday) |> filter(fn: (r) => r._measurement == \"m\")",
            "from(bucket: \"b\") |> range(start: 2026-11-30T05:00Z) |> filter(fn: (r) => r._measurement == \"m\")",
            "from(bucket: \"b\") |> range(start: -1h) |> filter(fn: (r) => r._measurement == \"m\") |> yield()",
            "select * from cpu",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
