//! The Flux API over HTTP: the columnar answer, its column orders, the range limit, the
//! empty answer, the Flux faults, and values that map back to the model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use ecs_sim::model::perf::{FluxPoint, OP_BUCKET, VDC_BUCKET, flux_measurements};
use ecs_sim::{FaultConfig, FaultRule, RunningSim, SimConfig, Version};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Client, Resp, start_with};

const PATH: &str = "/flux/api/external/v2/query";
/// 2026-11-30T05:30:30Z: the frozen clock of these tests.
const NOW: i64 = 1_796_016_630;
const EMPTY: &str = r#"{"Series":[{"Datatypes":null,"Columns":null,"Values":null}]}"#;

async fn sim(version: Version) -> RunningSim {
    start_with(SimConfig {
        frozen_at: Some(NOW),
        ..SimConfig::small(version)
    })
    .await
}

fn flux(bucket: &str, range: &str, measurement: &str) -> String {
    format!(
        "from(bucket: \"{bucket}\") |> range({range}) |> filter(fn: (r) => r._measurement == \"{measurement}\")"
    )
}

async fn post(c: &Client, body: &str) -> Resp {
    c.post(PATH, true, Some("application/json"), body, &[])
        .await
}

async fn query(c: &Client, flux: &str) -> Resp {
    post(c, &json!({ "query": flux }).to_string()).await
}

/// The one series of an answer, its rows as maps from column name to cell.
fn rows(answer: &Value) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let series = answer["Series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{answer}");
    let s = &series[0];
    let columns: Vec<String> = s["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(s["Datatypes"].as_array().unwrap().len(), columns.len());
    let rows = s["Values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cells = r.as_array().unwrap();
            assert_eq!(cells.len(), columns.len());
            columns
                .iter()
                .zip(cells)
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .unwrap_or_else(|| panic!("{k}: {v} is not a string"));
                    (k.clone(), v.to_owned())
                })
                .collect()
        })
        .collect();
    (columns, rows)
}

/// Checks every row of an answer against the model's points, by column name.
fn check_against_model(sim: &RunningSim, bucket: &str, m: &str, answer: &Value) -> usize {
    let (columns, rows) = rows(answer);
    let datatypes: BTreeMap<&str, &str> = columns
        .iter()
        .map(String::as_str)
        .zip(
            answer["Series"][0]["Datatypes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap()),
        )
        .collect();
    assert_eq!(datatypes["table"], "long");
    for c in ["_start", "_stop", "_time"] {
        assert_eq!(datatypes[c], "dateTime:RFC3339");
    }
    assert!(["double", "long"].contains(&datatypes["_value"]));
    let o = sim.sim.faults.overrides();
    let model = sim.model();
    let mut at: BTreeMap<i64, Vec<FluxPoint>> = BTreeMap::new();
    let mut last = (-1i64, String::new());
    for r in &rows {
        assert_eq!(r["_measurement"], m);
        let t = ecs_sim::timefmt::parse_minute(&r["_time"]).unwrap();
        assert!(
            r["_time"].ends_with(":00Z") && t % 60 == 0,
            "{}",
            r["_time"]
        );
        let table: i64 = r["table"].parse().unwrap();
        assert!(
            (table, r["_time"].clone()) > last,
            "rows sorted by table then time"
        );
        assert!(
            table == last.0 || table == last.0 + 1,
            "tables numbered from 0"
        );
        last = (table, r["_time"].clone());
        let points = at
            .entry(t)
            .or_insert_with(|| model.flux_points(bucket, m, t, &o));
        let tags: Vec<(String, String)> = r
            .iter()
            .filter(|(k, _)| !k.starts_with('_') && *k != "table")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let p = points
            .iter()
            .find(|p| {
                p.field == r["_field"] && {
                    let mut want = p.tags.clone();
                    want.sort();
                    want == tags
                }
            })
            .unwrap_or_else(|| panic!("{m}: no model point for {r:?}"));
        assert_eq!(r["_value"], format!("{}", p.value), "{m} {r:?}");
    }
    // Every point of the model is in the answer.
    let total: usize = at.values().map(Vec::len).sum();
    assert_eq!(total, rows.len(), "{m}");
    rows.len()
}

#[tokio::test]
async fn answers_are_columnar_strings_that_map_to_the_model_by_name() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let r = query(
        &c,
        &flux(VDC_BUCKET, "start: -30m", "cq_performance_transaction_ns"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.starts_with("application/json"));
    let answer = r.json();
    let (columns, rows) = rows(&answer);
    let names: BTreeSet<&str> = columns.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "table",
            "_start",
            "_stop",
            "_time",
            "_value",
            "_field",
            "_measurement",
            "namespace"
        ])
    );
    let namespaces = sim.model().namespaces.len();
    // 30 minutes: 05:01 to 05:30, two fields per namespace.
    assert_eq!(rows.len(), namespaces * 2 * 30);
    assert_eq!(rows[0]["_start"], "2026-11-30T05:00:30.000000000Z");
    assert_eq!(rows[0]["_stop"], "2026-11-30T05:30:30.000000000Z");
    assert_eq!(rows[0]["_time"], "2026-11-30T05:01:00Z");
    assert_eq!(rows[0]["table"], "0");
    assert_eq!(
        rows.last().unwrap()["table"],
        (namespaces * 2 - 1).to_string()
    );
    check_against_model(&sim, VDC_BUCKET, "cq_performance_transaction_ns", &answer);
}

