//! Audit events and alerts as OTLP log records: the record's time is the event's own
//! (ECS stamps it), its body the description, and what a reviewer filters on (who, what,
//! where) goes into attributes.

use pipeline::kv;
use pipeline::otlp::common::v1::{AnyValue, any_value};
use pipeline::otlp::logs::v1::{LogRecord, SeverityNumber};

use super::model::{Alert, Event};

fn nanos(secs: i64) -> u64 {
    u64::try_from(secs)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
}

fn body(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.to_owned())),
    })
}

/// An audit event: `event.name` `ecs.audit`, severity INFO (WARN for a privileged
/// operation).
pub fn event(e: &Event, privileged: Option<&str>, observed: u64) -> LogRecord {
    let mut attributes = vec![
        kv("ecs.audit.id", e.id.as_str()),
        kv("ecs.namespace", e.namespace.as_str()),
        kv("ecs.audit.service_type", e.service_type.as_str()),
        kv("ecs.audit.event_type", e.event_type.as_str()),
        kv("user.id", e.user.as_str()),
        kv("ecs.audit.resource", e.resource.as_str()),
    ];
    let severity = match privileged {
        Some(op) => {
            attributes.push(kv("ecs.audit.privileged_operation", op));
            SeverityNumber::Warn
        }
        None => SeverityNumber::Info,
    };
    LogRecord {
        time_unix_nano: nanos(e.time),
        observed_time_unix_nano: observed,
        severity_number: severity as i32,
        severity_text: severity_text(severity).to_owned(),
        body: body(&e.description),
        attributes,
        event_name: "ecs.audit".to_owned(),
        ..LogRecord::default()
    }
}

/// A newly raised alert: `event.name` `ecs.alert`, severity from the alert's.
pub fn alert(a: &Alert, observed: u64) -> LogRecord {
    let severity = match a.severity.as_str() {
        "CRITICAL" => SeverityNumber::Fatal,
        "ERROR" => SeverityNumber::Error,
        "WARNING" => SeverityNumber::Warn,
        _ => SeverityNumber::Info,
    };
    LogRecord {
        time_unix_nano: nanos(a.time),
        observed_time_unix_nano: observed,
        severity_number: severity as i32,
        severity_text: a.severity.clone(),
        body: body(&a.description),
        attributes: vec![
            kv("ecs.alert.id", a.id.as_str()),
            kv("ecs.alert.type", a.kind.as_str()),
            kv("ecs.alert.severity", a.severity.as_str()),
            kv("ecs.alert.symptom_code", a.symptom_code.as_str()),
            kv("ecs.alert.acknowledged", a.acknowledged),
            kv("ecs.namespace", a.namespace.as_str()),
        ],
        event_name: "ecs.alert".to_owned(),
        ..LogRecord::default()
    }
}

fn severity_text(s: SeverityNumber) -> &'static str {
    match s {
        SeverityNumber::Warn => "WARN",
        _ => "INFO",
    }
}
