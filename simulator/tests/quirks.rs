//! The untidy parts of the real API that clients must survive, one test each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use ecs_sim::Version;
use ecs_sim::model::billing::{sample_index, uptodate_till};
use serde_json::Value;
use support::{Client, start};

#[tokio::test]
async fn xml_by_default_json_on_accept_or_suffix() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let xml = c.get("/vdc/nodes", false).await;
    assert!(
        xml.content_type.starts_with("application/xml"),
        "{}",
        xml.content_type
    );
    assert!(
        xml.body.starts_with("<?xml") && xml.body.contains("<nodes><node>"),
        "{}",
        xml.body
    );
    let json = c.get("/vdc/nodes", true).await;
    assert!(json.content_type.starts_with("application/json"));
    assert!(json.json()["node"].is_array());
    let suffix = c.get("/vdc/nodes.json", false).await;
    assert!(suffix.content_type.starts_with("application/json"));
    assert_eq!(suffix.json(), json.json());
}

#[tokio::test]
async fn dashboard_numbers_are_strings_and_series_are_t_value_lists() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let z = c.get_json("/dashboard/zones/localzone").await;
    assert_eq!(z["numGoodNodes"], Value::String("4".into()));
    let cur = &z["diskSpaceFreeCurrent"][0];
    assert!(cur["t"].as_str().unwrap().parse::<i64>().is_ok(), "{cur}");
    assert!(
        cur["Space"].as_str().unwrap().parse::<u64>().is_ok(),
        "{cur}"
    );
    assert_eq!(
        z["diskSpaceTotal"].as_array().unwrap().len(),
        12,
        "one hour of history"
    );
    assert!(z["diskSpaceTotalSummary"]["Max"][0]["Space"].is_string());
    let current_only = c
        .get_json("/dashboard/zones/localzone?dataType=current")
        .await;
    assert!(current_only.get("diskSpaceTotal").is_none());
    assert!(current_only.get("diskSpaceTotalCurrent").is_some());
}

#[tokio::test]
async fn hal_lists_embed_instances() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let nodes = c.get_json("/dashboard/zones/localzone/nodes").await;
    let items = nodes["_embedded"]["_instances"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        nodes["_links"]["self"]["href"],
        "/dashboard/zones/localzone/nodes"
    );
    let failed = c.get_json("/dashboard/zones/localzone/rglinksFailed").await;
    assert_eq!(failed["title"], "rglinksFailedList");
    assert!(failed["_embedded"]["_instances"].is_array());
}

#[tokio::test]
async fn capacity_is_wrapped_with_strings_in_4_1_and_flat_in_3_8() {
    let s41 = start(Version::ObjectScale41).await;
    let v = Client::login(&s41).await.get_json("/object/capacity").await;
    assert!(v["cluster_capacity"]["totalFree_gb"].is_string(), "{v}");
    let s38 = start(Version::Ecs38).await;
    let v = Client::login(&s38).await.get_json("/object/capacity").await;
    assert!(v["totalFree_gb"].is_u64(), "{v}");
    assert!(v.get("cluster_capacity").is_none());
}

