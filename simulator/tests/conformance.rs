//! Every path of the OpenAPI spec that the simulator serves, called in JSON and in XML and
//! checked against the spec: documented status, content type, the schema's shape, and the
//! keys of the spec's examples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use ecs_sim::Version;
use serde_json::Value;
use support::openapi::{Mode, Spec};
use support::{Client, start};

/// Example keys the simulator does not send, in which versions, and why (mirrored in
/// docs/SIMULATOR.md's table of guesses).
const EXAMPLE_EXCEPTIONS: &[(&str, &str, &[Version], &str)] = &[
    (
        "/vdc/nodes",
        "node[].label",
        &[Version::Ecs35, Version::Ecs38],
        "ObjectScale-only node fields (the example is from 4.1)",
    ),
    (
        "/vdc/nodes",
        "node[].psnt",
        &[Version::Ecs35, Version::Ecs38],
        "ObjectScale-only node fields (the example is from 4.1)",
    ),
    (
        "/vdc/nodes",
        "node[].security_status",
        &[Version::Ecs35, Version::Ecs38],
        "ObjectScale-only node fields (the example is from 4.1)",
    ),
    (
        "/vdc/nodes",
        "node[].serviceTag",
        &[Version::Ecs35, Version::Ecs38],
        "ObjectScale-only node fields (the example is from 4.1)",
    ),
    (
        "/vdc/alerts",
        "alerts",
        &[Version::Ecs38],
        "3.8 answers the flat MaxAlerts/Filter/alert form (python-ecsclient, REFERENCE §5.3)",
    ),
    (
        "/vdc/alerts",
        "cas_registered_applications",
        &[Version::Ecs38],
        "3.8 answers the flat MaxAlerts/Filter/alert form (python-ecsclient, REFERENCE §5.3)",
    ),
];

/// Places where the spec's schema contradicts AWS and the spec's own examples, and the
/// simulator follows the latter.
const SCHEMA_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "/iam?Action=ListAttachedUserPolicies",
        "$.ListAttachedUserPoliciesResult.AttachedPolicies[]",
        "items are {PolicyName, PolicyArn} objects as in AWS, not strings",
    ),
    (
        "/iam?Action=ListAttachedGroupPolicies",
        "$.ListAttachedGroupPoliciesResult.AttachedPolicies[]",
        "items are {PolicyName, PolicyArn} objects as in AWS, not strings",
    ),
    (
        "/iam?Action=ListAttachedRolePolicies",
        "$.ListAttachedRolePoliciesResult.AttachedPolicies[]",
        "items are {PolicyName, PolicyArn} objects as in AWS, not strings",
    ),
];

/// A problem's path without list indices: `$.a[3].b` → `$.a[].b`.
fn unindexed(problem: &str) -> String {
    let at = problem.split(':').next().unwrap_or("");
    let mut out = String::new();
    let mut skip = false;
    for c in at.chars() {
        match c {
            '[' => {
                out.push('[');
                skip = true;
            }
            ']' => {
                out.push(']');
                skip = false;
            }
            c if !skip => out.push(c),
            _ => {}
        }
    }
    out
}

struct Call {
    method: String,
    url: String,
    body: Option<String>,
    headers: Vec<(String, String)>,
}

fn call(method: &str, url: String) -> Call {
    Call {
        method: method.into(),
        url,
        body: None,
        headers: vec![],
    }
}

