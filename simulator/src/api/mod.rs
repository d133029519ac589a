//! The endpoints the agent uses, by area. `route` maps a request to its handler and to
//! the route template the request log counts it under.

pub mod admin;
pub mod auth;
pub mod billing;
pub mod dashboard;
pub mod events;
pub mod flux;
pub mod iam;
pub mod object;
pub mod vdc;

use http::{Method, StatusCode};

use crate::model::Version;
use crate::server::{Reply, Req, Sim};

type Handler = fn(&Sim, &Req) -> Reply;

/// The handler of a request on an ECS of `version` (some routes exist only in some).
fn route(req: &Req, version: Version) -> Option<(&'static str, Handler)> {
    let s: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let get = req.method == Method::GET;
    let post = req.method == Method::POST;
    let r: (&'static str, Handler) = match s.as_slice() {
        ["login"] if get => ("/login", auth::login),
        ["logout"] if get => ("/logout", auth::logout),
        ["user", "whoami"] if get => ("/user/whoami", auth::whoami),
        ["vdc", "users"] if get => ("/vdc/users", vdc::users),
        ["vdc", "users", _] if get => ("/vdc/users/{userid}", vdc::user),
        ["vdc", "users", _, "tokenCount"] if get => {
            ("/vdc/users/{userid}/tokenCount", auth::token_count)
        }
        ["vdc", "nodes"] if get => ("/vdc/nodes", vdc::nodes),
        ["vdc", "admin", "authnproviders"] if get => {
            ("/vdc/admin/authnproviders", vdc::authn_providers)
        }
        ["vdc", "admin", "authnproviders", _] if get => {
            ("/vdc/admin/authnproviders/{id}", vdc::authn_provider)
        }
        ["vdc", "alerts"] if get => ("/vdc/alerts", vdc::alerts),
        ["vdc", "events"] if get => ("/vdc/events", events::events),
        ["vdc", "data-service", "vpools"] if get => ("/vdc/data-service/vpools", vdc::vpools),
        ["vdc", "data-service", "vpools", _] if get => {
            ("/vdc/data-service/vpools/{id}", vdc::vpool)
        }
        ["object", "capacity"] if get => ("/object/capacity", object::capacity),
        ["object", "namespaces"] if get => ("/object/namespaces", object::namespaces),
        ["object", "namespaces", "namespace", _] if get => {
            ("/object/namespaces/namespace/{id}", object::namespace)
        }
        ["object", "namespaces", "namespace", _, "quota"] if get => (
            "/object/namespaces/namespace/{namespace}/quota",
            object::namespace_quota,
        ),
        ["object", "bucket"] if get => ("/object/bucket", object::buckets),
        ["object", "bucket", _, "info"] if get => {
            ("/object/bucket/{bucketName}/info", object::bucket_info)
        }
        ["object", "bucket", _, "lock"] if get => {
            ("/object/bucket/{bucketName}/lock", object::bucket_lock)
        }
        ["object", "bucket", _, "retention"] if get => (
            "/object/bucket/{bucketName}/retention",
            object::bucket_retention,
        ),
        ["object", "bucket", _, "versioning"] if get => (
            "/object/bucket/{bucketName}/versioning",
            object::bucket_versioning,
        ),
        ["object", "bucket", _, "object-lock-config"] if get => (
            "/object/bucket/{bucketName}/object-lock-config",
            object::bucket_object_lock,
        ),
        ["object", "bucket", _, "quota"] if get => {
            ("/object/bucket/{bucketName}/quota", object::bucket_quota)
        }
        ["dashboard", "zones", "localzone"] if get => {
            ("/dashboard/zones/localzone", dashboard::localzone)
        }
        ["dashboard", "zones", "localzone", "nodes"] if get => {
            ("/dashboard/zones/localzone/nodes", dashboard::nodes)
        }
        ["dashboard", "zones", "localzone", "storagepools"] if get => (
            "/dashboard/zones/localzone/storagepools",
            dashboard::storage_pools,
        ),
        ["dashboard", "zones", "localzone", "replicationgroups"] if get => (
            "/dashboard/zones/localzone/replicationgroups",
            dashboard::replication_groups,
        ),
        ["dashboard", "zones", "localzone", "rglinksFailed"] if get => (
            "/dashboard/zones/localzone/rglinksFailed",
            dashboard::rglinks_failed,
        ),
        ["dashboard", "zones", "localzone", "rglinksBootstrap"] if get => (
            "/dashboard/zones/localzone/rglinksBootstrap",
            dashboard::rglinks_bootstrap,
        ),
        ["dashboard", "zones", "localzone", "disks"] if get => {
            ("/dashboard/zones/localzone/disks", dashboard::disks)
        }
        ["dashboard", "nodes", _] if get => ("/dashboard/nodes/{id}", dashboard::node),
        ["dashboard", "nodes", _, "disks"] if get => {
            ("/dashboard/nodes/{id}/disks", dashboard::node_disks)
        }
        ["dashboard", "storagepools", _] if get => {
            ("/dashboard/storagepools/{id}", dashboard::storage_pool)
        }
        ["dashboard", "replicationgroups", _] if get => (
            "/dashboard/replicationgroups/{id}",
            dashboard::replication_group,
        ),
        ["object", "billing", "buckets", _, _, "info"] if get => (
            "/object/billing/buckets/{namespace}/{bucketName}/info",
            billing::bucket_info_one,
        ),
        ["object", "billing", "buckets", _, "info"] if post => (
            "/object/billing/buckets/{namespace}/info",
            billing::buckets_info,
        ),
        ["object", "billing", "buckets", _, _, "sample"] if get => (
            "/object/billing/buckets/{namespace}/{bucketName}/sample",
            billing::bucket_sample_one,
        ),
        ["object", "billing", "buckets", _, "sample"] if post => (
            "/object/billing/buckets/{namespace}/sample",
            billing::buckets_sample,
        ),
        ["object", "billing", "namespace", _, "info"] if get => (
            "/object/billing/namespace/{namespace}/info",
            billing::namespace_info_one,
        ),
        ["object", "billing", "namespace", "info"] if post => {
            ("/object/billing/namespace/info", billing::namespaces_info)
        }
        ["object", "billing", "namespace", _, "sample"] if get => (
            "/object/billing/namespace/{namespace}/sample",
            billing::namespace_sample_one,
        ),
        ["object", "billing", "namespace", "sample"] if post => (
            "/object/billing/namespace/sample",
            billing::namespaces_sample,
        ),
        ["iam"] if post => ("/iam", iam::handle),
        ["sts"] if post => ("/sts", iam::sts),
        ["flux", "api", "external", "v2", "query"] if post && version != Version::Ecs35 => {
            ("/flux/api/external/v2/query", flux::query)
        }
        _ => return None,
    };
    Some(r)
}

