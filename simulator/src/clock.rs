//! The simulator's clock: real time plus an offset that tests and the admin endpoint can
//! move forward, so billing samples grow without waiting five minutes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::SystemTime;

use crate::timefmt::secs;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Seconds since the epoch, as the simulated cluster sees them.
    pub fn now(&self) -> i64 {
        secs(SystemTime::now()) + self.offset.load(Ordering::Relaxed)
    }

    /// Milliseconds since the epoch, simulated.
    pub fn now_ms(&self) -> i64 {
        now_ms() + self.offset.load(Ordering::Relaxed) * 1000
    }

    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }
}