#[tokio::test]
async fn iam_xml_uses_the_ns2_root_and_member_items() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let r = c
        .post(
            "/iam?Action=ListUsers",
            false,
            None,
            "",
            &[("x-emc-namespace", "ns0001")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("<ns2:ListUsersResponse xmlns:ns2=\"none\">"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<Users><member><Arn>urn:ecs:iam::ns0001:user/"),
        "{}",
        r.body
    );
    let j = c
        .post(
            "/iam?Action=ListUsers",
            true,
            None,
            "",
            &[("x-emc-namespace", "ns0001")],
        )
        .await
        .json();
    assert!(
        j.get("ListUsersResponse").is_none(),
        "JSON has no outer wrapper"
    );
    assert_eq!(j["ListUsersResult"]["Users"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn iam_pages_with_max_items_and_marker() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let h = [("x-emc-namespace", "ns0001")];
    let mut names = Vec::new();
    let mut marker = String::new();
    let mut pages = 0;
    loop {
        let q = if marker.is_empty() {
            String::new()
        } else {
            format!("&Marker={marker}")
        };
        let v = c
            .post(
                &format!("/iam?Action=ListUsers&MaxItems=4{q}"),
                true,
                None,
                "",
                &h,
            )
            .await
            .json();
        let r = &v["ListUsersResult"];
        names.extend(
            r["Users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["UserName"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        if !r["IsTruncated"].as_bool().unwrap() {
            break;
        }
        marker = r["Marker"].as_str().unwrap().to_owned();
    }
    assert_eq!(pages, 2);
    let mut expected: Vec<String> = sim.model().namespaces["ns0001"]
        .iam
        .users
        .iter()
        .map(|u| u.name.clone())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn policy_documents_are_url_encoded() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let (arn, want) = {
        let m = sim.model();
        let p = &m.namespaces["ns0001"].iam.policies[0];
        let v1 = p.versions.iter().find(|v| v.0 == "v1").unwrap();
        (p.arn.clone(), v1.1.clone())
    };
    let path = format!(
        "/iam?Action=GetPolicyVersion&VersionId=v1&PolicyArn={}",
        ecs_sim::server::percent_encode(&arn)
    );
    let v = c
        .post(&path, true, None, "", &[("x-emc-namespace", "ns0001")])
        .await
        .json();
    let doc = v["GetPolicyVersionResult"]["PolicyVersion"]["Document"]
        .as_str()
        .unwrap();
    assert!(doc.starts_with("%7B%22Version%22"), "{doc}");
    // Decoded here, not with the simulator's own decoder: it is the model's document.
    let mut bytes = Vec::new();
    let mut rest = doc.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    assert_eq!(String::from_utf8(bytes).unwrap(), want);
}

#[tokio::test]
async fn billing_kb_is_1024_bytes_and_byte_is_exact() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let byte = c
        .get_json("/object/billing/buckets/ns0001/ns0001-b001/info?sizeunit=BYTE")
        .await;
    let kb = c
        .get_json("/object/billing/buckets/ns0001/ns0001-b001/info?sizeunit=KB")
        .await;
    let gb = c
        .get_json("/object/billing/buckets/ns0001/ns0001-b001/info")
        .await;
    let bytes: u64 = byte["total_size"].as_str().unwrap().parse().unwrap();
    let kbv: f64 = kb["total_size"].as_str().unwrap().parse().unwrap();
    assert_eq!(kbv * 1024.0, bytes as f64);
    assert_eq!(gb["total_size_unit"], "GB");
    assert_eq!(byte["total_size_unit"], "BYTE");
    // Equal to the model at uptodate_till.
    let m = sim.model();
    let lag = m.cfg.billing_lag_secs;
    let n = sample_index(uptodate_till(sim.sim.clock.now(), lag));
    assert_eq!(
        bytes,
        m.bucket("ns0001", "ns0001-b001")
            .unwrap()
            .billing
            .totals(n)
            .size
    );
    assert!(
        byte["total_objects"].is_u64(),
        "objects as a number, sizes as strings"
    );
}

#[tokio::test]
async fn sample_bounds_must_be_on_5_minutes_and_windows_add_up() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let base = "/object/billing/buckets/ns0001/ns0001-b001/sample?sizeunit=BYTE";
    let bad = c
        .get(
            &format!("{base}&start_time=2025-03-01T00:03&end_time=2025-03-01T01:00"),
            true,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("multiple of 5 minutes"), "{}", bad.body);
    assert_eq!(bad.json()["code"], 1008);
    let w = |a: &str, b: &str| {
        let path = format!("{base}&start_time={a}&end_time={b}");
        let c = &c;
        async move { c.get_json(&path).await }
    };
    // Start inclusive, end exclusive: [00:00, 01:00) + [01:00, 02:00) = [00:00, 02:00).
    let (x, y, xy) = (
        w("2025-03-01T00:00", "2025-03-01T01:00").await,
        w("2025-03-01T01:00", "2025-03-01T02:00").await,
        w("2025-03-01T00:00", "2025-03-01T02:00").await,
    );
    let num = |v: &Value, k: &str| -> u64 {
        v[k].as_u64()
            .or_else(|| v[k].as_str().and_then(|s| s.parse().ok()))
            .unwrap()
    };
    for k in ["ingress", "egress", "objects_created"] {
        assert_eq!(num(&x, k) + num(&y, k), num(&xy, k), "{k}");
    }
}

#[tokio::test]
async fn bucket_samples_are_wrapped_in_4_1() {
    let sim = start(Version::ObjectScale41).await;
    let c = Client::login(&sim).await;
    let v = c.get_json("/object/billing/buckets/ns0001/ns0001-b001/sample?start_time=2025-03-01T00:00&end_time=2025-03-01T01:00").await;
    assert!(v["bucket_billing_sample"]["ingress"].is_u64(), "{v}");
}

#[tokio::test]
async fn uptodate_till_lags_behind_the_clock() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let v = c.get_json("/object/billing/namespace/ns0001/info").await;
    let till = ecs_sim::timefmt::parse_minute(v["uptodate_till"].as_str().unwrap()).unwrap();
    let now = sim.sim.clock.now();
    assert!(
        now - till >= 900 && now - till < 1200,
        "now {now}, uptodate_till {till}"
    );
    assert_eq!(till % 300, 0);
}

#[tokio::test]
async fn bulk_billing_body_rules() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let path = "/object/billing/buckets/ns0001/info?sizeunit=KB";
    let ct = Some("application/json");
    let none = c.post(path, true, ct, "", &[]).await;
    assert_eq!(none.status, 415, "{}", none.body);
    let empty_list = c.post(path, true, ct, "[]", &[]).await;
    assert_eq!(empty_list.status, 400);
    assert_eq!(empty_list.json()["code"], 1013);
    let empty_obj = c.post(path, true, ct, "{}", &[]).await;
    assert_eq!(empty_obj.status, 200);
    assert_eq!(
        empty_obj.json()["bucket_billing_infos"],
        serde_json::json!([])
    );
    let null = c.post(path, true, ct, "null", &[]).await;
    assert_eq!(null.status, 500);
    assert_eq!(null.json()["code"], 999);
    let bad_prop = c
        .post(path, true, ct, r#"{"bucketName":"*","sizeunit":"GB"}"#, &[])
        .await;
    assert_eq!(bad_prop.status, 400);
    assert!(
        bad_prop
            .body
            .contains("Property bucketName is not a valid property"),
        "{}",
        bad_prop.body
    );
    let three = c
        .post(
            path,
            true,
            ct,
            r#"{"id":["ns0001-b001","ns0001-b002","ns0001-b003"]}"#,
            &[],
        )
        .await;
    assert_eq!(
        three.json()["bucket_billing_infos"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let xml = c
        .post(
            path,
            false,
            Some("application/xml"),
            "<bucket_list><id>ns0001-b001</id></bucket_list>",
            &[],
        )
        .await;
    assert_eq!(xml.status, 200, "{}", xml.body);
    assert!(xml.body.contains("<bucket_billing_infos><bucket_billing_info><namespace>ns0001</namespace><name>ns0001-b001</name>"), "{}", xml.body);
}

#[tokio::test]
async fn namespace_billing_detail_pages_with_next_marker() {
    let sim = support::start_with(ecs_sim::SimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        billing_detail_page: 3,
        ..ecs_sim::SimConfig::default()
    })
    .await;
    let c = Client::login(&sim).await;
    let first = c
        .get_json("/object/billing/namespace/ns0001/info?include_bucket_detail=true")
        .await;
    assert_eq!(first["bucket_billing_info"].as_array().unwrap().len(), 3);
    let marker = first["next_marker"].as_str().unwrap().to_owned();
    assert!(!marker.is_empty());
    let second = c
        .get_json(&format!(
            "/object/billing/namespace/ns0001/info?include_bucket_detail=true&marker={marker}"
        ))
        .await;
    assert_eq!(second["bucket_billing_info"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_marker"], "");
}

#[tokio::test]
async fn errors_have_ecs_shape_in_both_formats() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let j = c.get("/object/bucket?namespace=", true).await;
    assert_eq!(j.status, 400);
    let v = j.json();
    assert_eq!(v["code"], 1005);
    assert!(
        v["description"].is_string() && v["details"].is_string() && v["retryable"].is_boolean()
    );
    let x = c.get("/object/namespaces/namespace/nope", false).await;
    assert_eq!(x.status, 404);
    assert!(x.body.contains("<error><code>1004</code>"), "{}", x.body);
    let unauth = Client::new(&sim).get("/vdc/nodes", false).await;
    assert_eq!(unauth.status, 401);
    assert!(unauth.body.contains("<code>4000</code>"), "{}", unauth.body);
}

#[tokio::test]
async fn versions_differ_where_ecs_did() {
    let s35 = start(Version::Ecs35).await;
    let z = Client::login(&s35)
        .await
        .get_json("/dashboard/zones/localzone")
        .await;
    assert!(z.get("transactionReadLatencyCurrent").is_some());
    assert!(z["transactionErrors"]["errorSuccessTotals"][0]["successTotal"].is_string());
    let s38 = start(Version::Ecs38).await;
    let z = Client::login(&s38)
        .await
        .get_json("/dashboard/zones/localzone")
        .await;
    assert!(z.get("transactionReadLatencyCurrent").is_none());
    let nodes = Client::login(&s38).await.get_json("/vdc/nodes").await;
    assert!(
        nodes["node"][0]["version"]
            .as_str()
            .unwrap()
            .starts_with("3.8.")
    );
    let s41 = start(Version::ObjectScale41).await;
    let nodes = Client::login(&s41).await.get_json("/vdc/nodes").await;
    assert!(
        nodes["node"][0]["version"]
            .as_str()
            .unwrap()
            .starts_with("4.1.")
    );
    assert!(nodes["node"][0]["serviceTag"].is_string());
}
