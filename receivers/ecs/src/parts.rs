//! Reads made of parts (one per namespace) that a slow or large cluster may not let a
//! cycle finish: what was read is kept and served, the parts not reached wait, and they
//! are read first next time, the longest unread first. The IAM collector and the
//! dashboard's bucket settings read this way.
//!
//! A part is *due* from the moment a cycle (or, for the bucket settings, a round of them)
//! wants it until it is read or fails; the parts still due after a run are the
//! collector's backlog, reported by the `self` receiver as
//! `ecs_otel_agent.receiver.backlog.*`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use pipeline::Backlog;
use pull::LastGood;
use tokio::time::Instant;
use tracing::Instrument;

use crate::client::ClientError;

/// What a collector keeps of a read in parts: each part's last good value, and the parts
/// due and not read yet with since when they are due.
#[derive(Debug)]
pub struct Parts<T> {
    pub kept: BTreeMap<String, LastGood<T>>,
    due: BTreeMap<String, Instant>,
}

impl<T> Default for Parts<T> {
    fn default() -> Self {
        Self {
            kept: BTreeMap::new(),
            due: BTreeMap::new(),
        }
    }
}

/// What one run read of the parts it was given.
#[derive(Debug)]
pub struct Read<T> {
    pub fresh: BTreeMap<String, T>,
    pub failed: Vec<(String, ClientError)>,
    /// Parts not started, or cut off by the deadline, before the run's cut-off: not
    /// failed, still due.
    pub postponed: usize,
}

impl<T> Parts<T> {
    /// `names` are wanted from `since` on (a part already due keeps its earlier time).
    pub fn want(&mut self, names: &[String], since: Instant) {
        for n in names {
            self.due.entry(n.clone()).or_insert(since);
        }
    }

    /// The parts due, in the order to read them: never read first, then the least
    /// recently read.
    pub fn due_oldest_first(&self) -> Vec<String> {
        let mut order: Vec<String> = self.due.keys().cloned().collect();
        order.sort_by_key(|n| self.kept.get(n).map(|k| k.read_at));
        order
    }

    /// Forgets the parts not in `names` (gone from the source): their series end.
    pub fn retain_listed(&mut self, names: &[String]) {
        self.kept.retain(|k, _| names.contains(k));
        self.due.retain(|k, _| names.contains(k));
    }

    /// Keeps a run's fresh values (read at `now`): those parts are no longer due. The
    /// failed ones stay due (they were not read: they are behind) and are handed back for
    /// the caller's rule on serving their last read.
    pub fn settle(&mut self, read: Read<T>, now: Instant) -> Vec<(String, ClientError)> {
        for (n, v) in read.fresh {
            self.due.remove(&n);
            self.kept.insert(n, LastGood::at(v, now));
        }
        read.failed
    }

    pub fn backlog(&self) -> Backlog {
        Backlog {
            parts: self.due.len() as u64,
            oldest: self.due.values().min().copied(),
        }
    }
}

/// Reads the parts `order` names, `in_flight` at a time, each in the span `span` makes
/// for it. No part starts after `cutoff`, and one whose call times out after it is
/// postponed rather than failed: the rest of the run's time is left for what comes after.
pub async fn read<T, F, Fut>(
    order: Vec<String>,
    in_flight: usize,
    cutoff: Instant,
    span: impl Fn(&str) -> tracing::Span,
    read_one: F,
) -> Read<T>
where
    T: Send + 'static,
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, ClientError>> + Send + 'static,
{
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut names = std::collections::HashMap::new();
    for name in order {
        let gate = gate.clone();
        let fut = read_one(name.clone());
        let span = span(&name);
        let task_name = name.clone();
        let handle = tasks.spawn(
            async move {
                let _permit = gate.acquire_owned().await;
                if Instant::now() >= cutoff {
                    return (name, None);
                }
                match fut.await {
                    Err(e) if e.kind() == "timeout" && Instant::now() >= cutoff => (name, None),
                    r => (name, Some(r)),
                }
            }
            .instrument(span),
        );
        names.insert(handle.id(), task_name);
    }
    let mut out = Read {
        fresh: BTreeMap::new(),
        failed: Vec::new(),
        postponed: 0,
    };
    while let Some(r) = tasks.join_next_with_id().await {
        match r {
            Ok((_, (n, Some(Ok(v))))) => {
                out.fresh.insert(n, v);
            }
            Ok((_, (n, Some(Err(e))))) => out.failed.push((n, e)),
            Ok((_, (_, None))) => out.postponed += 1,
            // A task that died still accounts for its part.
            Err(e) => {
                if let Some(n) = names.remove(&e.id()) {
                    let failed = ClientError::Setup(format!("task failed: {e}"));
                    out.failed.push((n, failed));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A run that read `fresh` and failed `failed`, settled now.
    fn settle(p: &mut Parts<u32>, fresh: &[(&str, u32)], failed: &[&str]) -> usize {
        let read = Read {
            fresh: fresh.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect(),
            failed: failed
                .iter()
                .map(|n| ((*n).to_owned(), ClientError::Setup("x".into())))
                .collect(),
            postponed: 0,
        };
        p.settle(read, Instant::now()).len()
    }

    #[tokio::test(start_paused = true)]
    async fn unread_parts_wait_and_come_first_oldest_first() {
        let mut p: Parts<u32> = Parts::default();
        let t0 = Instant::now();
        p.want(&names(&["a", "b", "c"]), t0);
        assert_eq!(
            p.backlog(),
            Backlog {
                parts: 3,
                oldest: Some(t0)
            }
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(settle(&mut p, &[("b", 2)], &[]), 0);
        // Never read before the ones read.
        p.want(&names(&["a", "b", "c"]), Instant::now());
        assert_eq!(p.due_oldest_first()[2], "b");
        let b = p.backlog();
        assert_eq!(
            (b.parts, b.oldest),
            (3, Some(t0)),
            "a and c still wait since t0"
        );
        assert_eq!(b.age(Instant::now()), Duration::from_secs(10));
        p.retain_listed(&names(&["a", "b"]));
        assert_eq!(p.due_oldest_first(), names(&["a", "b"]));
        assert_eq!(settle(&mut p, &[("a", 1)], &["b"]), 1);
        assert_eq!(p.kept["b"].value, 2, "a failed part keeps its last read");
        assert_eq!(p.backlog().parts, 1, "and is still due");
        settle(&mut p, &[("b", 3)], &[]);
        assert_eq!(p.backlog(), Backlog::default());
        assert_eq!(p.backlog().age(Instant::now()), Duration::ZERO);
    }
}
