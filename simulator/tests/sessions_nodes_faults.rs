//! Sessions as ECS keeps them, the nodes' own ports, and fault injection, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use ecs_sim::{FaultConfig, FaultRule, SessionConfig, SimConfig, Version};
use reqwest::Method;
use support::{Client, start, start_with};

/// The body of a GET on a node's own port.
async fn get_text(http: &reqwest::Client, url: String) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

fn token_of(r: &support::Resp) -> String {
    r.headers["x-sds-auth-token"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_returns_a_token_bad_credentials_get_401_with_the_vipr_realm() {
    let sim = start(Version::Ecs38).await;
    let c = Client::new(&sim);
    let ok = c.login_as("root", "ChangeMe").await;
    assert_eq!(ok.status, 200);
    assert!(token_of(&ok).starts_with("BAAc"));
    assert!(
        ok.body.contains("<loggedIn><user>root</user></loggedIn>"),
        "{}",
        ok.body
    );
    let bad = c.login_as("root", "wrong").await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.headers["www-authenticate"], "basic realm=\"ViPR\"");
}

#[tokio::test]
async fn the_101st_login_is_refused_and_logout_frees_a_token() {
    let sim = start(Version::Ecs38).await;
    let c = Client::new(&sim);
    let mut tokens = Vec::new();
    for _ in 0..100 {
        let r = c.login_as("emcmonitor", "monitor-pass").await;
        assert_eq!(r.status, 200);
        tokens.push(token_of(&r));
    }
    let refused = c.login_as("emcmonitor", "monitor-pass").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("<code>1031</code>"),
        "{}",
        refused.body
    );
    // The count is observable through the API…
    let admin = Client::login(&sim).await;
    let count = admin.get_json("/vdc/users/emcmonitor/tokenCount").await;
    assert_eq!(count["count"], 100);
    // …and a logout frees one token.
    let mut one = Client::new(&sim);
    one.token = Some(tokens.pop().unwrap());
    let out = one.get("/logout", true).await;
    assert_eq!(out.status, 200);
    assert_eq!(out.json()["user"], "emcmonitor");
    assert_eq!(
        admin.get_json("/vdc/users/emcmonitor/tokenCount").await["count"],
        99
    );
    assert_eq!(c.login_as("emcmonitor", "monitor-pass").await.status, 200);
    // force=true frees every token of the user.
    one.token = Some(tokens.pop().unwrap());
    assert_eq!(one.get("/logout?force=true", true).await.status, 200);
    assert_eq!(
        admin.get_json("/vdc/users/emcmonitor/tokenCount").await["count"],
        0
    );
}

