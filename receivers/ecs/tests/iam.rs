//! The IAM collector against the simulator: counts, ages and activity equal the model's,
//! in JSON and XML, with paging forced; privileges judged on the documents the model
//! attaches; authentication providers probed on real sockets; nothing secret exported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ecs_sim::Version;
use ecs_sim::model::iam::{Domain, GLOBAL_POLICIES, global_policy_arn};
use receiver_ecs::CollectorKind::Iam;
use receiver_ecs::iam::config::{EntityLabels, IamFormat};
use receiver_ecs::iam::policy;
use support::*;

async fn iam_env(tweak: impl FnOnce(&mut receiver_ecs::EcsConfig)) -> Env {
    let mut env = start(Version::Ecs38, |_| {}).await;
    let c = &mut env.cfg.collectors;
    c.dashboard.enabled = false;
    c.node_stats.enabled = false;
    c.iam.enabled = true;
    c.iam.page_size = Some(2);
    c.iam.probe_timeout = Duration::from_millis(500);
    tweak(&mut env.cfg);
    env
}

fn now() -> i64 {
    pipeline::timefmt::secs(std::time::SystemTime::now())
}

/// Documents that apply to an entity: attached managed (default version), inline, and for
/// a user its groups'.
fn docs(
    d: &Domain,
    attached: &[String],
    inline: &[(String, String)],
    groups: &[String],
) -> Vec<serde_json::Value> {
    let managed = |arn: &String| -> Option<String> {
        d.policy(arn)
            .map(|p| p.default_version().1.clone())
            .or_else(|| {
                GLOBAL_POLICIES
                    .iter()
                    .find(|(n, _)| global_policy_arn(n) == *arn)
                    .map(|(_, doc)| (*doc).to_owned())
            })
    };
    let mut out: Vec<String> = attached.iter().filter_map(managed).collect();
    out.extend(inline.iter().map(|(_, doc)| doc.clone()));
    for g in groups {
        if let Some(g) = d.groups.iter().find(|x| &x.name == g) {
            out.extend(g.attached.iter().filter_map(managed));
            out.extend(g.inline.iter().map(|(_, doc)| doc.clone()));
        }
    }
    out.iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect()
}

