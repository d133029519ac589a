//! The management client's limits, seen from the simulator's side: calls in flight never
//! exceed the configured number, refused logins back off doubling up to ten minutes, and
//! only server errors (not 4xx answers, not calls that never reached ECS) trip a breaker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use ecs_sim::{FaultRule, Version};
use receiver_ecs::ClientError;
use receiver_ecs::CollectorKind::Dashboard;
use receiver_ecs::client::Call;
use support::*;
use tokio::time::Instant;

#[tokio::test]
async fn at_most_the_configured_number_of_management_calls_are_in_flight() {
    for n in [1, 2, 4] {
        // Every answer takes a while: the dashboard's nine reads and the bucket reads of
        // five namespaces all want to run at once.
        let mut env = start(Version::Ecs38, |s| {
            s.faults.rules.push(FaultRule {
                path: "*".into(),
                latency_ms: 150,
                ..FaultRule::default()
            })
        })
        .await;
        env.cfg.max_concurrent_requests = n;
        env.cfg.collectors.node_stats.schedule.enabled = false;
        let cs = env.collectors();
        ok(&of(&cs, Dashboard), 1).await;
        let calls = env.sim.sim.log.total();
        assert!(calls > 10, "{calls} calls");
        // Never more than the limit, and the limit is reached: it is what holds them back.
        assert_eq!(env.sim.sim.log.max_in_flight(), n as u64, "limit {n}");
        finish(&env, &cs).await;
    }
}

/// Refused logins (ECS's token limit here): the first refusal waits 30 s, each next one
/// twice as long, never more than 10 minutes; during the wait calls fail at once as the
/// refusal they stand for, without asking ECS. Tokio's clock is paused while waiting, so
/// an hour and a half of back-off takes no time; the logins themselves are real.
#[tokio::test]
async fn refused_logins_back_off_doubling_up_to_ten_minutes() {
    let env = start(Version::Ecs38, |s| s.faults.token_limit_reached = true).await;
    let cs = env.collectors();
    let client = &of(&cs, Dashboard).cluster.client;
    let call = || client.json(Call::get("/vdc/nodes", "/vdc/nodes"));
    let mut waits = Vec::new();
    for refusal in 1..=8u64 {
        let e = call().await.unwrap_err();
        assert_eq!(e.kind(), "token_limit", "{e}");
        assert_eq!(env.calls("GET /login"), refusal);
        tokio::time::pause();
        let ClientError::LoginBackoff {
            wait, last_kind, ..
        } = call().await.unwrap_err()
        else {
            panic!("not backing off after refusal {refusal}");
        };
        assert_eq!(last_kind, "token_limit");
        waits.push(wait.as_secs_f64().ceil() as u64);
        // Still waiting a millisecond before the end; free to try at the end.
        tokio::time::advance(wait - Duration::from_millis(1)).await;
        assert!(matches!(
            call().await.unwrap_err(),
            ClientError::LoginBackoff { .. }
        ));
        assert_eq!(
            env.calls("GET /login"),
            refusal,
            "no login while backing off"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        tokio::time::resume();
    }
    assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600, 600]);
    // ECS frees tokens: the next try logs in, and the count starts over.
    env.sim.sim.faults.update(|f| f.token_limit_reached = false);
    call().await.unwrap();
    env.sim.sim.faults.update(|f| f.token_limit_reached = true);
    env.sim.sim.sessions.clear();
    call().await.unwrap_err();
    tokio::time::pause();
    let ClientError::LoginBackoff { wait, .. } = call().await.unwrap_err() else {
        panic!("not backing off");
    };
    assert_eq!(
        wait.as_secs_f64().ceil() as u64,
        30,
        "the back-off restarts after a success"
    );
    tokio::time::resume();
}