#[tokio::test]
async fn expired_tokens_get_401_idle_and_absolute() {
    let sim = start_with(SimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        sessions: SessionConfig {
            idle_timeout: Duration::from_secs(120),
            lifetime: Duration::from_secs(600),
            ..SessionConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let c = Client::login(&sim).await;
    let clock = &sim.sim.clock;
    assert_eq!(c.get("/user/whoami", true).await.status, 200);
    clock.advance(121);
    let expired = c.get("/user/whoami", true).await;
    assert_eq!(expired.status, 401, "idle timeout");
    assert_eq!(expired.json()["code"], 4000);

    let c = Client::login(&sim).await;
    for _ in 0..5 {
        clock.advance(110);
        assert_eq!(
            c.get("/user/whoami", true).await.status,
            200,
            "kept alive by use"
        );
    }
    clock.advance(60);
    assert_eq!(
        c.get("/user/whoami", true).await.status,
        401,
        "absolute lifetime"
    );
}

#[tokio::test]
async fn the_token_count_comes_back_after_logouts() {
    let sim = start(Version::Ecs38).await;
    let before = sim.sim.sessions.count("root");
    let c = Client::login(&sim).await;
    assert_eq!(sim.sim.sessions.count("root"), before + 1);
    c.get("/logout", false).await;
    assert_eq!(sim.sim.sessions.count("root"), before);
}

#[tokio::test]
async fn node_ports_serve_dt_stats_and_ping_at_the_mgmt_ip() {
    let sim = start(Version::Ecs35).await;
    let c = Client::login(&sim).await;
    let nodes = c.get_json("/vdc/nodes").await;
    let ip = nodes["node"][1]["mgmt_ip"].as_str().unwrap().to_owned();
    let http = support::plain_client(Duration::from_secs(5));
    let dt = get_text(&http, format!("http://{ip}:9101/stats/dt/DTInitStat")).await;
    let total = sim.model().nodes[1].dt_total;
    assert!(
        dt.contains(&format!("<total_dt_num>{total}.0</total_dt_num>")),
        "3.5 writes floats: {dt}"
    );
    assert!(dt.contains("<unready_dt_num>0.0</unready_dt_num>"), "{dt}");
    let ping = get_text(&http, format!("http://{ip}:9020/?ping")).await;
    assert!(ping.contains("<Name>LOAD_FACTOR</Name><Value>"), "{ping}");
    assert!(ping.contains("MAINTENANCE_MODE"), "{ping}");
    let lf_only = get_text(&http, format!("http://{ip}:9020/?ping&item=load-factor")).await;
    assert!(!lf_only.contains("MAINTENANCE_MODE"), "{lf_only}");
}

#[tokio::test]
async fn objectscale_has_no_port_9101() {
    let sim = start(Version::ObjectScale41).await;
    let ip = sim.node_ips[0];
    let r = support::plain_client(Duration::from_secs(5))
        .get(format!("http://{ip}:9101/stats/dt/DTInitStat"))
        .send()
        .await;
    assert!(r.is_err(), "9101 answered on ObjectScale");
    assert!(
        support::plain_client(Duration::from_secs(5))
            .get(format!("http://{ip}:9020/?ping"))
            .send()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_node_down_refuses_its_ports_and_shows_bad_unready_tables_show_per_type() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let body = serde_json::json!({"nodes_down": [2], "dt_unready": [[0, 30]]}).to_string();
    c.admin(Method::PUT, "/faults", &body).await;
    let http = support::plain_client(Duration::from_secs(5));
    let down = http
        .get(format!(
            "http://{}:9101/stats/dt/DTInitStat",
            sim.node_ips[2]
        ))
        .send()
        .await;
    assert!(down.is_err(), "a down node answered");
    let z = c.get_json("/dashboard/zones/localzone").await;
    assert_eq!(z["numBadNodes"], "1");
    let n0 = get_text(
        &http,
        format!("http://{}:9101/stats/dt/DTInitStat", sim.node_ips[0]),
    )
    .await;
    assert!(n0.contains("<unready_dt_num>30</unready_dt_num>"), "{n0}");
    assert_eq!(n0.matches("<entry>").count(), 3, "{n0}");
}

#[tokio::test]
async fn faults_latency_errors_malformed_missing_timeouts_at_run_time() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let set = |rules: Vec<FaultRule>| {
        serde_json::to_string(&FaultConfig {
            rules,
            ..Default::default()
        })
        .unwrap()
    };

    c.admin(
        Method::PUT,
        "/faults",
        &set(vec![FaultRule {
            path: "/vdc/nodes".into(),
            latency_ms: 300,
            ..Default::default()
        }]),
    )
    .await;
    let t0 = Instant::now();
    assert_eq!(c.get("/vdc/nodes", true).await.status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));

    c.admin(
        Method::PUT,
        "/faults",
        &set(vec![FaultRule {
            path: "/object/*".into(),
            error_rate: 0.5,
            status: Some(503),
            code: Some(6000),
            ..Default::default()
        }]),
    )
    .await;
    let statuses: Vec<u16> = futures_statuses(&c, "/object/capacity", 4).await;
    assert_eq!(statuses, vec![200, 503, 200, 503]);

    c.admin(
        Method::PUT,
        "/faults",
        &set(vec![FaultRule {
            path: "/dashboard/zones/localzone".into(),
            malformed: true,
            ..Default::default()
        }]),
    )
    .await;
    let r = c.get("/dashboard/zones/localzone", true).await;
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_str::<serde_json::Value>(&r.body).is_err(),
        "body should be cut"
    );

    c.admin(
        Method::PUT,
        "/faults",
        &set(vec![FaultRule {
            path: "/dashboard/*".into(),
            missing_fields: vec!["numGoodNodes".into()],
            na_fields: vec!["numBadNodes".into()],
            ..Default::default()
        }]),
    )
    .await;
    let z = c.get_json("/dashboard/zones/localzone").await;
    assert!(z.get("numGoodNodes").is_none());
    assert_eq!(z["numBadNodes"], "N/A");

    c.admin(
        Method::PUT,
        "/faults",
        &set(vec![FaultRule {
            path: "/vdc/alerts".into(),
            timeout: true,
            ..Default::default()
        }]),
    )
    .await;
    let quick = support::tls_client_timeout(sim.cert_pem.as_deref(), Duration::from_millis(400));
    let r = quick
        .get(format!("{}/vdc/alerts", c.base))
        .header("X-SDS-AUTH-TOKEN", c.token.clone().unwrap())
        .send()
        .await;
    assert!(
        r.as_ref().is_err_and(reqwest::Error::is_timeout),
        "the request should hang until the client gives up: {r:?}"
    );

    c.admin(Method::DELETE, "/faults", "").await;
    assert_eq!(c.get("/vdc/nodes", true).await.status, 200);
}

