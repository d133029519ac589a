//! What the ECS receiver does when ECS misbehaves: each test injects a fault into the
//! simulator and asserts what the agent reports, and that it leaves no session behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ecs_sim::{FaultRule, SessionConfig, Version};
use receiver_ecs::CollectorKind::{Dashboard, NodeStats};
use support::*;
use tokio::time::Instant;

fn rule(path: &str) -> FaultRule {
    FaultRule {
        path: path.into(),
        ..FaultRule::default()
    }
}

#[tokio::test]
async fn a_401_mid_run_costs_one_new_login_and_the_data_is_complete() {
    let env = start(Version::Ecs38, |_| {}).await;
    let cs = env.collectors();
    let dash = of(&cs, Dashboard);
    let first = ok(&dash, 1).await;
    assert_eq!(env.logins().0, 1);
    // The cluster forgets every token (a restart, an admin's forced logout): the calls
    // in flight at the start of the next cycle get 401.
    env.sim.sim.sessions.clear();
    let second = ok(&dash, 2).await;
    assert!(second.warnings.is_empty(), "{:?}", second.warnings);
    assert_eq!(names(&second), names(&first));
    // The figures are the cluster's, not a stale copy: the raw capacity does not move
    // with time, so the model's is the one to see.
    let total = {
        let m = env.sim.model();
        m.capacity(env.sim.sim.clock.now(), &env.sim.sim.faults.overrides())
            .total
    };
    assert_eq!(value(&second, "emcecs.capacity.total", &[]), total as f64);
    assert_eq!(env.logins().0, 2, "one new login for all nine calls");
    assert_eq!(
        value(
            &second,
            "ecs_otel_agent.ecs.logins",
            &[("outcome", "success")]
        ),
        2.0
    );
    // The calls that were in flight when the token died were refused, and counted so.
    let refused: f64 = find(&second, "ecs_otel_agent.ecs.requests", &[("status", "401")])
        .iter()
        .map(|p| p.value)
        .sum();
    assert!(
        (1.0..=f64::from(env.cfg.max_concurrent_requests as u32)).contains(&refused),
        "{refused} calls answered 401"
    );
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_token_refused_every_time_is_retried_twice_per_call_then_reported() {
    // Tokens that die at once: every call is answered 401.
    let env = start(Version::Ecs38, |s| {
        s.sessions = SessionConfig {
            lifetime: Duration::ZERO,
            ..SessionConfig::default()
        };
    })
    .await;
    let mut cfg = env.cfg.clone();
    cfg.max_concurrent_requests = 1;
    let cluster = receiver_ecs::Cluster::new("lab", &cfg, "agent").unwrap();
    let err = cluster
        .client
        .json(receiver_ecs::client::Call::get("/vdc/nodes", "/vdc/nodes"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "auth", "{err}");
    assert!(
        err.to_string().contains("still 401 after 2 new logins"),
        "{err}"
    );
    assert_eq!(env.calls("GET /login"), 3, "the first login and two more");
    assert_eq!(env.calls("GET /vdc/nodes"), 3);
    // Tokens die at once here, so counting the simulator's proves nothing: the client
    // must not hold on to a refused token (there is then nothing to log out).
    assert!(!cluster.client.has_session());
    cluster.shutdown().await;
    assert_eq!(env.calls("GET /logout"), 0);
}

#[tokio::test]
async fn the_token_limit_is_a_clear_error_without_a_login_storm() {
    let mut env = start(Version::Ecs38, |s| s.faults.token_limit_reached = true).await;
    env.cfg.login_backoff = Duration::from_millis(400);
    let cs = env.collectors();
    let (dash, nodes) = (of(&cs, Dashboard), of(&cs, NodeStats));
    let started = Instant::now();
    for n in 1..=3 {
        let (d, s) = tokio::join!(
            run(&dash, n, Duration::from_secs(10)),
            run(&nodes, n, Duration::from_secs(10))
        );
        for r in [d, s] {
            let e = r.expect_err("no session, no data");
            // Inside the back-off the last refusal is repeated, not retried.
            assert_eq!(e.kind, "token_limit", "{}", e.message);
            // Waiting is right: the error itself says health is only degraded.
            assert_eq!(e.impact, pipeline::Impact::Degraded);
            assert!(
                e.message.contains("limit of concurrent tokens")
                    && e.message.contains("emcmonitor"),
                "{}",
                e.message
            );
        }
    }
    // Back-off starts at 400 ms and doubles: at most one login per elapsed step.
    let elapsed = started.elapsed().as_millis() as u64;
    let allowed = 1 + elapsed / 400;
    let logins = env.calls("GET /login");
    assert!(
        (1..=allowed).contains(&logins),
        "{logins} logins in {elapsed} ms (allowed {allowed}); six runs of two collectors"
    );
    // The limit lifts (other sessions expired): the next login after the back-off works.
    env.sim.sim.faults.update(|f| f.token_limit_reached = false);
    eventually(
        Duration::from_secs(15),
        "a session after the limit lifts",
        || async { run(&dash, 9, Duration::from_secs(10)).await.is_ok() },
    )
    .await;
    assert_eq!(env.tokens(), 1);
    finish(&env, &cs).await;
}

/// A node that stops answering says so at once (`up` 0) but its figures are served from
/// its last good answers for `keep_last_good_cycles` (3) cycles, as for any endpoint;
/// then they get staleness markers and end. The warnings name the node and its own URL,
/// not the management API's.
#[tokio::test]
async fn a_dead_node_serves_its_last_good_figures_for_three_cycles_then_goes_stale() {
    let env = start(Version::Ecs38, |_| {}).await;
    let cs = env.collectors();
    let nodes = of(&cs, NodeStats);
    let before = ok(&nodes, 1).await;
    let dead = env.sim.model().nodes[1].name.clone();
    let at = [("node", dead.as_str())];
    let total_at = [at[0], ("state", "total")];
    assert_eq!(value(&before, "emcecs.node.stats.up", &at), 1.0);
    let total = value(&before, "emcecs.node.dt.tables", &total_at);
    let load = value(&before, "emcecs.node.load_factor", &at);
    env.sim.sim.faults.update(|f| f.nodes_down = vec![1]);
    let ip = env.sim.model().nodes[1].mgmt_ip.to_string();
    for cycle in 1..=3u64 {
        let after = ok(&nodes, 1 + cycle).await;
        assert_eq!(value(&after, "emcecs.node.stats.up", &at), 0.0);
        assert_eq!(value(&after, "emcecs.node.dt.tables", &total_at), total);
        assert_eq!(value(&after, "emcecs.node.load_factor", &at), load);
        let served = format!("serving the last good answer ({cycle} of 3 cycles)");
        assert!(
            after
                .warnings
                .iter()
                .any(|w| w.contains(&dead) && w.contains(&ip) && w.contains(&served)),
            "{:?}",
            after.warnings
        );
    }
    let after = ok(&nodes, 5).await;
    assert_eq!(value(&after, "emcecs.node.stats.up", &at), 0.0);
    for state in ["total", "unready", "unknown"] {
        let p = find(
            &after,
            "emcecs.node.dt.tables",
            &[("node", dead.as_str()), ("state", state)],
        );
        assert_eq!(p.len(), 1);
        assert!(p[0].stale, "{state}: {:?}", p[0]);
    }
    let load = find(&after, "emcecs.node.load_factor", &at);
    assert!(load.len() == 1 && load[0].stale, "{load:?}");
    // The warning names the node, its address, and the node's URL (not the management
    // API's) when the connection fails.
    let mgmt = env.sim.url();
    let errors: Vec<&String> = after
        .warnings
        .iter()
        .filter(|w| w.contains(&dead) && w.contains(&ip) && w.contains("cannot reach"))
        .collect();
    assert!(!errors.is_empty(), "{:?}", after.warnings);
    for w in &errors {
        assert!(w.contains(&format!("http://{ip}:")), "{w}");
        assert!(!w.contains(&mgmt), "{w}");
    }
    // Every other node is fine.
    let o = env.sim.sim.faults.overrides();
    for (i, n) in env
        .sim
        .model()
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
    {
        let at = [("node", n.name.as_str())];
        assert_eq!(value(&after, "emcecs.node.stats.up", &at), 1.0);
        assert_eq!(
            value(
                &after,
                "emcecs.node.dt.tables",
                &[at[0], ("state", "total")]
            ),
            env.sim.model().dt_stats(i, &o).0 as f64
        );
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_node_that_never_answers_is_cut_off_by_its_own_timeout() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    env.cfg.collectors.node_stats.node_timeout = Duration::from_millis(300);
    let cs = env.collectors();
    env.sim.sim.faults.update(|f| {
        f.rules = vec![FaultRule {
            timeout: true,
            ..rule("node:ping")
        }]
    });
    // The run's own deadline is far away: only the per-node timeout can end it in time.
    let s = tokio::time::timeout(
        Duration::from_secs(30),
        run(&of(&cs, NodeStats), 1, Duration::from_secs(600)),
    )
    .await
    .expect("the cycle ends on the node timeout")
    .expect("the stats calls still answered");
    {
        let m = env.sim.model();
        for n in &m.nodes {
            let at = [("node", n.name.as_str())];
            assert_eq!(value(&s, "emcecs.node.stats.up", &at), 1.0);
            let lf = find(&s, "emcecs.node.load_factor", &at);
            assert!(lf.len() == 1 && lf[0].stale, "{lf:?}");
        }
        assert!(
            s.warnings
                .iter()
                .filter(|w| w.contains("no answer within 300 ms"))
                .count()
                == m.nodes.len(),
            "{:?}",
            s.warnings
        );
    }
    finish(&env, &cs).await;
}

#[tokio::test]
async fn malformed_json_keeps_the_last_good_values_for_three_cycles_then_expires_them() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    env.cfg.keep_last_good_cycles = 3;
    let cs = env.collectors();
    let dash = of(&cs, Dashboard);
    let good = ok(&dash, 1).await;
    let total = value(&good, "emcecs.capacity.total", &[]);
    env.sim.sim.faults.update(|f| {
        f.rules = vec![FaultRule {
            malformed: true,
            ..rule("/dashboard/zones/localzone")
        }]
    });
    for cycle in 1..=3 {
        let s = ok(&dash, 1 + cycle).await;
        assert_eq!(value(&s, "emcecs.capacity.total", &[]), total);
        let w = s.warnings.join("\n");
        assert!(
            w.contains("/dashboard/zones/localzone: malformed answer: invalid JSON")
                && w.contains(&format!("last good answer ({cycle} of 3 cycles)")),
            "{w}"
        );
        // Nothing else is touched.
        assert!(!find(&s, "emcecs.node.disks", &[]).is_empty());
    }
    let expired = ok(&dash, 5).await;
    assert!(find(&expired, "emcecs.capacity.total", &[]).is_empty());
    assert!(
        expired.warnings.iter().any(|w| w.contains("expired")),
        "{:?}",
        expired.warnings
    );
    assert!(!find(&expired, "emcecs.node.disks", &[]).is_empty());
    // Fixed: back at once.
    env.sim.sim.faults.update(|f| f.rules.clear());
    let back = ok(&dash, 6).await;
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    assert!(!find(&back, "emcecs.capacity.total", &[]).is_empty());
    finish(&env, &cs).await;
}

#[tokio::test]
async fn an_api_down_for_ten_cycles_opens_the_breakers_then_recovers() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    // Longer than the ten down cycles take, so that no probe goes out among them.
    let cool_down = Duration::from_secs(5);
    env.cfg.circuit_breaker.cool_down = cool_down;
    let threshold = u64::from(env.cfg.circuit_breaker.failure_threshold);
    let cs = env.collectors();
    let dash = of(&cs, Dashboard);
    ok(&dash, 1).await;
    env.sim.sim.log.reset();
    env.sim.sim.faults.update(|f| {
        f.rules = vec![FaultRule {
            error_rate: 1.0,
            status: Some(503),
            ..rule("*")
        }]
    });
    let down = Instant::now();
    let mut last = None;
    for cycle in 0..10 {
        let r = run(&dash, 2 + cycle, Duration::from_secs(10)).await;
        last = Some(r);
    }
    let elapsed = down.elapsed();
    // Per route: `threshold` failures open the breaker, then one probe per cool-down.
    let allowed = threshold + (elapsed.as_millis() / cool_down.as_millis()) as u64;
    let routes = env.sim.sim.log.routes();
    // Every route of a steady dashboard cycle was tried, and no other.
    let want: Vec<String> = {
        let m = env.sim.model();
        support::calls::dashboard(&m, false).into_keys().collect()
    };
    assert_eq!(routes.keys().cloned().collect::<Vec<_>>(), want);
    for (route, st) in &routes {
        assert!(
            (threshold..=allowed).contains(&st.calls),
            "{route}: {} calls in 10 cycles over {elapsed:?} (allowed {threshold}..={allowed})",
            st.calls
        );
        assert_eq!(st.by_status.get(&503), Some(&st.calls), "{route}");
    }
    // The tenth cycle has nothing left to serve and says why; the breakers show as open.
    let err = last.unwrap().expect_err("the API is down");
    assert!(
        err.message.contains("circuit open"),
        "{}: {}",
        err.kind,
        err.message
    );
    let partial = err.partial.expect("client figures still reported");
    for route in ["/object/capacity", "/dashboard/zones/localzone"] {
        assert_eq!(
            value(
                &partial,
                "ecs_otel_agent.ecs.circuit.open",
                &[("endpoint", route)]
            ),
            1.0
        );
    }
    // Back up: within a cool-down the probes succeed and the cycle is complete again.
    env.sim.sim.faults.update(|f| f.rules.clear());
    let mut n = 20;
    eventually(Duration::from_secs(30), "a complete cycle after recovery", || {
        n += 1;
        let dash = dash.clone();
        async move {
            matches!(run(&dash, n, Duration::from_secs(10)).await, Ok(s) if s.warnings.is_empty())
        }
    })
    .await;
    let s = ok(&dash, 99).await;
    assert_eq!(
        value(
            &s,
            "ecs_otel_agent.ecs.circuit.open",
            &[("endpoint", "/object/capacity")]
        ),
        0.0
    );
    assert_eq!(env.logins().0, 1, "errors are not a reason to log in again");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_slow_endpoint_is_cut_off_by_the_call_timeout_and_the_rest_reports() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    env.cfg.request_timeout = Duration::from_millis(300);
    let cs = env.collectors();
    env.sim.sim.faults.update(|f| {
        f.rules = vec![FaultRule {
            latency_ms: 60_000,
            ..rule("/object/capacity")
        }]
    });
    let s = tokio::time::timeout(
        Duration::from_secs(30),
        run(&of(&cs, Dashboard), 1, Duration::from_secs(600)),
    )
    .await
    .expect("the cycle ends on the call timeout")
    .expect("the other calls answered");
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("/object/capacity: no answer within 300 ms")),
        "{:?}",
        s.warnings
    );
    assert!(find(&s, "emcecs.object.capacity.provisioned", &[]).is_empty());
    assert!(!find(&s, "emcecs.capacity.total", &[]).is_empty());
    assert_eq!(
        value(
            &s,
            "ecs_otel_agent.ecs.requests",
            &[("endpoint", "/object/capacity"), ("status", "timeout")]
        ),
        1.0
    );
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_bad_password_is_reported_once_per_back_off_not_per_call() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    env.cfg.password = Some(pipeline::config::Secret::new("wrong"));
    let cs = env.collectors();
    let e = run(&of(&cs, Dashboard), 1, Duration::from_secs(10))
        .await
        .expect_err("refused");
    assert_eq!(e.kind, "auth");
    // A refused password needs a person: unhealthy once it lasts.
    assert_eq!(e.impact, pipeline::Impact::Unhealthy);
    assert!(
        e.message.contains("as emcmonitor refused") && !e.message.contains("wrong"),
        "{}",
        e.message
    );
    run(&of(&cs, NodeStats), 1, Duration::from_secs(10))
        .await
        .expect_err("still refused");
    assert_eq!(env.calls("GET /login"), 1);
    finish(&env, &cs).await;
}