#[tokio::test]
async fn every_measurement_maps_to_the_model_and_column_orders_differ() {
    let sim = sim(Version::ObjectScale41).await;
    let c = Client::login(&sim).await;
    let mut orders = BTreeSet::new();
    for (bucket, m) in flux_measurements() {
        let r = query(&c, &flux(bucket, "start: -10m, stop: -5m", m)).await;
        assert_eq!(r.status, 200, "{m}: {}", r.body);
        let answer = r.json();
        let n = check_against_model(&sim, bucket, m, &answer);
        assert!(n > 0, "{m}");
        let (columns, _) = rows(&answer);
        let fixed: Vec<String> = columns
            .into_iter()
            .filter(|c| c.starts_with('_') || c == "table")
            .collect();
        orders.insert(fixed);
    }
    assert!(orders.len() >= 3, "{orders:?}");
}

#[tokio::test]
async fn per_namespace_rates_sum_to_the_vdc_rate() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let by_time = |answer: Value| {
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for r in rows(&answer).1 {
            if r["_field"] == "succeed_request_counter" {
                *sums.entry(r["_time"].clone()).or_default() += r["_value"].parse::<f64>().unwrap();
            }
        }
        sums
    };
    let vdc = by_time(
        query(
            &c,
            &flux(VDC_BUCKET, "start: -1h", "cq_performance_transaction"),
        )
        .await
        .json(),
    );
    let ns = by_time(
        query(
            &c,
            &flux(VDC_BUCKET, "start: -1h", "cq_performance_transaction_ns"),
        )
        .await
        .json(),
    );
    assert_eq!(vdc.len(), 60);
    assert_eq!(
        vdc.keys().collect::<Vec<_>>(),
        ns.keys().collect::<Vec<_>>()
    );
    for (t, total) in &vdc {
        assert!(*total > 0.0);
        assert!(
            (ns[t] - total).abs() <= 1e-9 * total,
            "{t}: {} vs {total}",
            ns[t]
        );
    }
}

#[tokio::test]
async fn a_range_over_an_hour_is_refused_with_the_documented_body() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let m = "cq_performance_transaction";
    let r = query(&c, &flux(VDC_BUCKET, "start: -61m", m)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"code":1008,"retryable":false,"description":"Invalid parameter","details":"range exceeds the maximum of 1 hour"})
    );
    let absolute = "start: 2026-11-30T04:00:00Z, stop: 2026-11-30T05:00:00.000000001Z";
    assert_eq!(query(&c, &flux(VDC_BUCKET, absolute, m)).await.status, 400);
    let exactly = "start: 2026-11-30T04:00:00Z, stop: 2026-11-30T05:00:00Z";
    let r = query(&c, &flux(VDC_BUCKET, exactly, m)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(rows(&r.json()).1.len(), 2 * 60);
    // The limit is a fault setting.
    sim.sim
        .faults
        .update(|f| f.flux_max_range_secs = Some(7200));
    assert_eq!(
        query(&c, &flux(VDC_BUCKET, "start: -61m", m)).await.status,
        200
    );
    let r = query(&c, &flux(VDC_BUCKET, "start: -3h", m)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["details"], "range exceeds the maximum of 2 hours");
}