/// Every figure of every namespace equals the model's (ages within the day the cycle ran).
fn check(env: &Env, s: &pipeline::Snapshot, t0: i64, t1: i64) {
    let m = env.sim.model();
    let days = |t: i64, now: i64| ((now - t) / 86_400) as f64;
    for ns in m.namespaces.values() {
        let d = &ns.iam;
        let at = |k: &'static str, v: &'static str| [("namespace", ns.name.as_str()), (k, v)];
        for (t, service) in [("human", false), ("service_account", true)] {
            let of: Vec<_> = d
                .users
                .iter()
                .filter(|u| u.service_account == service)
                .collect();
            assert_eq!(
                value(s, "emcecs.iam.users", &at("user_type", t)) as usize,
                of.len()
            );
            let active = |now: i64| {
                of.iter()
                    .filter(|u| {
                        let last = u
                            .keys
                            .iter()
                            .filter_map(|k| k.last_used.last(now))
                            .chain(u.password_last_used.last(now))
                            .max();
                        last.is_some_and(|l| now - l <= 90 * 86_400)
                    })
                    .count() as f64
            };
            let got = value(s, "emcecs.iam.users.active", &at("user_type", t));
            assert!(
                got == active(t0) || got == active(t1),
                "{} {t}: {got}",
                ns.name
            );
        }
        for u in &d.users {
            let ua = [("namespace", ns.name.as_str()), ("user", u.name.as_str())];
            // Oldest key per status.
            let mut oldest: BTreeMap<&str, i64> = BTreeMap::new();
            for k in &u.keys {
                let st = if k.active { "active" } else { "inactive" };
                let e = oldest.entry(st).or_insert(k.created);
                *e = (*e).min(k.created);
            }
            for (st, c) in &oldest {
                let got = value(
                    s,
                    "emcecs.iam.credential.age",
                    &[ua[0], ua[1], ("status", st)],
                );
                assert!(
                    got == days(*c, t0) || got == days(*c, t1),
                    "{}: {got}",
                    u.name
                );
            }
            let last = |now: i64| {
                u.keys
                    .iter()
                    .filter_map(|k| k.last_used.last(now))
                    .chain(u.password_last_used.last(now))
                    .max()
            };
            let inactive = find(s, "emcecs.iam.users.inactive", &ua);
            let since = last(t1).unwrap_or(u.created);
            if t1 - since > 90 * 86_400 + 86_400 {
                assert_eq!(inactive.len(), 1, "{} is dormant", u.name);
                let got = inactive[0].value;
                let since0 = last(t0).unwrap_or(u.created);
                assert!(
                    got == days(since0, t0) || got == days(since, t1),
                    "{}",
                    u.name
                );
                let expect = if last(t1).is_some() { "seen" } else { "never" };
                assert_eq!(inactive[0].attrs["activity"], expect);
            } else if t1 - since < 90 * 86_400 - 86_400 {
                assert!(inactive.is_empty(), "{} is active: {inactive:?}", u.name);
            }
        }
        let keys = |active: bool| {
            d.users
                .iter()
                .flat_map(|u| &u.keys)
                .filter(|k| k.active == active)
                .count() as f64
        };
        assert_eq!(
            value(s, "emcecs.iam.access_keys", &at("status", "active")),
            keys(true)
        );
        assert_eq!(
            value(s, "emcecs.iam.access_keys", &at("status", "inactive")),
            keys(false)
        );
        let nsa = [("namespace", ns.name.as_str())];
        assert_eq!(value(s, "emcecs.iam.groups", &nsa) as usize, d.groups.len());
        assert_eq!(value(s, "emcecs.iam.roles", &nsa) as usize, d.roles.len());
        assert_eq!(
            value(s, "emcecs.iam.policies", &at("policy_type", "managed")) as usize,
            d.policies.len()
        );
        let inline = d.users.iter().map(|u| u.inline.len()).sum::<usize>()
            + d.groups.iter().map(|g| g.inline.len()).sum::<usize>()
            + d.roles.iter().map(|r| r.inline.len()).sum::<usize>();
        assert_eq!(
            value(s, "emcecs.iam.policies", &at("policy_type", "inline")) as usize,
            inline
        );
        for (kind, n) in [
            (
                "user",
                d.users.iter().map(|u| u.attached.len()).sum::<usize>(),
            ),
            ("group", d.groups.iter().map(|g| g.attached.len()).sum()),
            ("role", d.roles.iter().map(|r| r.attached.len()).sum()),
        ] {
            assert_eq!(
                value(s, "emcecs.iam.policy.attachments", &at("attached_to", kind)) as usize,
                n,
                "{} {kind}",
                ns.name
            );
        }
        // Privileges, judged on the documents the model attaches where the model says.
        let mut over_users = 0;
        for u in &d.users {
            let grants = policy::over_privilege(&docs(d, &u.attached, &u.inline, &u.groups));
            let got = find(
                s,
                "emcecs.iam.overprivileged.entity",
                &[("namespace", ns.name.as_str()), ("entity", u.name.as_str())],
            );
            if grants.is_empty() {
                assert!(got.is_empty(), "{}: {got:?}", u.name);
            } else {
                over_users += 1;
                let want: Vec<&str> = grants.iter().map(|g| g.as_str()).collect();
                assert_eq!(got.len(), 1, "{}", u.name);
                assert_eq!(got[0].attrs["grants"], want.join(","));
                assert_eq!(got[0].attrs["entity_type"], "user");
            }
        }
        let over_roles = d
            .roles
            .iter()
            .filter(|r| !policy::over_privilege(&docs(d, &r.attached, &r.inline, &[])).is_empty())
            .count();
        assert_eq!(
            value(
                s,
                "emcecs.iam.overprivileged.entities",
                &at("entity_type", "user")
            ) as usize,
            over_users
        );
        assert_eq!(
            value(
                s,
                "emcecs.iam.overprivileged.entities",
                &at("entity_type", "role")
            ) as usize,
            over_roles
        );
    }
    // Management users by role.
    for (role, f) in [
        (
            "system_admin",
            (|u: &ecs_sim::model::MgmtUser| u.system_admin) as fn(&_) -> bool,
        ),
        ("system_monitor", |u| u.system_monitor),
        ("security_admin", |u| u.security_admin),
    ] {
        let n = m.mgmt_users.iter().filter(|u| f(u)).count();
        assert_eq!(
            value(s, "emcecs.management.users", &[("role", role)]) as usize,
            n,
            "{role}"
        );
    }
}

