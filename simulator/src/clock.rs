//! The simulator's clock: real time plus an offset that tests and the admin endpoint can
//! move forward, so billing samples grow without waiting five minutes. A frozen clock
//! (`SimConfig.frozen_at`) stands still at a chosen second and moves only when told:
//! every figure the model derives from time is then the same on every run, which golden
//! files and exact value tests need.

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
    /// When frozen, the second it stands at (before `offset`).
    frozen_at: Option<i64>,
}

impl Clock {
    /// A clock that stands at `at` (seconds since the epoch) until advanced.
    pub fn frozen(at: i64) -> Self {
        Self {
            offset: AtomicI64::new(0),
            frozen_at: Some(at),
        }
    }

    /// Seconds since the epoch, as the simulated cluster sees them.
    pub fn now(&self) -> i64 {
        self.frozen_at.unwrap_or_else(|| secs(SystemTime::now()))
            + self.offset.load(Ordering::Relaxed)
    }

    /// Milliseconds since the epoch, simulated.
    pub fn now_ms(&self) -> i64 {
        self.frozen_at.map_or_else(now_ms, |s| s * 1000)
            + self.offset.load(Ordering::Relaxed) * 1000
    }

    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let c = Clock::frozen(1_750_000_000);
        assert_eq!(c.now(), 1_750_000_000);
        assert_eq!(c.now_ms(), 1_750_000_000_000);
        c.advance(300);
        assert_eq!(c.now(), 1_750_000_300);
        assert!(c.is_frozen());
        assert!(!Clock::default().is_frozen());
    }
}