/// The concrete request for a spec path, with parameters taken from the model; None when
/// the path needs something the simulator does not model.
fn concrete(sim: &ecs_sim::RunningSim, path: &str, method: &str) -> Option<Call> {
    let m = sim.model();
    let ns = m.namespaces.values().next()?;
    let bucket = ns.buckets.values().next()?;
    let node = &m.nodes[0];
    let window = "start_time=2025-01-01T00:00&end_time=2025-01-02T00:00";
    let user = &ns.iam.users[0];
    let key_user = ns.iam.users.iter().find(|u| !u.keys.is_empty())?;
    let group = &ns.iam.groups[0];
    let role = &ns.iam.roles[0];
    let policy = &ns.iam.policies[0];
    let inline_user = ns
        .iam
        .users
        .iter()
        .find(|u| !u.inline.is_empty())
        .unwrap_or(user);
    if let Some(action) = path.strip_prefix("/iam?Action=") {
        let enc = |s: &str| ecs_sim::server::percent_encode(s);
        let params = match action {
            "GetUser"
            | "ListGroupsForUser"
            | "ListAttachedUserPolicies"
            | "ListUserPolicies"
            | "ListUserTags" => format!("&UserName={}", user.name),
            "ListAccessKeys" => format!("&UserName={}", key_user.name),
            "GetAccessKeyLastUsed" => format!("&AccessKeyId={}", key_user.keys[0].id),
            "GetUserPolicy" => format!(
                "&UserName={}&PolicyName={}",
                inline_user.name,
                inline_user.inline.first().map_or("none", |p| p.0.as_str())
            ),
            "GetGroup" | "ListAttachedGroupPolicies" | "ListGroupPolicies" => {
                format!("&GroupName={}", group.name)
            }
            "GetRole" | "ListAttachedRolePolicies" | "ListRolePolicies" | "ListRoleTags" => {
                format!("&RoleName={}", role.name)
            }
            "GetPolicy" | "ListPolicyVersions" | "ListEntitiesForPolicy" => {
                format!("&PolicyArn={}", enc(&policy.arn))
            }
            "GetPolicyVersion" => format!("&PolicyArn={}&VersionId=v1", enc(&policy.arn)),
            "ListUsers" | "ListGroups" | "ListRoles" | "ListPolicies" => String::new(),
            _ => return None,
        };
        let mut c = call("POST", format!("/iam?Action={action}{params}"));
        c.headers.push(("x-emc-namespace".into(), ns.name.clone()));
        return Some(c);
    }
    let id_for = |p: &str| -> Option<String> {
        Some(if p.starts_with("/vdc/admin/authnproviders") {
            m.authn_providers[0].id.clone()
        } else if p.starts_with("/vdc/data-service/vpools")
            || p.starts_with("/dashboard/replicationgroups")
        {
            m.rgs[0].id.clone()
        } else if p.starts_with("/dashboard/nodes") {
            node.id.clone()
        } else if p.starts_with("/dashboard/storagepools") {
            m.storage_pools[0].id.clone()
        } else if p.starts_with("/object/namespaces") {
            ns.name.clone()
        } else {
            return None;
        })
    };
    let mut url = path
        .replace("{namespace}", &ns.name)
        .replace("{bucketName}", &bucket.name)
        .replace("{userid}", "root");
    if url.contains("{id}") {
        url = url.replace("{id}", &id_for(path)?);
    }
    if url.contains('{') {
        return None;
    }
    let mut query = Vec::new();
    if path == "/object/bucket/{bucketName}/object-lock-config" {
        // A bucket that has a default retention, so that the whole shape shows.
        let locked = m
            .namespaces
            .values()
            .flat_map(|n| n.buckets.values())
            .find(|b| b.lock_mode.is_some())?;
        url = path.replace("{bucketName}", &locked.name);
        query.push(format!("namespace={}", locked.namespace));
    } else if path.starts_with("/object/bucket/") || path == "/object/bucket" {
        query.push(format!("namespace={}", ns.name));
    }
    if path == "/vdc/events" {
        // Audit events need a namespace and a window (one day of background activity).
        query.push(format!("namespace={}", ns.name));
        query.push(window.into());
    }
    if path == "/object/billing/namespace/info" {
        query.push("include_bucket_detail=true".into());
    }
    if path.starts_with("/object/billing") && path.ends_with("/sample") {
        query.push(window.into());
    }
    if path.starts_with("/object/billing") {
        query.push("sizeunit=KB".into());
    }
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let mut c = call(method, url);
    if method == "POST" && path.starts_with("/object/billing") {
        let ids = if path.starts_with("/object/billing/namespace") {
            vec![ns.name.clone()]
        } else {
            vec![bucket.name.clone()]
        };
        c.body = Some(serde_json::json!({"id": ids}).to_string());
        c.headers
            .push(("Content-Type".into(), "application/json".into()));
    }
    if path == "/sts" {
        c.url = "/sts?Action=GetFederationToken&Name=bob".into();
        c.headers.push(("x-emc-namespace".into(), ns.name.clone()));
    }
    Some(c)
}