#[tokio::test]
async fn iam_figures_equal_the_model_in_json_and_xml_with_paging() {
    for format in [IamFormat::Json, IamFormat::Xml] {
        let env = iam_env(|c| c.collectors.iam.format = format).await;
        let cs = env.collectors();
        let t0 = now();
        let s = ok(&of(&cs, Iam), 1).await;
        let t1 = now();
        check(&env, &s, t0, t1);
        // Paging was forced: list calls outnumber namespaces.
        let lists = env.calls("POST /iam?Action=ListUsers");
        let namespaces = env.sim.model().namespaces.len() as u64;
        assert!(
            lists > namespaces,
            "{format:?}: {lists} ListUsers for {namespaces} namespaces"
        );
        // The second cycle reads no policy version again.
        let versions = env.calls("POST /iam?Action=GetPolicyVersion");
        assert!(versions > 0);
        ok(&of(&cs, Iam), 2).await;
        assert_eq!(env.calls("POST /iam?Action=GetPolicyVersion"), versions);
        finish(&env, &cs).await;
    }
}

/// A TCP listener on loopback that answers one LDAP message per connection (`answer`),
/// or never answers.
fn ldap_server(answer: bool) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            if answer {
                let mut buf = [0u8; 64];
                let _ = c.read(&mut buf);
                // searchResDone, success.
                let _ = c.write_all(&[
                    0x30, 0x0c, 0x02, 0x01, 0x01, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04,
                    0x00,
                ]);
            }
            held.push(c);
        }
    });
    port
}

