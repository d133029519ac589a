//! Which range a measurement's next query asks for, and which of its rows are new.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::flux::Row;

/// The longest range ECS answers ("due to resource limits").
pub const MAX_RANGE: Duration = Duration::from_secs(3600);

/// Asked for on top of the time since the last read, so that a point ECS wrote late (or
/// a cycle that started late) is not missed; points already read are skipped.
const OVERLAP: Duration = Duration::from_secs(60);

/// How long a series' last point is remembered: well past the longest range.
const FORGET_AFTER_SECS: i64 = 2 * 3600;

#[derive(Debug, Default)]
pub struct Window {
    /// When the cycle of the last successful query started (the cycle's time, which the
    /// scheduler takes from the wall clock: a test can set it).
    last_sent: Option<SystemTime>,
    /// Each series' newest point read (Unix seconds).
    seen: HashMap<String, i64>,
}

/// The next query's range, and the time that cannot be asked for any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub range: Duration,
    pub gap: Duration,
}

impl Window {
    /// `first`: what the first query asks for (the collection interval, at least a minute);
    /// `max`: the longest range ECS accepts.
    pub fn plan(&self, now: SystemTime, first: Duration, max: Duration) -> Plan {
        let want = match self.last_sent {
            None => first,
            Some(t) => now.duration_since(t).unwrap_or(Duration::ZERO) + OVERLAP,
        };
        if want <= max {
            return Plan {
                range: want,
                gap: Duration::ZERO,
            };
        }
        Plan {
            range: max,
            // The overlap was read last time: only what lies beyond it is lost.
            gap: match self.last_sent {
                Some(_) => (want - OVERLAP).saturating_sub(max),
                None => Duration::ZERO,
            },
        }
    }

    /// The rows not read before; remembers them and when their query was sent.
    pub fn take_new(&mut self, rows: Vec<Row>, sent: SystemTime) -> Vec<Row> {
        self.last_sent = Some(sent);
        let mut fresh = Vec::with_capacity(rows.len());
        let mut newest = i64::MIN;
        for r in rows {
            newest = newest.max(r.time);
            let key = r.series_key();
            match self.seen.get_mut(&key) {
                Some(t) if *t >= r.time => continue,
                Some(t) => *t = r.time,
                None => {
                    self.seen.insert(key, r.time);
                }
            }
            fresh.push(r);
        }
        if newest > i64::MIN {
            self.seen.retain(|_, t| newest - *t <= FORGET_AFTER_SECS);
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: i64, field: &str) -> Row {
        Row {
            time: t,
            field: field.into(),
            value: 1.0,
            tags: vec!["S3".into()],
        }
    }

    #[test]
    fn the_first_query_asks_for_an_interval_and_the_next_since_the_last() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut w = Window::default();
        let p = w.plan(t0, Duration::from_secs(60), MAX_RANGE);
        assert_eq!(
            p,
            Plan {
                range: Duration::from_secs(60),
                gap: Duration::ZERO
            }
        );
        w.take_new(vec![], t0);
        let p = w.plan(
            t0 + Duration::from_secs(300),
            Duration::from_secs(60),
            MAX_RANGE,
        );
        assert_eq!(p.range, Duration::from_secs(360));
    }

    #[test]
    fn more_than_an_hour_away_is_a_gap_not_a_longer_range() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut w = Window::default();
        w.take_new(vec![], t0);
        let p = w.plan(
            t0 + Duration::from_secs(5400),
            Duration::from_secs(60),
            MAX_RANGE,
        );
        assert_eq!(p.range, MAX_RANGE);
        assert_eq!(p.gap, Duration::from_secs(1800));
    }

    #[test]
    fn points_already_read_are_skipped_per_series() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut w = Window::default();
        let got = w.take_new(vec![row(60, "a"), row(120, "a"), row(60, "b")], t0);
        assert_eq!(got.len(), 3);
        let got = w.take_new(
            vec![row(120, "a"), row(180, "a"), row(60, "b"), row(120, "b")],
            t0,
        );
        let times: Vec<(i64, &str)> = got.iter().map(|r| (r.time, r.field.as_str())).collect();
        assert_eq!(times, vec![(180, "a"), (120, "b")]);
    }
}
