//! `POST /iam?Action=…` (AWS Query style, per namespace via `x-emc-namespace`) and
//! `POST /sts`. JSON answers `{"<Action>Result": …, "ResponseMetadata": …}` without an
//! outer wrapper; XML answers `<ns2:<Action>Response xmlns:ns2="none">` with `<member>`
//! list items. Lists page with `MaxItems` / `Marker` / `IsTruncated`.

use http::StatusCode;
use serde_json::{Value, json};

use super::page;
use crate::format::{Doc, iam_error};
use crate::model::iam::{Domain, GLOBAL_POLICIES, Group, Policy, User, global_policy_arn};
use crate::model::{Cluster, ORIGIN};
use crate::server::{Reply, Req, Sim, percent_encode};
use crate::timefmt::iso;

fn request_id(sim: &Sim) -> String {
    format!(
        "0af9f5b8:{:x}:{:x}:{}",
        sim.clock.now_ms(),
        sim.log.total() + 1,
        sim.log.total() % 97
    )
}

fn err(sim: &Sim, status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::Doc(status, Box::new(iam_error(code, message, &request_id(sim))))
}

fn ok(sim: &Sim, action: &str, result: Value) -> Reply {
    Reply::ok(Doc::aws(
        &format!("{action}Response"),
        json!({
            format!("{action}Result"): result,
            "ResponseMetadata": {"RequestId": request_id(sim)},
        }),
    ))
}

fn tags(t: &[(String, String)]) -> Value {
    json!(
        t.iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect::<Vec<_>>()
    )
}

fn user_json(u: &User, now: i64, full: bool) -> Value {
    let mut v = json!({
        "Arn": u.arn,
        "CreateDate": iso(u.created),
        "Path": "/",
        "UserId": u.id,
        "UserName": u.name,
    });
    if let Some(t) = u.password_last_used.last(now) {
        v["PasswordLastUsed"] = json!(iso(t));
    }
    if full {
        v["Tags"] = tags(&u.tags);
        v["PermissionsBoundary"] =
            json!({"PermissionsBoundaryArn": "", "PermissionsBoundaryType": ""});
    }
    v
}

/// A policy of the namespace or a global one, by ARN.
fn find_policy<'a>(d: &'a Domain, arn: &str, globals: &'a [Policy]) -> Option<&'a Policy> {
    d.policy(arn)
        .or_else(|| globals.iter().find(|p| p.arn == arn))
}

fn global_policies() -> Vec<Policy> {
    GLOBAL_POLICIES
        .iter()
        .enumerate()
        .map(|(i, (name, doc))| Policy {
            name: (*name).into(),
            id: format!("ANPA{:016X}", crate::ids::h(0x61, &[i as u64])),
            arn: global_policy_arn(name),
            created: ORIGIN - 400 * 86_400,
            updated: ORIGIN - 400 * 86_400,
            description: format!("ECS built-in policy {name}"),
            versions: vec![("v1".into(), (*doc).into(), ORIGIN - 400 * 86_400)],
        })
        .collect()
}

fn policy_json(p: &Policy, attachments: usize) -> Value {
    json!({
        "Arn": p.arn,
        "AttachmentCount": attachments,
        "CreateDate": iso(p.created),
        "DefaultVersionId": p.default_version().0,
        "Description": p.description,
        "IsAttachable": true,
        "Path": "/",
        "PermissionsBoundaryUsageCount": 0,
        "PolicyId": p.id,
        "PolicyName": p.name,
        "UpdateDate": iso(p.updated),
    })
}

struct Paging {
    limit: usize,
    marker: Option<String>,
}

fn paging(req: &Req, default: usize) -> Result<Paging, String> {
    let limit = match req.q("MaxItems") {
        None | Some("") => default,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(format!("MaxItems must be between 1 and 1000, got {v:?}")),
        },
    };
    Ok(Paging {
        limit,
        marker: req.q("Marker").filter(|m| !m.is_empty()).map(str::to_owned),
    })
}