/// A login that could not even be sent (the caller's time was up) refused nothing: it
/// starts no back-off for the other calls.
#[tokio::test]
async fn a_login_out_of_time_starts_no_back_off() {
    let env = start(Version::Ecs38, |_| {}).await;
    let cs = env.collectors();
    let client = &of(&cs, Dashboard).cluster.client;
    let spent = client
        .json(Call::get("/vdc/nodes", "/vdc/nodes").until(Instant::now()))
        .await
        .unwrap_err();
    assert_eq!(spent.kind(), "timeout");
    assert_eq!(env.calls("GET /login"), 0);
    client
        .json(Call::get("/vdc/nodes", "/vdc/nodes"))
        .await
        .unwrap();
    assert_eq!(env.calls("GET /login"), 1);
    finish(&env, &cs).await;
}

#[tokio::test]
async fn client_errors_do_not_trip_the_breaker_server_errors_do() {
    let env = start(Version::Ecs38, |_| {}).await;
    let cs = env.collectors();
    let client = &of(&cs, Dashboard).cluster.client;
    let capacity = || client.json(Call::get("/object/capacity", "/object/capacity"));
    let fail_with = |status| {
        env.sim.sim.faults.set(ecs_sim::FaultConfig {
            rules: vec![FaultRule {
                path: "/object/capacity".into(),
                error_rate: 1.0,
                status: Some(status),
                ..FaultRule::default()
            }],
            ..Default::default()
        })
    };
    // The breaker opens after 5 failures (the default): 8 answers of 404 are 8 answers.
    fail_with(404);
    for _ in 0..8 {
        let e = capacity().await.unwrap_err();
        assert!(matches!(e, ClientError::Status { status: 404, .. }), "{e}");
    }
    assert_eq!(env.calls("GET /object/capacity"), 8);
    // Server errors do: the 6th call is refused without reaching ECS.
    fail_with(503);
    for _ in 0..5 {
        assert_eq!(capacity().await.unwrap_err().kind(), "server_error");
    }
    assert_eq!(capacity().await.unwrap_err().kind(), "circuit_open");
    assert_eq!(env.calls("GET /object/capacity"), 13);
    finish(&env, &cs).await;
}

/// Calls that never reached ECS — no time left, or no permit within their time — are not
/// the endpoint failing: ten of them leave its breaker closed.
#[tokio::test]
async fn calls_that_never_reached_ecs_do_not_trip_the_breaker() {
    let mut env = start(Version::Ecs38, |_| {}).await;
    env.cfg.max_concurrent_requests = 1;
    let cs = env.collectors();
    let cluster = of(&cs, Dashboard).cluster.clone();
    let client = &cluster.client;
    let capacity =
        |until| client.json(Call::get("/object/capacity", "/object/capacity").until(until));
    capacity(Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();

    // No time left.
    for _ in 0..10 {
        let e = capacity(Instant::now()).await.unwrap_err();
        assert!(
            matches!(e, ClientError::Timeout { after, .. } if after.is_zero()),
            "{e}"
        );
    }
    // No permit: the only one is held by a call ECS never answers.
    env.sim.sim.faults.update(|f| {
        f.rules.push(FaultRule {
            path: "/vdc/nodes".into(),
            timeout: true,
            ..FaultRule::default()
        })
    });
    let holder = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs(60);
            let _ = cluster
                .client
                .json(Call::get("/vdc/nodes", "/vdc/nodes").until(until))
                .await;
        })
    };
    support::eventually(
        Duration::from_secs(10),
        "the holder's call reaches ECS",
        || async { env.sim.sim.log.in_flight() == 1 },
    )
    .await;
    for _ in 0..10 {
        let e = capacity(Instant::now() + Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ClientError::Timeout { after, .. } if after.is_zero()),
            "{e}"
        );
    }
    holder.abort();
    let _ = holder.await;
    assert_eq!(
        env.calls("GET /object/capacity"),
        1,
        "none of them reached ECS"
    );
    // The breaker is closed: the next call is made and answered.
    capacity(Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(env.calls("GET /object/capacity"), 2);
    assert!(client.stats().open_circuits.is_empty());
    finish(&env, &cs).await;
}