#[tokio::test]
async fn an_unreachable_endpoint_names_the_address() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    let port = testkit::free_port();
    env.cfg.endpoint = format!("https://127.0.0.1:{port}");
    let cs = env.collectors();
    let e = run(&of(&cs, Dashboard), 1, Duration::from_secs(10))
        .await
        .expect_err("nothing listens");
    assert!(
        e.message.contains(&format!("127.0.0.1:{port}")),
        "{}: {}",
        e.kind,
        e.message
    );
    finish(&env, &cs).await;
}

#[tokio::test]
async fn tls_is_verified_unless_told_otherwise() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    let ca = env.cfg.tls.ca_file.take();
    // System roots do not know the simulator's self-signed certificate.
    let cs = env.collectors();
    let e = run(&of(&cs, Dashboard), 1, Duration::from_secs(10))
        .await
        .expect_err("an unknown issuer is refused");
    assert!(
        e.message.to_ascii_lowercase().contains("certificate"),
        "{}: {}",
        e.kind,
        e.message
    );
    finish(&env, &cs).await;
    assert_eq!(
        env.calls("GET /login"),
        0,
        "no credentials sent to an unverified peer"
    );

    // A name the certificate does not carry is refused too, even with the right CA.
    env.cfg.tls.ca_file = ca.clone();
    env.cfg.tls.server_name = Some("ecs.elsewhere.example".into());
    let cs = env.collectors();
    let e = run(&of(&cs, Dashboard), 1, Duration::from_secs(10))
        .await
        .expect_err("wrong name");
    assert!(
        e.message.to_ascii_lowercase().contains("certificate"),
        "{}",
        e.message
    );
    finish(&env, &cs).await;

    // The lab switch works, without a CA.
    env.cfg.tls.server_name = None;
    env.cfg.tls.ca_file = None;
    env.cfg.tls.insecure_skip_verify = true;
    let cs = env.collectors();
    ok(&of(&cs, Dashboard), 1).await;
    finish(&env, &cs).await;
}
