//! The per-cycle span cap, as a filter of the OpenTelemetry layer: each collection cycle's
//! root span carries a counter of the spans opened under it; past the cap, new spans (and
//! the events inside them) are not recorded, only counted. The same counter gives the root
//! span the number of outbound calls the cycle made, recorded or not.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::subscriber::Interest;
use tracing::{Metadata, Span, Subscriber, span};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// The target of the scheduler's root span per collection cycle.
pub const CYCLE_TARGET: &str = "ecs_otel_agent::collect";
/// The target of a client span (`pipeline::trace::http_client_span`).
const CLIENT_TARGET: &str = "ecs_otel_agent::http";

/// What the spans under one cycle's root came to.
#[derive(Debug, Default)]
struct Cycle {
    opened: AtomicU64,
    calls: AtomicU64,
    unrecorded: AtomicU64,
}

/// A cycle's figures, read when it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleCounts {
    /// Client spans opened under the root: the outbound calls made.
    pub calls: u64,
    /// Spans not recorded: beyond the cap.
    pub unrecorded: u64,
}

/// At most `max` spans under each cycle's root.
#[derive(Debug, Clone, Copy)]
pub struct SpanCap {
    pub max: u64,
}

impl<S> Filter<S> for SpanCap
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if meta.target() == CYCLE_TARGET {
            return true;
        }
        if meta.is_event() {
            // `cx` sees only the spans this filter let through: an event inside one left
            // out stays out with it, rather than landing on an ancestor.
            return match cx.current_span().id() {
                Some(id) => cx.span(id).is_some(),
                None => true,
            };
        }
        let Some(cycle) = cx
            .lookup_current()
            .and_then(|s| s.scope().from_root().next())
            .and_then(|root| root.extensions().get::<Arc<Cycle>>().cloned())
        else {
            // Outside a cycle (the logout at shutdown): nothing to cap.
            return true;
        };
        if meta.target() == CLIENT_TARGET {
            cycle.calls.fetch_add(1, Ordering::Relaxed);
        }
        if cycle.opened.fetch_add(1, Ordering::Relaxed) < self.max {
            true
        } else {
            cycle.unrecorded.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
        // Whether a span is recorded depends on its cycle, not on its callsite.
        Interest::sometimes()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, cx: Context<'_, S>) {
        if attrs.metadata().target() == CYCLE_TARGET
            && let Some(root) = cx.span(id)
        {
            root.extensions_mut().insert(Arc::new(Cycle::default()));
        }
    }
}

/// The figures of the cycle whose root is `root`; `None` when spans are not exported.
pub fn cycle_counts(root: &Span) -> Option<CycleCounts> {
    root.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let ext = span.extensions();
        let c = ext.get::<Arc<Cycle>>()?;
        Some(CycleCounts {
            calls: c.calls.load(Ordering::Relaxed),
            unrecorded: c.unrecorded.load(Ordering::Relaxed),
        })
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;

    /// Names of the spans the capped layer saw open, and of the events it saw.
    #[derive(Default, Clone)]
    struct Seen(Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
        fn on_new_span(&self, attrs: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
            self.0
                .lock()
                .unwrap()
                .push(attrs.metadata().name().to_owned());
        }
        fn on_event(&self, e: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("event {}", e.metadata().name()));
        }
    }

    #[test]
    fn spans_past_the_cap_are_counted_not_recorded() {
        let seen = Seen::default();
        let subscriber = Registry::default().with(seen.clone().with_filter(SpanCap { max: 3 }));
        let counts = tracing::subscriber::with_default(subscriber, || {
            let root =
                tracing::info_span!(target: "ecs_otel_agent::collect", parent: None, "collect");
            root.in_scope(|| {
                for i in 0..5 {
                    let call =
                        tracing::info_span!(target: "ecs_otel_agent::http", "http.client", i);
                    call.in_scope(|| tracing::info!(target: "ecs_otel_agent::http", "inside"));
                }
                let other = tracing::info_span!(target: "ecs_otel_agent::iam", "iam.namespace");
                drop(other);
            });
            cycle_counts(&root)
        });
        assert_eq!(
            counts,
            Some(CycleCounts {
                calls: 5,
                unrecorded: 3
            })
        );
        let seen = seen.0.lock().unwrap().clone();
        assert_eq!(
            seen.iter().filter(|s| *s == "http.client").count(),
            3,
            "{seen:?}"
        );
        // Events inside the spans left out are left out too.
        assert_eq!(
            seen.iter().filter(|s| s.starts_with("event")).count(),
            3,
            "{seen:?}"
        );
        assert!(seen.contains(&"collect".to_owned()));
    }

    #[test]
    fn spans_outside_a_cycle_are_recorded() {
        let seen = Seen::default();
        let subscriber = Registry::default().with(seen.clone().with_filter(SpanCap { max: 0 }));
        tracing::subscriber::with_default(subscriber, || {
            let call = tracing::info_span!(target: "ecs_otel_agent::http", "http.client");
            assert_eq!(cycle_counts(&call), None);
        });
        assert_eq!(seen.0.lock().unwrap().len(), 1);
    }
}
