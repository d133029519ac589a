//! A circuit breaker per endpoint, so that an API that keeps failing is not hammered:
//! open after K consecutive failures, refuse calls for a cool-down, then let one probe
//! through; its success closes the breaker, its failure opens it again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight since then. A probe that never reports (its call was
    /// dropped, or never reached the endpoint) stops blocking after a cool-down.
    HalfOpen {
        since: Instant,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    Opened,
    Closed,
}

#[derive(Debug, Clone)]
pub struct Breaker {
    pub state: State,
    threshold: u32,
    cool_down: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            state: State::Closed { failures: 0 },
            threshold: threshold.max(1),
            cool_down,
        }
    }

    /// May a call go through now? `Err` carries how long until the next probe.
    pub fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        match self.state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. } => {
                self.state = State::HalfOpen { since: now };
                Ok(())
            }
            State::HalfOpen { since } if now < since + self.cool_down => {
                Err(since + self.cool_down - now)
            }
            State::HalfOpen { .. } => {
                self.state = State::HalfOpen { since: now };
                Ok(())
            }
        }
    }

    pub fn record(&mut self, success: bool, now: Instant) -> Change {
        match (self.state, success) {
            (State::Closed { .. }, true) => {
                self.state = State::Closed { failures: 0 };
                Change::None
            }
            (State::Closed { failures }, false) => {
                if failures + 1 >= self.threshold {
                    self.state = State::Open {
                        until: now + self.cool_down,
                    };
                    Change::Opened
                } else {
                    self.state = State::Closed {
                        failures: failures + 1,
                    };
                    Change::None
                }
            }
            (State::HalfOpen { .. }, true) | (State::Open { .. }, true) => {
                self.state = State::Closed { failures: 0 };
                Change::Closed
            }
            (State::HalfOpen { .. }, false) | (State::Open { .. }, false) => {
                self.state = State::Open {
                    until: now + self.cool_down,
                };
                Change::Opened
            }
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.state, State::Closed { .. })
    }
}

/// A breaker per endpoint (route) of one server, made on first use.
#[derive(Debug)]
pub struct Breakers {
    /// The server, as the logs name it.
    server: String,
    threshold: u32,
    cool_down: Duration,
    by_route: Mutex<BTreeMap<String, Breaker>>,
}

impl Breakers {
    pub fn new(server: impl Into<String>, threshold: u32, cool_down: Duration) -> Self {
        Self {
            server: server.into(),
            threshold,
            cool_down,
            by_route: Mutex::new(BTreeMap::new()),
        }
    }

    fn with<R>(&self, route: &str, f: impl FnOnce(&mut Breaker) -> R) -> R {
        let mut m = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        let b = m
            .entry(route.to_owned())
            .or_insert_with(|| Breaker::new(self.threshold, self.cool_down));
        f(b)
    }

    /// May a call to `route` go through now? `Err` carries how long until the next probe.
    pub fn admit(&self, route: &str) -> Result<(), Duration> {
        self.with(route, |b| b.admit(Instant::now()))
    }

    /// Records the outcome of a call to `route`, and logs the breaker opening or closing.
    pub fn record(&self, route: &str, success: bool) -> Change {
        let change = self.with(route, |b| b.record(success, Instant::now()));
        match change {
            Change::Opened => {
                tracing::warn!(endpoint = %self.server, route, cool_down = ?self.cool_down, "circuit opened: the endpoint keeps failing; calls are refused until a probe succeeds")
            }
            Change::Closed => {
                tracing::info!(endpoint = %self.server, route, "circuit closed: the endpoint answers again")
            }
            Change::None => {}
        }
        change
    }

    /// The routes whose breaker is open (or probing), in order.
    pub fn open(&self) -> Vec<String> {
        let m = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        m.iter()
            .filter(|(_, b)| b.is_open())
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_k_failures_probes_after_cool_down_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            assert!(b.admit(t0).is_ok());
            assert_eq!(b.record(false, t0), Change::None);
        }
        assert!(b.admit(t0).is_ok());
        assert_eq!(b.record(false, t0), Change::Opened);
        assert_eq!(
            b.admit(t0 + Duration::from_secs(5)),
            Err(Duration::from_secs(5))
        );
        // After the cool-down: exactly one probe.
        let later = t0 + Duration::from_secs(11);
        assert!(b.admit(later).is_ok());
        assert!(b.admit(later).is_err(), "a second probe must wait");
        assert_eq!(b.record(true, later), Change::Closed);
        assert!(b.admit(later).is_ok());
    }

    #[test]
    fn a_failed_probe_opens_again() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, Duration::from_secs(10));
        b.record(false, t0);
        let later = t0 + Duration::from_secs(10);
        assert!(b.admit(later).is_ok());
        assert_eq!(b.record(false, later), Change::Opened);
        assert!(b.admit(later + Duration::from_secs(9)).is_err());
    }

    #[test]
    fn successes_reset_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(10));
        b.record(false, t0);
        b.record(true, t0);
        assert_eq!(b.record(false, t0), Change::None);
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;

    #[test]
    fn a_probe_that_never_reports_stops_blocking_after_a_cool_down() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, Duration::from_secs(10));
        b.record(false, t0);
        let probe = t0 + Duration::from_secs(10);
        assert!(b.admit(probe).is_ok());
        // The probe's call was dropped: nothing recorded.
        assert_eq!(
            b.admit(probe + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        assert!(
            b.admit(probe + Duration::from_secs(10)).is_ok(),
            "a new probe"
        );
        assert_eq!(
            b.record(true, probe + Duration::from_secs(10)),
            Change::Closed
        );
    }
}

#[cfg(test)]
mod per_route_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_route_has_its_own_breaker() {
        let b = Breakers::new("https://api:443", 2, Duration::from_secs(30));
        assert_eq!(b.record("/a", false), Change::None);
        assert_eq!(b.record("/a", false), Change::Opened);
        assert!(b.admit("/a").is_err());
        assert!(b.admit("/b").is_ok(), "another route is not held up");
        assert_eq!(b.open(), ["/a"]);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(b.admit("/a").is_ok(), "the probe");
        assert_eq!(b.record("/a", true), Change::Closed);
        assert!(b.open().is_empty());
    }
}
