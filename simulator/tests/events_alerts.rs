//! Audit events (`/vdc/events`) and alerts raised at run time over HTTP: paging, required
//! parameters, the events the model's changes and background activity produce, and the
//! time window of `/vdc/alerts`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ecs_sim::timefmt::minute;
use ecs_sim::{RunningSim, SimConfig, Version};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Client, start_with};

/// 2026-11-30T05:30:30Z: the frozen clock of these tests.
const NOW: i64 = 1_796_016_630;

async fn sim(version: Version) -> RunningSim {
    start_with(SimConfig {
        frozen_at: Some(NOW),
        ..SimConfig::small(version)
    })
    .await
}

fn window(ns: &str, from: i64, to: i64) -> String {
    format!(
        "/vdc/events?namespace={ns}&start_time={}&end_time={}",
        minute(from),
        minute(to)
    )
}

fn ids(events: &Value) -> Vec<String> {
    events["auditevent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every event of a window, page by page.
async fn all_pages(c: &Client, url: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut u = format!("{url}&limit={limit}");
        if let Some(m) = &marker {
            u.push_str(&format!("&marker={}", ecs_sim::server::percent_encode(m)));
        }
        let page = c.get_json(&u).await;
        assert_eq!(page["MaxEvents"], limit);
        let items = page["auditevent"].as_array().unwrap();
        assert!(items.len() <= limit);
        out.extend(items.iter().cloned());
        match page.get("NextMarker").and_then(Value::as_str) {
            Some(m) => {
                assert_eq!(items.len(), limit, "a full page before a marker");
                marker = Some(m.to_owned());
            }
            None => return out,
        }
    }
}

#[tokio::test]
async fn events_page_through_a_window_in_the_models_order() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let (from, to) = (NOW - 86_400, NOW);
    let url = window("ns0003", from, to);
    let paged = all_pages(&c, &url, 7).await;
    let model = sim.model().audit_events("ns0003", from, to);
    assert!(
        model.len() > 30,
        "a day has about 72 events: {}",
        model.len()
    );
    assert_eq!(paged.len(), model.len());
    for (got, want) in paged.iter().zip(&model) {
        assert_eq!(
            got,
            &json!({
                "id": want.id,
                "eventType": want.event_type,
                "userId": want.user_id,
                "serviceType": want.service_type,
                "resourceId": want.resource_id,
                "timestamp": minute(want.timestamp),
                "namespace": "ns0003",
                "description": want.description,
            })
        );
    }
    // One page holds everything: no marker; the default limit is 100.
    let one = c.get_json(&url).await;
    assert_eq!(one["MaxEvents"], 100);
    assert!(one.get("NextMarker").is_none());
    assert_eq!(ids(&one).len(), model.len());
    // Seconds are accepted; bounds are inclusive at minute precision.
    let e = &model[5];
    let exact = format!(
        "/vdc/events?namespace=ns0003&start_time={}:59&end_time={}:00",
        minute(e.timestamp),
        minute(e.timestamp)
    );
    assert_eq!(ids(&c.get_json(&exact).await), vec![e.id.clone()]);
    // XML: auditevents / auditevent / MaxEvents / NextMarker.
    let xml = c.get(&format!("{url}&limit=2"), false).await;
    assert_eq!(xml.status, 200);
    assert!(
        xml.body
            .contains("<auditevents><auditevent><id>urn:storageos:Event:"),
        "{}",
        xml.body
    );
    assert!(xml.body.contains("<MaxEvents>2</MaxEvents><NextMarker>"));
}

#[tokio::test]
async fn events_require_a_namespace_and_a_valid_window() {
    let sim = sim(Version::ObjectScale41).await;
    let c = Client::login(&sim).await;
    for (url, status, code) in [
        (
            "/vdc/events?start_time=2026-11-30T00:00&end_time=2026-11-30T01:00",
            400,
            1005,
        ),
        (
            "/vdc/events?namespace=ns0001&end_time=2026-11-30T01:00",
            400,
            1005,
        ),
        (
            "/vdc/events?namespace=ns0001&start_time=2026-11-30T00:00",
            400,
            1005,
        ),
        (
            "/vdc/events?namespace=ns0001&start_time=yesterday&end_time=2026-11-30T01:00",
            400,
            1008,
        ),
        (
            "/vdc/events?namespace=ns0001&start_time=2026-11-30T02:00&end_time=2026-11-30T01:00",
            400,
            1008,
        ),
        (
            "/vdc/events?namespace=ns0001&start_time=2026-11-30T00:00&end_time=2026-11-30T01:00&limit=0",
            400,
            1008,
        ),
        (
            "/vdc/events?namespace=ns0001&start_time=2026-11-30T00:00&end_time=2026-11-30T01:00&limit=1001",
            400,
            1008,
        ),
    ] {
        let r = c.get(url, true).await;
        assert_eq!(r.status, status, "{url}: {}", r.body);
        assert_eq!(r.json()["code"], code, "{url}");
    }
    let unknown = c
        .get_json(
            "/vdc/events?namespace=nobody&start_time=2026-11-30T00:00&end_time=2026-11-30T01:00",
        )
        .await;
    assert_eq!(unknown["auditevent"], json!([]));
}