async fn futures_statuses(c: &Client, path: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(c.get(path, true).await.status);
    }
    out
}

#[tokio::test]
async fn token_limit_fault_refuses_logins() {
    let sim = start_with(SimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        faults: FaultConfig {
            token_limit_reached: true,
            ..Default::default()
        },
        ..SimConfig::default()
    })
    .await;
    let r = Client::new(&sim).login_as("root", "ChangeMe").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Max number of tokens"), "{}", r.body);
}

#[tokio::test]
async fn the_request_log_counts_calls_per_route() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    for ns in ["ns0001", "ns0002", "ns0003"] {
        c.get_json(&format!("/object/billing/namespace/{ns}/info"))
            .await;
    }
    let stats = c.admin(Method::GET, "/stats", "").await;
    assert_eq!(
        stats["routes"]["GET /object/billing/namespace/{namespace}/info"]["calls"],
        3
    );
    assert_eq!(stats["routes"]["GET /login"]["calls"], 1);
    assert_eq!(
        sim.sim
            .log
            .calls("GET /object/billing/namespace/{namespace}/info"),
        3
    );
    assert_eq!(stats["sessions"]["tokens"]["root"], 1);
}

#[tokio::test]
async fn namespaces_added_and_deleted_at_run_time_and_the_clock_moves() {
    let sim = start(Version::Ecs38).await;
    let c = Client::login(&sim).await;
    let added = c
        .admin(Method::POST, "/namespaces?name=tenant-new&buckets=3", "")
        .await;
    assert_eq!(added["buckets"].as_array().unwrap().len(), 3);
    let list = c.get_json("/object/namespaces").await;
    assert!(
        list["namespace"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "tenant-new")
    );
    c.admin(Method::DELETE, "/namespaces/tenant-new", "").await;
    assert_eq!(
        c.get("/object/billing/namespace/tenant-new/info", true)
            .await
            .status,
        404
    );

    let before = c
        .get_json("/object/billing/namespace/ns0001/info?sizeunit=BYTE")
        .await;
    c.admin(Method::POST, "/clock?advance=3600", "").await;
    let after = c
        .get_json("/object/billing/namespace/ns0001/info?sizeunit=BYTE")
        .await;
    let t = |v: &serde_json::Value| {
        ecs_sim::timefmt::parse_minute(v["uptodate_till"].as_str().unwrap()).unwrap()
    };
    assert_eq!(t(&after) - t(&before), 3600);
    let size = |v: &serde_json::Value| v["total_size"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(size(&after) > size(&before), "data grows with time");
}

#[tokio::test]
async fn https_with_a_certificate_clients_can_verify() {
    let sim = start(Version::Ecs38).await;
    assert!(sim.url().starts_with("https://"));
    let pem = sim.cert_pem.clone().unwrap();
    let verified = support::tls_client(Some(&pem));
    let r = verified
        .get(format!(
            "{}/login",
            sim.url().replace("127.0.0.1", "localhost")
        ))
        .basic_auth("root", Some("ChangeMe"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Refused for its certificate, not for anything else.
    let untrusting = support::tls_client(None);
    let e = untrusting
        .get(format!("{}/login", sim.url()))
        .send()
        .await
        .unwrap_err();
    let chain = format!("{e:?}").to_ascii_lowercase();
    assert!(chain.contains("certificate"), "{chain}");
}
