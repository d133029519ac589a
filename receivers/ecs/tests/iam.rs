//! The IAM collector against the simulator: counts, ages and activity equal the model's,
//! in JSON and XML, with paging forced; privileges judged on the documents the model
//! attaches; authentication providers probed on real sockets; nothing secret exported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use ecs_sim::Version;
use receiver_ecs::CollectorKind::Iam;
use receiver_ecs::iam::config::{EntityLabels, IamFormat};
use support::*;
use support::{calls, expect};

async fn iam_env(tweak: impl FnOnce(&mut receiver_ecs::EcsConfig)) -> Env {
    let mut env = start(Version::Ecs38, |_| {}).await;
    let c = &mut env.cfg.collectors;
    c.dashboard.schedule.enabled = false;
    c.node_stats.schedule.enabled = false;
    c.iam.schedule.enabled = true;
    c.iam.page_size = Some(2);
    // Room for a loaded machine; the silent server's test waits for it once.
    c.iam.probe_timeout = Duration::from_secs(2);
    tweak(&mut env.cfg);
    env
}

/// Every IAM figure equals the model's at a frozen second, in every ECS version and in
/// both of the IAM API's formats, with paging forced (two items a page); the calls are
/// those the model's sizes call for, and a second cycle reads no policy version again.
#[tokio::test]
async fn every_iam_figure_equals_the_model_in_every_version_and_format() {
    let runs = [
        (Version::Ecs35, IamFormat::Json),
        (Version::Ecs38, IamFormat::Json),
        (Version::Ecs38, IamFormat::Xml),
        (Version::ObjectScale41, IamFormat::Json),
    ];
    for (version, format) in runs {
        let what = format!("{} {format:?}", version.as_str());
        let mut env = start_frozen(version, |_| {}).await;
        let c = &mut env.cfg.collectors;
        c.dashboard.schedule.enabled = false;
        c.node_stats.schedule.enabled = false;
        c.iam.schedule.enabled = true;
        c.iam.page_size = Some(2);
        c.iam.format = format;
        let cs = env.collectors();
        let s = ok_at(&env, &of(&cs, Iam), 1).await;
        assert!(s.warnings.is_empty(), "{what}: {:?}", s.warnings);
        let logged = calls::logged(&env.sim);
        {
            let m = env.sim.model();
            let want = expect::Iam {
                m: &m,
                t: env.sim.sim.clock.now(),
            }
            .expect();
            expect::compare(&s, &want, expect::client_metric, &format!("iam {what}"));
            // The model holds both verdicts, for users and for roles.
            let over = |ty: &str| {
                find(
                    &s,
                    "emcecs.iam.overprivileged.entity",
                    &[("entity_type", ty)],
                )
                .len()
            };
            let users: usize = m.namespaces.values().map(|n| n.iam.users.len()).sum();
            assert!(
                over("user") > 0 && over("user") < users,
                "{what}: {} of {users}",
                over("user")
            );
            assert!(over("role") > 0, "{what}");

            let mut want = calls::iam(&m, 2);
            want.insert("GET /login".into(), 1);
            let versions = calls::iam_policy_versions(&m);
            let mut got = logged.clone();
            let read = got.remove("POST /iam?Action=GetPolicyVersion").unwrap_or(0);
            assert_eq!(got, want, "{what}: calls per action");
            assert!(
                versions.contains(&read),
                "{what}: {read} GetPolicyVersion, expected {versions:?}"
            );
        }
        // The second cycle reads no policy version again.
        env.sim.sim.log.reset();
        ok_at(&env, &of(&cs, Iam), 2).await;
        assert_eq!(env.calls("POST /iam?Action=GetPolicyVersion"), 0, "{what}");
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
    // A long run deadline: only the probe timeout (2 s) can end the silent probe.
    let s = tokio::time::timeout(
        Duration::from_secs(30),
        run(&of(&cs, Iam), 1, Duration::from_secs(600)),
    )
    .await
    .expect("the cycle ends on the probe timeout")
    .expect("IAM read");
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
        let s = run(&iam, cycle, budget)
            .await
            .expect("a partial cycle is still a cycle");
        let n = read(&s);
        let backlog = pipeline::Collector::backlog(&*iam).expect("IAM reports its backlog");
        if n < total {
            assert!(
                s.warnings
                    .iter()
                    .any(|w| w.contains("not read within this cycle's time")),
                "{:?}",
                s.warnings
            );
            assert!(backlog.parts > 0 && backlog.oldest.is_some(), "{backlog:?}");
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
    // A cycle reads about four of the five: one is always behind, but never for more
    // than the cycle it was cut off from (it comes first in the next).
    let backlog = pipeline::Collector::backlog(&*iam).unwrap();
    assert!((backlog.parts as usize) < total, "{backlog:?}");
    assert!(
        backlog.age(tokio::time::Instant::now()) < budget * 2,
        "{backlog:?}"
    );
    assert!(counts.windows(2).all(|w| w[1] >= w[0]), "{counts:?}");
    finish(&env, &cs).await;
}

/// A few entities given chosen inline documents, with their verdicts written by hand: a
/// union across documents, a Deny in one document taking back another's grant, conditions
/// and partial wildcards granting nothing, and an unreadable document counted while the
/// entity is judged on the rest.
#[tokio::test]
async fn chosen_documents_get_the_verdicts_written_by_hand() {
    use ecs_sim::model::iam::TEMPLATES;
    let doc = |name: &str| {
        TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| (*d).to_owned())
            .unwrap()
    };
    let env = iam_env(|c| c.collectors.iam.page_size = None).await;
    let (ns, users, role) = {
        let mut m = env.sim.sim.model_mut();
        let (ns, d) = m
            .namespaces
            .iter_mut()
            .map(|(k, v)| (k.clone(), &mut v.iam))
            .next()
            .unwrap();
        let mut set = |i: usize, docs: &[(&str, String)]| {
            let u = &mut d.users[i];
            u.attached.clear();
            u.groups.clear();
            u.inline = docs
                .iter()
                .map(|(n, d)| ((*n).to_owned(), d.clone()))
                .collect();
            u.name.clone()
        };
        let users = [
            set(0, &[("a", doc("AllButIam")), ("b", doc("IamEverything"))]),
            set(
                1,
                &[("a", doc("FullAdmin")), ("b", "{\"Statement\": [".into())],
            ),
            set(2, &[("a", doc("FullAdmin")), ("b", doc("AllowAllDenyAll"))]),
            set(
                3,
                &[("a", doc("S3FromOfficeOnly")), ("b", doc("ObjectsOnly"))],
            ),
            set(
                4,
                &[("a", doc("ReadOnlyBucket")), ("b", doc("S3Everything"))],
            ),
        ];
        let r = &mut d.roles[0];
        r.attached.clear();
        r.inline = vec![
            ("a".into(), doc("IamEverything")),
            ("b".into(), doc("WriteLogs")),
        ];
        (ns, users, r.name.clone())
    };
    let cs = env.collectors();
    let s = ok(&of(&cs, Iam), 1).await;
    let verdict = |ty: &str, name: &str| -> Option<String> {
        let got = find(
            &s,
            "emcecs.iam.overprivileged.entity",
            &[("namespace", &ns), ("entity_type", ty), ("entity", name)],
        );
        assert!(got.len() <= 1, "{got:?}");
        got.first().map(|p| {
            assert_eq!(p.value, 1.0);
            p.attrs["grants"].clone()
        })
    };
    assert_eq!(verdict("user", &users[0]).as_deref(), Some("iam:*,s3:*"));
    assert_eq!(verdict("user", &users[1]).as_deref(), Some("*,iam:*,s3:*"));
    assert_eq!(verdict("user", &users[2]), None);
    assert_eq!(verdict("user", &users[3]), None);
    assert_eq!(verdict("user", &users[4]).as_deref(), Some("s3:*"));
    assert_eq!(verdict("role", &role).as_deref(), Some("iam:*"));
    assert_eq!(
        value(
            &s,
            "emcecs.iam.policy_documents.unreadable",
            &[("namespace", &ns)]
        ),
        1.0
    );
    // Only the namespace holding it reports an unreadable document.
    assert_eq!(
        find(&s, "emcecs.iam.policy_documents.unreadable", &[]).len(),
        1
    );
    finish(&env, &cs).await;
}