async fn run(client: &Client, c: &Call, json: bool) -> support::Resp {
    let mut b = client.http.request(
        c.method.parse().unwrap(),
        format!("{}{}", client.base, c.url),
    );
    if c.url != "/login" {
        b = b.header("X-SDS-AUTH-TOKEN", client.token.clone().unwrap());
    } else {
        b = b.basic_auth("root", Some("ChangeMe"));
    }
    if json {
        b = b.header("Accept", "application/json");
    }
    for (k, v) in &c.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if let Some(body) = &c.body {
        b = b.body(body.clone());
    }
    Client::read(b.send().await.unwrap()).await
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Example keys missing from our answer (top level, and the first item of a shared list).
fn missing_example_keys(example: &Value, ours: &Value) -> Vec<String> {
    let (example, ours) = align(example, ours);
    let mut missing: Vec<String> = keys(example).difference(&keys(ours)).cloned().collect();
    if let (Some(e), Some(o)) = (example.as_object(), ours.as_object()) {
        for (k, ev) in e {
            if let (Some(Value::Object(ei)), Some(Value::Object(oi))) = (
                ev.as_array().and_then(|a| a.first()),
                o.get(k).and_then(Value::as_array).and_then(|a| a.first()),
            ) {
                for mk in
                    keys(&Value::Object(ei.clone())).difference(&keys(&Value::Object(oi.clone())))
                {
                    missing.push(format!("{k}[].{mk}"));
                }
            }
        }
    }
    missing
}

/// Unwraps a single-key root on whichever side has it and the other has not.
fn align<'a>(example: &'a Value, ours: &'a Value) -> (&'a Value, &'a Value) {
    let single = |v: &'a Value| {
        v.as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.values().next())
            .filter(|x| x.is_object())
    };
    if keys(example) == keys(ours) {
        return (example, ours);
    }
    if let Some(inner) = single(ours)
        && !keys(inner).is_disjoint(&keys(example))
    {
        return (example, inner);
    }
    if let Some(inner) = single(example)
        && !keys(inner).is_disjoint(&keys(ours))
    {
        return (inner, ours);
    }
    (example, ours)
}

/// What issue 3 requires the simulator to serve.
const REQUIRED: &[&str] = &[
    "GET /login",
    "GET /logout",
    "GET /user/whoami",
    "GET /vdc/users/{userid}/tokenCount",
    "GET /vdc/nodes",
    "GET /vdc/users",
    "GET /vdc/admin/authnproviders",
    "GET /vdc/admin/authnproviders/{id}",
    "GET /vdc/alerts",
    "GET /vdc/data-service/vpools",
    "GET /object/capacity",
    "GET /object/namespaces",
    "GET /object/namespaces/namespace/{namespace}/quota",
    "GET /object/bucket",
    "GET /object/bucket/{bucketName}/lock",
    "GET /object/bucket/{bucketName}/retention",
    "GET /object/bucket/{bucketName}/versioning",
    "GET /object/bucket/{bucketName}/object-lock-config",
    "GET /dashboard/zones/localzone",
    "GET /dashboard/zones/localzone/nodes",
    "GET /dashboard/zones/localzone/storagepools",
    "GET /dashboard/zones/localzone/replicationgroups",
    "GET /dashboard/zones/localzone/rglinksFailed",
    "GET /dashboard/zones/localzone/disks",
    "GET /dashboard/nodes/{id}",
    "GET /dashboard/storagepools/{id}",
    "GET /dashboard/replicationgroups/{id}",
    "GET /object/billing/buckets/{namespace}/{bucketName}/info",
    "POST /object/billing/buckets/{namespace}/info",
    "GET /object/billing/buckets/{namespace}/{bucketName}/sample",
    "POST /object/billing/buckets/{namespace}/sample",
    "GET /object/billing/namespace/{namespace}/info",
    "POST /object/billing/namespace/info",
    "GET /object/billing/namespace/{namespace}/sample",
    "POST /object/billing/namespace/sample",
    "POST /iam?Action=ListUsers",
    "POST /iam?Action=GetUser",
    "POST /iam?Action=ListGroups",
    "POST /iam?Action=ListRoles",
    "POST /iam?Action=ListPolicies",
    "POST /iam?Action=GetPolicyVersion",
    "POST /iam?Action=ListPolicyVersions",
    "POST /iam?Action=ListAttachedUserPolicies",
    "POST /iam?Action=ListAttachedGroupPolicies",
    "POST /iam?Action=ListAttachedRolePolicies",
    "POST /iam?Action=ListAccessKeys",
    "POST /iam?Action=GetAccessKeyLastUsed",
    "POST /sts",
];

