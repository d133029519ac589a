//! The limit of calls in flight to one server: an API that tolerates few concurrent calls
//! is never sent more, and a caller out of time stops waiting for its turn.

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The caller's deadline came before a free slot.
    #[error("no free slot before the deadline")]
    Deadline,
    #[error("client closed")]
    Closed,
}

/// At most `max` calls in flight at once.
#[derive(Debug)]
pub struct InFlight {
    permits: Semaphore,
}

/// A slot: the call is in flight until this is dropped.
pub type Slot<'a> = SemaphorePermit<'a>;

impl InFlight {
    /// `max` is at least 1: a limit of 0 would block every call.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Semaphore::new(max.max(1)),
        }
    }

    /// Waits for a free slot, until `deadline` at most.
    pub async fn acquire(&self, deadline: Option<Instant>) -> Result<Slot<'_>, LimitError> {
        tokio::select! {
            // A free slot is taken even at the deadline: the caller checks the time anyway,
            // and a caller that has a slot must not be told it has none.
            biased;
            p = self.permits.acquire() => p.map_err(|_| LimitError::Closed),
            _ = sleep_until_opt(deadline) => Err(LimitError::Deadline),
        }
    }

    /// Free slots right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_most_max_in_flight_and_a_waiter_gives_up_at_its_deadline() {
        let limit = InFlight::new(2);
        let a = limit.acquire(None).await.unwrap();
        let _b = limit.acquire(None).await.unwrap();
        assert_eq!(limit.available(), 0);
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            limit.acquire(Some(deadline)).await.err(),
            Some(LimitError::Deadline)
        );
        drop(a);
        assert!(
            limit.acquire(Some(deadline)).await.is_ok(),
            "a free slot is taken even at the deadline"
        );
    }

    #[tokio::test]
    async fn a_limit_of_zero_is_one() {
        let limit = InFlight::new(0);
        assert_eq!(limit.available(), 1);
        let _slot = limit.acquire(None).await.unwrap();
    }
}