#[tokio::test]
async fn providers_are_probed_reachable_refusing_and_silent() {
    let env = iam_env(|_| {}).await;
    let up = ldap_server(true);
    let silent = ldap_server(false);
    let refused = testkit::free_port();
    {
        let mut m = env.sim.sim.model_mut();
        m.authn_providers[0].server_urls = vec![format!("ldap://127.0.0.1:{up}")];
        m.authn_providers[1].server_urls = vec![
            format!("ldap://127.0.0.1:{refused}"),
            format!("ldap://127.0.0.1:{silent}"),
        ];
    }
    let cs = env.collectors();
    let started = Instant::now();
    // A long run deadline: only the probe timeout (500 ms) can end the silent probe.
    let s = tokio::time::timeout(
        Duration::from_secs(30),
        run(&of(&cs, Iam), 1, Duration::from_secs(600)),
    )
    .await
    .expect("the cycle ends on the probe timeout")
    .expect("IAM read");
    let took = started.elapsed();
    let (p0, p1, p2) = {
        let m = env.sim.model();
        (
            m.authn_providers[0].name.clone(),
            m.authn_providers[1].name.clone(),
            m.authn_providers[2].name.clone(),
        )
    };
    let server = |p: u16| format!("127.0.0.1:{p}");
    let avail = |prov: &str, port: u16| {
        value(
            &s,
            "emcecs.auth_provider.available",
            &[("provider", prov), ("server", server(port).as_str())],
        )
    };
    assert_eq!(avail(&p0, up), 1.0);
    assert!(
        !find(
            &s,
            "emcecs.auth_provider.response_time",
            &[("provider", p0.as_str())]
        )
        .is_empty()
    );
    assert_eq!(avail(&p1, refused), 0.0);
    assert_eq!(avail(&p1, silent), 0.0);
    let w = s.warnings.join("\n");
    assert!(
        w.contains(&format!("{p1} server {}: refused", server(refused))),
        "{w}"
    );
    assert!(
        w.contains(&format!("{p1} server {}: timeout", server(silent))),
        "{w}"
    );
    // The third provider is disabled: reported, not probed.
    assert_eq!(
        value(
            &s,
            "emcecs.auth_provider.enabled",
            &[("provider", p2.as_str())]
        ),
        0.0
    );
    assert!(
        find(
            &s,
            "emcecs.auth_provider.available",
            &[("provider", p2.as_str())]
        )
        .is_empty()
    );
    // The silent server was given up on at its timeout (500 ms), not at the system's
    // connect timeout or the run's deadline.
    assert!(took < Duration::from_secs(5), "{took:?}");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn entity_names_can_be_hashed_or_left_out() {
    let env = iam_env(|c| {
        c.collectors.iam.entity_labels = EntityLabels::Hash;
        c.collectors.iam.entity_label_salt = Some(pipeline::config::Secret::new("pepper"));
    })
    .await;
    let cs = env.collectors();
    let s = ok(&of(&cs, Iam), 1).await;
    let names: Vec<String> = env
        .sim
        .model()
        .namespaces
        .values()
        .flat_map(|n| n.iam.users.iter().map(|u| u.name.clone()))
        .collect();
    let labelled: Vec<Point> = points(&s)
        .into_iter()
        .filter(|p| p.attrs.contains_key("user") || p.attrs.contains_key("entity"))
        .collect();
    assert!(!labelled.is_empty());
    for p in &labelled {
        let v = p.attrs.get("user").or(p.attrs.get("entity")).unwrap();
        assert_eq!(v.len(), 16, "{v}");
        assert!(!names.contains(v));
    }
    finish(&env, &cs).await;

    let env = iam_env(|c| c.collectors.iam.entity_labels = EntityLabels::None).await;
    let cs = env.collectors();
    let s = ok(&of(&cs, Iam), 1).await;
    assert!(
        points(&s)
            .iter()
            .all(|p| !p.attrs.contains_key("user") && !p.attrs.contains_key("entity"))
    );
    assert!(!find(&s, "emcecs.iam.overprivileged.entities", &[]).is_empty());
    finish(&env, &cs).await;
}

#[tokio::test]
async fn nothing_secret_is_in_the_snapshot() {
    let env = iam_env(|_| {}).await;
    let cs = env.collectors();
    let s = ok(&of(&cs, Iam), 1).await;
    // And when calls fail on the way: error texts must not carry parameters either.
    env.sim.sim.faults.update(|f| {
        f.rules = vec![ecs_sim::FaultRule {
            path: "/iam".into(),
            error_rate: 0.2,
            status: Some(404),
            ..Default::default()
        }]
    });
    let failing = run(&of(&cs, Iam), 2, Duration::from_secs(20)).await;
    let failing = match failing {
        Ok(s) => s,
        Err(e) => *e.partial.expect("partial"),
    };
    assert!(!failing.warnings.is_empty(), "the faults must have shown");
    let text = format!("{s:?}{failing:?}");
    {
        let m = env.sim.model();
        for u in m.namespaces.values().flat_map(|n| &n.iam.users) {
            for k in &u.keys {
                assert!(!text.contains(&k.id), "key id {} exported", k.id);
                assert!(!text.contains(&k.secret), "a secret key exported");
            }
        }
    }
    assert!(!text.contains("Statement"), "a policy document exported");
    finish(&env, &cs).await;
}

#[tokio::test]
async fn a_slow_iam_api_is_read_over_several_cycles_oldest_first() {
    let env = iam_env(|c| c.collectors.iam.page_size = None).await;
    // About 35 calls per namespace at 60 ms: one namespace takes about two seconds, four
    // run at once, so a 4 s run (namespaces started until 3.6 s) reads the first four
    // and cuts the fifth off.
    env.sim.sim.faults.update(|f| {
        f.rules = vec![ecs_sim::FaultRule {
            path: "/iam".into(),
            latency_ms: 60,
            ..Default::default()
        }]
    });
    let cs = env.collectors();
    let iam = of(&cs, Iam);
    let total = env.sim.model().namespaces.len();
    let read = |s: &pipeline::Snapshot| find(s, "emcecs.iam.roles", &[]).len();
    let budget = Duration::from_secs(4);
    let mut counts = Vec::new();
    let mut cycle = 0;
    loop {
        cycle += 1;
        let started = Instant::now();
        let s = run(&iam, cycle, budget)
            .await
            .expect("a partial cycle is still a cycle");
        assert!(
            started.elapsed() < budget,
            "cycle {cycle} overran: {:?}",
            started.elapsed()
        );
        let n = read(&s);
        if n < total {
            assert!(
                s.warnings
                    .iter()
                    .any(|w| w.contains("not read within this cycle's time")),
                "{:?}",
                s.warnings
            );
        }
        // Never a failure: cut-off namespaces are postponed, not failed.
        assert!(
            !s.warnings.iter().any(|w| w.contains("no figures")),
            "{:?}",
            s.warnings
        );
        counts.push(n);
        if n == total {
            break;
        }
        assert!(
            cycle < 10,
            "not every namespace after {cycle} cycles: {counts:?}"
        );
    }
    assert!(
        counts[0] < total,
        "all {total} read in the first cycle: {counts:?}"
    );
    assert!(counts.windows(2).all(|w| w[1] >= w[0]), "{counts:?}");
    finish(&env, &cs).await;
}