#[tokio::test]
async fn model_changes_and_recorded_events_show_up_at_the_model_time() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let added = c
        .admin(Method::POST, "/namespaces?name=tenant-a&buckets=1", "")
        .await;
    let bucket = added["buckets"][0].as_str().unwrap().to_owned();
    let url = window("tenant-a", NOW, NOW);
    let events = c.get_json(&url).await["auditevent"].clone();
    let kinds: Vec<(Value, Value, Value)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["timestamp"], "2026-11-30T05:30");
            assert_eq!(e["userId"], "root");
            (
                e["serviceType"].clone(),
                e["eventType"].clone(),
                e["resourceId"].clone(),
            )
        })
        .collect();
    assert!(kinds.contains(&(json!("Namespace"), json!("Created"), json!("tenant-a"))));
    assert!(kinds.contains(&(json!("Bucket"), json!("Created"), json!(bucket))));

    sim.sim.clock.advance(120);
    c.admin(
        Method::DELETE,
        &format!("/namespaces/tenant-a/buckets/{bucket}"),
        "",
    )
    .await;
    c.admin(Method::DELETE, "/namespaces/tenant-a", "").await;
    let recorded = c
        .admin(
            Method::POST,
            "/events",
            r#"{"namespace":"tenant-a","serviceType":"ObjectUser","eventType":"Created","resourceId":"carol","userId":"admin2@corp.example"}"#,
        )
        .await;
    assert!(
        recorded["id"]
            .as_str()
            .unwrap()
            .starts_with("urn:storageos:Event:")
    );
    assert_eq!(recorded["description"], "ObjectUser Created");
    assert_eq!(recorded["timestamp"], "2026-11-30T05:32");
    // The deleted namespace's history stays readable.
    let later = c.get_json(&window("tenant-a", NOW + 120, NOW + 120)).await;
    let later: Vec<(Value, Value)> = later["auditevent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["serviceType"].clone(), e["eventType"].clone()))
        .collect();
    assert!(
        later.contains(&(json!("Bucket"), json!("Deleted"))),
        "{later:?}"
    );
    assert!(later.contains(&(json!("Namespace"), json!("Deleted"))));
    assert!(later.contains(&(json!("ObjectUser"), json!("Created"))));
    let bad = c
        .admin(Method::POST, "/events", r#"{"namespace":"x"}"#)
        .await;
    assert!(
        bad["error"].as_str().unwrap().contains("invalid event"),
        "{bad}"
    );
}

#[tokio::test]
async fn background_events_appear_as_the_clock_advances() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let url = window("ns0002", NOW, NOW + 6 * 3600);
    let before = ids(&c.get_json(&url).await).len();
    assert!(before <= 1, "nothing after now: {before}");
    sim.sim.clock.advance(6 * 3600);
    // Six hours idle: the token expired.
    let c = Client::login(&sim).await;
    let after = ids(&c.get_json(&url).await);
    assert!(after.len() > before + 5, "{} events", after.len());
    let model = sim.model().audit_events("ns0002", NOW, NOW + 6 * 3600);
    assert_eq!(
        after,
        model.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn raised_alerts_are_listed_within_their_time_window() {
    for version in [Version::Ecs38, Version::ObjectScale41] {
        let sim = sim(version).await;
        let c = Client::login(&sim).await;
        let unacked = |s: &Value| s["model"]["unacked_alerts"].as_u64().unwrap();
        let before = unacked(&c.admin(Method::GET, "/stats", "").await);
        let raised = c
            .admin(
                Method::POST,
                "/alerts",
                r#"{"severity":"critical","type":"DiskFailure","description":"disk 3 of node 2 failed","namespace":"ns0001","symptomCode":2001}"#,
            )
            .await;
        let id = raised["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("urn:storageos:Alert:"));
        assert_eq!(raised["severity"], "CRITICAL");
        assert_eq!(raised["acknowledged"], false);
        assert_eq!(raised["timestamp"], "2026-11-30T05:30:30");
        assert_eq!(
            unacked(&c.admin(Method::GET, "/stats", "").await),
            before + 1
        );

        let list = |v: Value| -> Vec<Value> {
            let items = if version == Version::Ecs38 {
                v["alert"].clone()
            } else {
                v["alerts"]["alert"].clone()
            };
            items.as_array().cloned().unwrap_or_default()
        };
        let now = c
            .get_json("/vdc/alerts?start_time=2026-11-30T05:30&end_time=2026-11-30T05:30")
            .await;
        let now = list(now);
        assert_eq!(now.len(), 1, "{now:?}");
        assert_eq!(now[0]["id"], id.as_str());
        assert_eq!(now[0]["description"], "disk 3 of node 2 failed");
        let earlier = list(
            c.get_json("/vdc/alerts?start_time=2024-01-01T00:00&end_time=2026-11-30T05:29")
                .await,
        );
        assert_eq!(earlier.len(), sim.model().alerts.len() - 1);
        assert!(earlier.iter().all(|a| a["id"] != id.as_str()));
        let since = list(
            c.get_json("/vdc/alerts?start_time=2026-11-30T05:30:00")
                .await,
        );
        assert_eq!(since.len(), 1);
        for bad in [
            "/vdc/alerts?start_time=noon",
            "/vdc/alerts?start_time=2026-11-30T06:00&end_time=2026-11-30T05:00",
        ] {
            let r = c.get(bad, true).await;
            assert_eq!(
                (r.status, r.json()["code"].clone()),
                (400, json!(1008)),
                "{bad}"
            );
        }
        let bad = c
            .admin(
                Method::POST,
                "/alerts",
                r#"{"severity":"SEVERE","type":"X","description":"y"}"#,
            )
            .await;
        assert!(bad["error"].as_str().unwrap().contains("severity"), "{bad}");
    }
}