/// The route template a request is counted under (`/iam?Action=ListUsers` for IAM).
pub fn route_name(req: &Req, version: Version) -> String {
    match route(req, version) {
        Some(("/iam", _)) => format!("/iam?Action={}", req.q("Action").unwrap_or("")),
        Some((t, _)) => t.to_owned(),
        None => format!("(unknown) {}", req.path),
    }
}

pub fn dispatch(sim: &Sim, req: &Req) -> Reply {
    let version = sim.model().cfg.version;
    match route(req, version) {
        Some((_, h)) => h(sim, req),
        None => Reply::error(
            StatusCode::NOT_FOUND,
            1004,
            "Unable to find entity specified in URL",
            &format!("no resource at {} {}", req.method, req.path),
        ),
    }
}

/// Page of `items` after `marker` (exclusive), at most `limit` long, and the marker of the
/// next page if there is one.
pub fn page<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> &str,
    marker: Option<&str>,
    limit: usize,
) -> (&'a [T], Option<String>) {
    let start = match marker.filter(|m| !m.is_empty()) {
        Some(m) => items.iter().position(|i| key(i) > m).unwrap_or(items.len()),
        None => 0,
    };
    let end = (start + limit.max(1)).min(items.len());
    let next = (end < items.len()).then(|| key(&items[end - 1]).to_owned());
    (&items[start..end], next)
}

/// `limit` query parameter: a positive integer up to `max`, `default` when absent.
pub fn limit(req: &Req, name: &str, default: usize, max: usize) -> Result<usize, Reply> {
    match req.q(name) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Reply::bad_request(
                1008,
                &format!("invalid value {v:?} for parameter {name} (1 to {max})"),
            )),
        },
    }
}