#[tokio::test]
async fn unknown_measurements_and_empty_ranges_get_the_empty_answer() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    for q in [
        flux(VDC_BUCKET, "start: -10m", "no_such_measurement"),
        flux(
            "monitoring_main",
            "start: -10m",
            "cq_performance_transaction",
        ),
        flux(OP_BUCKET, "start: -10m", "cq_performance_transaction"),
        // In the future, and a range with no minute boundary in it.
        flux(
            OP_BUCKET,
            "start: 2026-11-30T06:00:00Z, stop: 2026-11-30T06:30:00Z",
            "cpu",
        ),
        flux(
            VDC_BUCKET,
            "start: 2026-11-30T05:00:01Z, stop: 2026-11-30T05:00:59Z",
            "cq_performance_transaction",
        ),
        flux(OP_BUCKET, "start: -5m, stop: -5m", "cpu"),
    ] {
        let r = query(&c, &q).await;
        assert_eq!((r.status, r.body.as_str()), (200, EMPTY), "{q}");
    }
}

#[tokio::test]
async fn flux_faults_empty_and_reordered_answers() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let q = flux(OP_BUCKET, "start: -5m", "mem");
    let normal = query(&c, &q).await.json();
    sim.sim.faults.update(|f| f.flux_reorder_columns = true);
    let reordered = query(&c, &q).await.json();
    let (a, b) = (rows(&normal).0, rows(&reordered).0);
    assert_ne!(a, b);
    assert_eq!(
        a.iter().collect::<BTreeSet<_>>(),
        b.iter().collect::<BTreeSet<_>>()
    );
    check_against_model(&sim, OP_BUCKET, "mem", &reordered);
    sim.sim.faults.update(|f| f.flux_empty = true);
    let r = query(&c, &q).await;
    assert_eq!((r.status, r.body.as_str()), (200, EMPTY));
    // The faults are also set through the admin endpoint.
    let cfg: FaultConfig = serde_json::from_value(
        c.admin(
            Method::PUT,
            "/faults",
            r#"{"flux_max_range_secs": 600, "flux_reorder_columns": true}"#,
        )
        .await,
    )
    .unwrap();
    assert_eq!(cfg.flux_max_range_secs, Some(600));
    assert_eq!(query(&c, &q).await.status, 200);
    assert_eq!(
        query(&c, &flux(OP_BUCKET, "start: -11m", "mem"))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn down_nodes_have_no_points() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let q = flux(OP_BUCKET, "start: -3m", "cpu");
    let hosts = |answer: Value| {
        rows(&answer)
            .1
            .into_iter()
            .map(|r| r["host"].clone())
            .collect::<BTreeSet<_>>()
    };
    let all = hosts(query(&c, &q).await.json());
    assert_eq!(all.len(), sim.model().nodes.len());
    sim.sim.faults.update(|f| f.nodes_down = vec![2]);
    let up = hosts(query(&c, &q).await.json());
    assert_eq!(up.len(), all.len() - 1);
    assert!(!up.contains(&sim.model().nodes[2].name));
}

#[tokio::test]
async fn bad_requests_and_versions() {
    let sim = sim(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let r = post(&c, "from(bucket: \"x\")").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], 1013);
    assert_eq!(r.json()["description"], "Bad request body");
    let r = query(
        &c,
        "from(bucket: \"monitoring_vdc\") |> filter(fn: (r) => r._measurement == \"cpu\")",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["details"].as_str().unwrap().contains("range"),
        "{}",
        r.body
    );
    let r = query(&c, &flux(VDC_BUCKET, "start: yesterday", "cpu")).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!(1013)));
    let xml = c
        .post(
            PATH,
            false,
            Some("application/json"),
            &json!({"query": flux(OP_BUCKET, "start: -5m", "cpu")}).to_string(),
            &[("Accept", "application/xml")],
        )
        .await;
    assert_eq!(xml.status, 406, "{}", xml.body);
    let anonymous = Client::new(&sim);
    assert_eq!(
        query(&anonymous, &flux(OP_BUCKET, "start: -5m", "cpu"))
            .await
            .status,
        401
    );
    assert_eq!(sim.sim.log.calls(&format!("POST {PATH}")), 5);

    // Generic fault rules apply as to any route.
    sim.sim.faults.set(FaultConfig {
        rules: vec![FaultRule {
            path: "/flux/*".into(),
            error_rate: 1.0,
            status: Some(503),
            times: Some(1),
            ..FaultRule::default()
        }],
        ..FaultConfig::default()
    });
    let q = flux(OP_BUCKET, "start: -5m", "cpu");
    assert_eq!(query(&c, &q).await.status, 503);
    assert_eq!(query(&c, &q).await.status, 200);

    // 4.1 serves it; 3.5 does not know the path.
    let s41 = self::sim(Version::ObjectScale41).await;
    let c41 = Client::login(&s41).await;
    assert_eq!(query(&c41, &q).await.status, 200);
    let s35 = self::sim(Version::Ecs35).await;
    let c35 = Client::login(&s35).await;
    let r = query(&c35, &q).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 1004);
}
