//! The audit collector's metrics. Its log records are described in docs/AUDIT.md.

use pipeline::typed_metric;

typed_metric!(
    EVENTS,
    Counter,
    "emcecs.audit.events",
    "{event}",
    ["namespace", "service_type", "event_type"],
    "GET /vdc/events",
    "Audit events read since the agent started (each once, recognised by its id), by namespace, service type and event type"
);
typed_metric!(
    PRIVILEGED,
    Counter,
    "emcecs.namespace.privileged_operations",
    "{operation}",
    ["namespace", "operation"],
    "GET /vdc/events (mapped as docs/AUDIT.md says)",
    "Privileged operations (deletions, policy, ACL and retention changes, users, keys, authentication providers) among the audit events, by namespace"
);
typed_metric!(
    ALERTS_RAISED,
    Counter,
    "emcecs.alerts.raised",
    "{alert}",
    ["severity"],
    "GET /vdc/alerts",
    "Alerts raised since the agent started (each once), by severity"
);
typed_metric!(
    LAG,
    Gauge,
    "emcecs.audit.lag",
    "s",
    [],
    "the collector",
    "Age of the oldest point up to which every namespace's events are read: how far behind the audit collector is"
);
typed_metric!(
    GAP,
    Counter,
    "emcecs.audit.gap",
    "s",
    [],
    "the collector",
    "Seconds of audit events never asked for, because the agent was stopped longer than max_catch_up"
);