async fn conformance(version: Version) {
    let spec = Spec::load();
    let sim = start(version).await;
    let client = Client::login(&sim).await;
    let mut served = BTreeSet::new();
    let mut problems = Vec::new();
    let mut paths = spec.paths();
    // Log out last: it ends the session the other calls use.
    paths.sort_by_key(|(p, _)| p == "/logout");
    for (path, method) in paths {
        if method != "GET" && method != "POST" {
            continue;
        }
        let Some(c) = concrete(&sim, &path, &method) else {
            continue;
        };
        let op = spec.operation(&path, &method);
        for json in [true, false] {
            if path == "/logout" && !json {
                continue;
            }
            let r = run(&client, &c, json).await;
            if r.status == 404 && r.body.contains("no resource at") {
                break;
            }
            served.insert(format!("{method} {path}"));
            let label = format!("{method} {path} ({})", if json { "JSON" } else { "XML" });
            if !spec.statuses(op).contains(&r.status) || r.status != 200 {
                problems.push(format!(
                    "{label}: status {} (documented: {:?}): {}",
                    r.status,
                    spec.statuses(op),
                    &r.body.chars().take(200).collect::<String>()
                ));
                continue;
            }
            let want = if json {
                "application/json"
            } else {
                "application/xml"
            };
            if !r.content_type.starts_with(want) {
                problems.push(format!(
                    "{label}: content type {:?}, expected {want}",
                    r.content_type
                ));
            }
            let (tree, mode) = if json {
                (r.json(), Mode::Json)
            } else {
                match support::xml::parse(&r.body) {
                    Ok(p) => (p.tree, Mode::Xml),
                    Err(e) => {
                        problems.push(format!("{label}: not well-formed XML: {e}"));
                        continue;
                    }
                }
            };
            if let Some(schema) = spec.response_schema(op, 200) {
                // Where the spec's own example breaks its schema, the schema is wrong there.
                let example_breaks: BTreeSet<String> = spec
                    .examples(op, 200)
                    .iter()
                    .flat_map(|e| spec.check_root(schema, e, Mode::Json))
                    .map(|p| unindexed(&p))
                    .collect();
                for p in spec.check_root(schema, &tree, mode) {
                    let at = unindexed(&p);
                    let excused = example_breaks.contains(&at)
                        || SCHEMA_EXCEPTIONS
                            .iter()
                            .any(|(ep, sp, _)| *ep == path && *sp == at);
                    if !excused {
                        problems.push(format!("{label}: {p}"));
                    }
                }
            }
            if json {
                for example in spec.examples(op, 200) {
                    // Some "examples" are request bodies ({"id": [...]}).
                    if keys(example) == BTreeSet::from(["id".to_owned()]) {
                        continue;
                    }
                    for k in missing_example_keys(example, &tree) {
                        let excused = EXAMPLE_EXCEPTIONS.iter().any(|(p, key, versions, _)| {
                            *p == path && *key == k && versions.contains(&version)
                        });
                        if !excused {
                            problems.push(format!(
                                "{label}: the spec's example has {k}, the simulator does not"
                            ));
                        }
                    }
                }
            }
        }
    }
    for r in REQUIRED {
        if !served.contains(*r) {
            problems.push(format!("{r}: required by issue 3 but not served"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems (version {}):\n{}",
        problems.len(),
        version.as_str(),
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_3_8_agrees_with_the_spec() {
    conformance(Version::Ecs38).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objectscale_4_1_agrees_with_the_spec() {
    conformance(Version::ObjectScale41).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_3_5_agrees_with_the_spec() {
    conformance(Version::Ecs35).await;
}
