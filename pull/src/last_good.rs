//! The last good answer of a read, served through a few failed cycles so that one failed
//! call does not end a series, then dropped so that a source gone for good does not report
//! stale figures forever.

use tokio::time::Instant;

/// A value kept with the time it was read and the failed cycles it has been served
/// through. The fields are there to be read; a fresh answer goes through [`refresh`]
/// (or [`new`]) and a failed cycle through [`fail`].
///
/// [`refresh`]: LastGood::refresh
/// [`new`]: LastGood::new
/// [`fail`]: LastGood::fail
#[derive(Debug, Clone, PartialEq)]
pub struct LastGood<T> {
    pub value: T,
    /// When `value` was read.
    pub read_at: Instant,
    /// Failed cycles it has been served through since.
    pub failures: u32,
}

/// What a failed cycle does to a kept value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Failed {
    /// Still served: this is its `n`-th failed cycle.
    Served(u32),
    /// Served through `keep` failed cycles already: drop it.
    Expired,
}

impl<T> LastGood<T> {
    /// A value read just now.
    pub fn new(value: T) -> Self {
        Self::at(value, Instant::now())
    }

    pub fn at(value: T, read_at: Instant) -> Self {
        Self {
            value,
            read_at,
            failures: 0,
        }
    }

    /// A fresh answer replaces the value and resets the count.
    pub fn refresh(&mut self, value: T) {
        *self = Self::new(value);
    }

    /// A failed cycle: the value is served while it has been served through fewer than
    /// `keep` failed cycles (counting this one), else it expired and the caller drops it.
    pub fn fail(&mut self, keep: u32) -> Failed {
        if self.failures < keep {
            self.failures += 1;
            Failed::Served(self.failures)
        } else {
            Failed::Expired
        }
    }

    /// Whether the value was read in the latest cycle (no failure since).
    pub fn is_fresh(&self) -> bool {
        self.failures == 0
    }
}

/// A failed cycle for the value kept under `key` in `map`: it is dropped when expired.
/// `None` when nothing was kept.
pub fn fail_in<K, Q, T>(
    map: &mut std::collections::BTreeMap<K, LastGood<T>>,
    key: &Q,
    keep: u32,
) -> Option<Failed>
where
    K: std::borrow::Borrow<Q> + Ord,
    Q: Ord + ?Sized,
{
    let failed = map.get_mut(key)?.fail(keep);
    if failed == Failed::Expired {
        map.remove(key);
    }
    Some(failed)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    #[test]
    fn served_through_keep_failed_cycles_then_expired() {
        let mut k = LastGood::new("v");
        assert!(k.is_fresh());
        assert_eq!(k.fail(2), Failed::Served(1));
        assert_eq!(k.fail(2), Failed::Served(2));
        assert_eq!(k.fail(2), Failed::Expired);
        assert_eq!(k.failures, 2, "an expired value is not counted further");
        assert_eq!(
            LastGood::new(1).fail(0),
            Failed::Expired,
            "keep 0: never served"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_answer_replaces_and_resets() {
        let mut k = LastGood::new(1);
        let first = k.read_at;
        let _ = k.fail(3);
        tokio::time::advance(Duration::from_secs(5)).await;
        k.refresh(2);
        assert_eq!((k.value, k.failures), (2, 0));
        assert_eq!(k.read_at - first, Duration::from_secs(5));
        assert_eq!(k.fail(1), Failed::Served(1), "the count starts again");
    }

    #[test]
    fn in_a_map_an_expired_value_leaves() {
        let mut m = BTreeMap::from([("a".to_owned(), LastGood::new(1))]);
        assert_eq!(fail_in(&mut m, "a", 1), Some(Failed::Served(1)));
        assert_eq!(m["a"].value, 1);
        assert_eq!(fail_in(&mut m, "a", 1), Some(Failed::Expired));
        assert!(m.is_empty());
        assert_eq!(fail_in(&mut m, "a", 1), None);
    }
}
