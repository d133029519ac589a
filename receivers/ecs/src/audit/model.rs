//! Audit events and alerts as ECS lists them.

use serde_json::Value;

use crate::client::parse::{boolish, list, text};

/// One audit event of `/vdc/events`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    /// Unix seconds; ECS stamps events to the minute.
    pub time: i64,
    pub namespace: String,
    pub service_type: String,
    pub event_type: String,
    pub user: String,
    pub resource: String,
    pub description: String,
}

/// One page: its events, how many entries were unusable, and the next page's marker.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub skipped: usize,
    pub next: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            skipped: 0,
            next: None,
        }
    }
}

/// A string member, or a number written as one (`symptomCode` is a number).
fn field(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::Number(n) => n.to_string(),
        other => text(other).unwrap_or("").to_owned(),
    }
}

/// The list inside an answer that may wrap it (`{"auditevents": {...}}`).
fn inner<'a>(v: &'a Value, wrapper: &str) -> &'a Value {
    match v.get(wrapper) {
        Some(w) if w.is_object() => w,
        _ => v,
    }
}

fn next_marker(v: &Value, inner: &Value, current: Option<&str>) -> Option<String> {
    text(&v["NextMarker"])
        .or_else(|| text(&inner["NextMarker"]))
        .filter(|m| !m.is_empty() && Some(*m) != current)
        .map(str::to_owned)
}

impl Event {
    /// An event needs its id (to be recognised again) and its time (to be placed).
    pub fn parse(v: &Value) -> Option<Event> {
        let id = text(&v["id"])?.to_owned();
        let time = pipeline::timefmt::parse_minute(text(&v["timestamp"])?)?;
        Some(Event {
            id,
            time,
            namespace: field(v, "namespace"),
            service_type: field(v, "serviceType"),
            event_type: field(v, "eventType"),
            user: field(v, "userId"),
            resource: field(v, "resourceId"),
            description: field(v, "description"),
        })
    }

    pub fn page(v: &Value, marker: Option<&str>) -> Page<Event> {
        let i = inner(v, "auditevents");
        let mut page = Page::default();
        for e in list(i, "auditevent") {
            match Event::parse(e) {
                Some(e) => page.items.push(e),
                None => page.skipped += 1,
            }
        }
        page.next = next_marker(v, i, marker);
        page
    }
}

/// One alert of `/vdc/alerts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: String,
    pub time: i64,
    pub severity: String,
    pub kind: String,
    pub namespace: String,
    pub description: String,
    pub symptom_code: String,
    pub acknowledged: bool,
}

impl Alert {
    pub fn parse(v: &Value) -> Option<Alert> {
        Some(Alert {
            id: text(&v["id"])?.to_owned(),
            time: pipeline::timefmt::parse_minute(text(&v["timestamp"])?)?,
            severity: field(v, "severity").to_ascii_uppercase(),
            kind: field(v, "type"),
            namespace: field(v, "namespace"),
            description: field(v, "description"),
            symptom_code: field(v, "symptomCode"),
            acknowledged: boolish(&v["acknowledged"]).unwrap_or(false),
        })
    }

    pub fn page(v: &Value, marker: Option<&str>) -> Page<Alert> {
        let i = inner(v, "alerts");
        let mut page = Page::default();
        for a in list(i, "alert") {
            match Alert::parse(a) {
                Some(a) => page.items.push(a),
                None => page.skipped += 1,
            }
        }
        page.next = next_marker(v, i, marker);
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_page_is_read_with_its_marker() {
        let v = json!({"auditevent":[
            {"id":"urn:storageos:Event:1","eventType":"Created","userId":"root","serviceType":"Bucket",
             "resourceId":"b1","timestamp":"2026-11-30T05:04","namespace":"ns1","description":"Bucket Created"},
            {"id":"urn:storageos:Event:2","timestamp":"not a time"}],
            "MaxEvents":100,"NextMarker":"urn:storageos:Event:1"});
        let p = Event::page(&v, None);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.skipped, 1);
        assert_eq!(p.next.as_deref(), Some("urn:storageos:Event:1"));
        let e = &p.items[0];
        assert_eq!(
            (
                e.service_type.as_str(),
                e.event_type.as_str(),
                e.user.as_str()
            ),
            ("Bucket", "Created", "root")
        );
        assert_eq!(e.time % 60, 0);
        // A marker that does not move ends the reading.
        assert_eq!(Event::page(&v, Some("urn:storageos:Event:1")).next, None);
    }

    #[test]
    fn alerts_are_read_wrapped_or_not() {
        let a = json!({"id":"urn:storageos:Alert:1","severity":"warning","type":"RPO","timestamp":"2021-03-10T20:10:47",
            "acknowledged":false,"description":"RPO","namespace":"","symptomCode":1012});
        let wrapped = json!({"alerts":{"alert":[a.clone()]}});
        let flat = json!({"alert":[a], "MaxAlerts": 100});
        for v in [wrapped, flat] {
            let p = Alert::page(&v, None);
            assert_eq!(p.items.len(), 1);
            assert_eq!(p.items[0].severity, "WARNING");
            assert_eq!(p.items[0].symptom_code, "1012");
        }
    }
}