/// `{"<key>": [page], "IsTruncated": …, "Marker": …}`.
fn listed<T>(
    items: &[T],
    key_of: impl Fn(&T) -> &str,
    to_json: impl Fn(&T) -> Value,
    p: &Paging,
    list_key: &str,
) -> Value {
    let (page_items, next) = page(items, key_of, p.marker.as_deref(), p.limit);
    json!({
        list_key: page_items.iter().map(to_json).collect::<Vec<_>>(),
        "IsTruncated": next.is_some(),
        "Marker": next.unwrap_or_default(),
    })
}

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    let Some(action) = req.q("Action").map(str::to_owned) else {
        return err(
            sim,
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "the Action parameter is missing",
        );
    };
    let Some(ns) = req.header("x-emc-namespace").map(str::to_owned) else {
        return err(
            sim,
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "the x-emc-namespace header is required for management users",
        );
    };
    let p = match paging(req, sim.iam_page) {
        Ok(p) => p,
        Err(e) => return err(sim, StatusCode::BAD_REQUEST, "InvalidInput", &e),
    };
    let now = sim.clock.now();
    let m = sim.model();
    let Some(namespace) = m.namespaces.get(&ns) else {
        return err(
            sim,
            StatusCode::NOT_FOUND,
            "NoSuchEntity",
            &format!("namespace {ns} does not exist"),
        );
    };
    let d = &namespace.iam;
    let globals = global_policies();
    let param = |k: &str| req.q(k).filter(|v| !v.is_empty());
    let need = |k: &str| {
        param(k).ok_or_else(|| {
            err(
                sim,
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                &format!("{k} is required"),
            )
        })
    };
    let missing = |message: String| err(sim, StatusCode::NOT_FOUND, "NoSuchEntity", &message);
    let user = |n: &str| {
        d.user(n)
            .ok_or_else(|| missing(format!("The user with name {n} cannot be found.")))
    };
    let group = |n: &str| {
        d.groups
            .iter()
            .find(|g| g.name == n)
            .ok_or_else(|| missing(format!("The group with name {n} cannot be found.")))
    };
    let role = |n: &str| {
        d.roles
            .iter()
            .find(|r| r.name == n)
            .ok_or_else(|| missing(format!("The role with name {n} cannot be found.")))
    };
    let policy = |arn: &str| {
        find_policy(d, arn, &globals).ok_or_else(|| missing(format!("Policy {arn} does not exist")))
    };
    // The (attached, inline) policies of the user, group or role the action names; a
    // missing name parameter is looked up as "", so it answers NoSuchEntity (404).
    type Policies<'a> = (&'a Vec<String>, &'a Vec<(String, String)>);
    let policies_of = |action: &str| -> Result<Policies<'_>, Reply> {
        let name = |k: &str| req.q(k).unwrap_or("");
        Ok(if action.contains("User") {
            let u = user(name("UserName"))?;
            (&u.attached, &u.inline)
        } else if action.contains("Group") {
            let g = group(name("GroupName"))?;
            (&g.attached, &g.inline)
        } else {
            let r = role(name("RoleName"))?;
            (&r.attached, &r.inline)
        })
    };
    let answer = || -> Result<Value, Reply> {
        Ok(match action.as_str() {
            "ListUsers" => {
                let mut users: Vec<&User> = d.users.iter().collect();
                users.sort_by(|a, b| a.name.cmp(&b.name));
                listed(
                    &users,
                    |u| u.name.as_str(),
                    |u| user_json(u, now, false),
                    &p,
                    "Users",
                )
            }
            "GetUser" => json!({"User": user_json(user(need("UserName")?)?, now, true)}),
            "ListGroups" => {
                let mut groups: Vec<&Group> = d.groups.iter().collect();
                groups.sort_by(|a, b| a.name.cmp(&b.name));
                listed(&groups, |g| g.name.as_str(), group_json, &p, "Groups")
            }
            "GetGroup" => {
                let name = need("GroupName")?;
                let g = group(name)?;
                let members: Vec<&User> = d
                    .users
                    .iter()
                    .filter(|u| u.groups.iter().any(|x| x == name))
                    .collect();
                let mut v = listed(
                    &members,
                    |u| u.name.as_str(),
                    |u| user_json(u, now, false),
                    &p,
                    "Users",
                );
                v["Group"] = group_json(&g);
                v
            }
            "ListGroupsForUser" => {
                let u = user(need("UserName")?)?;
                let groups: Vec<&Group> = d
                    .groups
                    .iter()
                    .filter(|g| u.groups.contains(&g.name))
                    .collect();
                listed(&groups, |g| g.name.as_str(), group_json, &p, "Groups")
            }
            "ListRoles" => {
                let mut roles: Vec<_> = d.roles.iter().collect();
                roles.sort_by(|a, b| a.name.cmp(&b.name));
                listed(&roles, |r| r.name.as_str(), role_json, &p, "Roles")
            }
            "GetRole" => json!({"Role": role_json(&role(need("RoleName")?)?)}),
            "ListPolicies" => {
                let scope = param("Scope").or(param("PolicyScope")).unwrap_or("All");
                let only_attached =
                    param("OnlyAttached").is_some_and(|v| v.eq_ignore_ascii_case("true"));
                let mut all: Vec<&Policy> = Vec::new();
                if scope != "Local" {
                    all.extend(globals.iter());
                }
                if scope != "AWS" {
                    all.extend(d.policies.iter());
                }
                all.retain(|p| !only_attached || d.attachment_count(&p.arn) > 0);
                all.sort_by(|a, b| a.name.cmp(&b.name));
                listed(
                    &all,
                    |x| x.name.as_str(),
                    |x| policy_json(x, d.attachment_count(&x.arn)),
                    &p,
                    "Policies",
                )
            }
            "GetPolicy" => {
                let x = policy(need("PolicyArn")?)?;
                json!({"Policy": policy_json(x, d.attachment_count(&x.arn))})
            }
            "ListPolicyVersions" => {
                let x = policy(need("PolicyArn")?)?;
                let default = x.default_version().0.clone();
                listed(
                    &x.versions,
                    |v| v.0.as_str(),
                    |v| json!({"VersionId": v.0, "IsDefaultVersion": v.0 == default, "CreateDate": iso(v.2)}),
                    &p,
                    "Versions",
                )
            }
            "GetPolicyVersion" => {
                let arn = need("PolicyArn")?;
                let vid = need("VersionId")?;
                let x = policy(arn)?;
                let default = x.default_version().0.clone();
                let v =
                    x.versions.iter().find(|v| v.0 == vid).ok_or_else(|| {
                        missing(format!("Policy {arn} version {vid} does not exist"))
                    })?;
                json!({"PolicyVersion": {"Document": percent_encode(&v.1), "VersionId": v.0, "IsDefaultVersion": v.0 == default, "CreateDate": iso(v.2)}})
            }
            "ListAttachedUserPolicies"
            | "ListAttachedGroupPolicies"
            | "ListAttachedRolePolicies" => {
                let (attached, _) = policies_of(&action)?;
                let items: Vec<(String, String)> = attached
                    .iter()
                    .map(|arn| {
                        (
                            find_policy(d, arn, &globals)
                                .map(|x| x.name.clone())
                                .unwrap_or_default(),
                            arn.clone(),
                        )
                    })
                    .collect();
                listed(
                    &items,
                    |x| x.0.as_str(),
                    |x| json!({"PolicyName": x.0, "PolicyArn": x.1}),
                    &p,
                    "AttachedPolicies",
                )
            }
            "ListUserPolicies" | "ListGroupPolicies" | "ListRolePolicies" => {
                let (_, inline) = policies_of(&action)?;
                let names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
                listed(&names, |n| n.as_str(), |n| json!(n), &p, "PolicyNames")
            }
            "GetUserPolicy" | "GetGroupPolicy" | "GetRolePolicy" => {
                let pname = need("PolicyName")?;
                let (_, inline) = policies_of(&action)?;
                let (_, doc) = inline
                    .iter()
                    .find(|(n, _)| n == pname)
                    .ok_or_else(|| missing(format!("The policy {pname} cannot be found.")))?;
                let mut v = json!({"PolicyName": pname, "PolicyDocument": percent_encode(doc)});
                for k in ["UserName", "GroupName", "RoleName"] {
                    if let Some(x) = param(k) {
                        v[k] = json!(x);
                    }
                }
                v
            }
            "ListAccessKeys" => {
                let u = user(need("UserName")?)?;
                listed(
                    &u.keys,
                    |k| k.id.as_str(),
                    |k| json!({"AccessKeyId": k.id, "CreateDate": iso(k.created), "Status": if k.active { "Active" } else { "Inactive" }, "UserName": u.name}),
                    &p,
                    "AccessKeyMetadata",
                )
            }
            "GetAccessKeyLastUsed" => {
                let id = need("AccessKeyId")?;
                let (u, k) = d
                    .users
                    .iter()
                    .find_map(|u| u.keys.iter().find(|k| k.id == id).map(|k| (u, k)))
                    .ok_or_else(|| missing(format!("The access key {id} cannot be found.")))?;
                let last = match k.last_used.last(now) {
                    Some(t) => {
                        json!({"LastUsedDate": iso(t), "ServiceName": k.service, "Region": "us-east-1"})
                    }
                    None => json!({"ServiceName": "N/A", "Region": "N/A"}),
                };
                json!({"UserName": u.name, "AccessKeyLastUsed": last})
            }
            "ListUserTags" => {
                json!({"Tags": tags(&user(need("UserName")?)?.tags), "IsTruncated": false})
            }
            "ListRoleTags" => {
                json!({"Tags": tags(&role(need("RoleName")?)?.tags), "IsTruncated": false})
            }
            "ListEntitiesForPolicy" => {
                let arn = need("PolicyArn")?;
                policy(arn)?;
                let has = |v: &[String]| v.iter().any(|a| a == arn);
                json!({
                    "PolicyUsers": d.users.iter().filter(|u| has(&u.attached)).map(|u| json!({"UserName": u.name, "UserId": u.id})).collect::<Vec<_>>(),
                    "PolicyGroups": d.groups.iter().filter(|g| has(&g.attached)).map(|g| json!({"GroupName": g.name, "GroupId": g.id})).collect::<Vec<_>>(),
                    "PolicyRoles": d.roles.iter().filter(|r| has(&r.attached)).map(|r| json!({"RoleName": r.name, "RoleId": r.id})).collect::<Vec<_>>(),
                    "IsTruncated": false,
                })
            }
            other => {
                return Err(err(
                    sim,
                    StatusCode::BAD_REQUEST,
                    "InvalidAction",
                    &format!(
                        "The action {other} is not valid for this endpoint (the simulator serves the read actions)"
                    ),
                ));
            }
        })
    };
    let result = match answer() {
        Ok(v) => v,
        Err(reply) => return reply,
    };
    drop(m);
    ok(sim, &action, result)
}

fn group_json(g: &&Group) -> Value {
    json!({"Arn": g.arn, "CreateDate": iso(g.created), "GroupId": g.id, "GroupName": g.name, "Path": "/"})
}

fn role_json(r: &&crate::model::iam::Role) -> Value {
    json!({
        "Arn": r.arn,
        "AssumeRolePolicyDocument": r.assume_role_policy,
        "CreateDate": iso(r.created),
        "Description": r.description,
        "MaxSessionDuration": r.max_session,
        "Path": "/",
        "RoleId": r.id,
        "RoleName": r.name,
        "Tags": tags(&r.tags),
    })
}

/// `POST /sts?Action=GetFederationToken|AssumeRole`: temporary credentials.
pub fn sts(sim: &Sim, req: &Req) -> Reply {
    let action = req.q("Action").unwrap_or("GetFederationToken").to_owned();
    let duration: i64 = req
        .q("DurationSeconds")
        .and_then(|d| d.parse().ok())
        .unwrap_or(3600);
    if !(900..=129_600).contains(&duration) {
        return err(
            sim,
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "DurationSeconds must be between 900 and 129600",
        );
    }
    let now = sim.clock.now();
    let n = sim.log.total();
    let creds = json!({
        "AccessKeyId": format!("ASIA{:016X}", crate::ids::h(now as u64, &[n])),
        "SecretAccessKey": format!("{:016x}{:016x}", crate::ids::h(1, &[n, now as u64]), crate::ids::h(2, &[n])),
        "SessionToken": format!("SESSION{:032x}", u128::from(crate::ids::h(3, &[n])) << 64 | u128::from(crate::ids::h(4, &[n]))),
        "Expiration": iso(now + duration),
    });
    let ns = req.header("x-emc-namespace").unwrap_or("ns");
    let result = match action.as_str() {
        "AssumeRole" => {
            let Some(role) = req.q("RoleArn") else {
                return err(
                    sim,
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    "RoleArn is required",
                );
            };
            let session = req.q("RoleSessionName").unwrap_or("session");
            json!({"Credentials": creds, "AssumedRoleUser": {"Arn": format!("{role}/{session}"), "AssumedRoleId": format!("AROA{:016X}:{session}", crate::ids::h(5, &[n]))}, "PackedPolicySize": 6})
        }
        "GetFederationToken" => {
            let user = req.q("Name").or(req.q("UserName")).unwrap_or("federated");
            json!({"Credentials": creds, "FederatedUser": {"FederatedUserId": format!("{ns}:{user}"), "Arn": format!("urn:ecs:sts::{ns}:federated-user/{user}")}, "PackedPolicySize": 11})
        }
        other => {
            return err(
                sim,
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                &format!("The action {other} is not valid for /sts"),
            );
        }
    };
    // JSON unwrapped, as the 4.1 spec's example; XML in the AWS Query shape.
    let xml = json!({
        format!("{action}Result"): result.clone(),
        "ResponseMetadata": {"RequestId": request_id(sim)},
    });
    Reply::ok(Doc::aws(&format!("{action}Response"), result).with_xml(xml))
}

/// Every IAM user of the model with their namespace (for tests).
pub fn all_users(m: &Cluster) -> Vec<(String, &User)> {
    m.namespaces
        .values()
        .flat_map(|ns| ns.iam.users.iter().map(move |u| (ns.name.clone(), u)))
        .collect()
}
