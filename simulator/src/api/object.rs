//! /object/capacity, /object/namespaces (+ quota), /object/bucket (+ per-bucket settings).

use serde_json::{Value, json};

use super::{limit, page};
use crate::format::Doc;
use crate::model::{Bucket, Cluster, Version, Versioning};
use crate::server::{Reply, Req, Sim};
use crate::timefmt::iso;

/// Capacity is reported in whole GB (GiB, 1024³ bytes), truncated.
pub const GB: u64 = 1024 * 1024 * 1024;

pub fn capacity(sim: &Sim, _req: &Req) -> Reply {
    let now = sim.clock.now();
    let o = sim.faults.overrides();
    let m = sim.model();
    let cap = m.capacity(now, &o);
    let (free, total) = (cap.free / GB, cap.total / GB);
    if m.cfg.version.wraps_roots() {
        // As the 4.1 spec's example: wrapped, numbers as strings.
        Reply::ok(Doc::jaxb(
            "cluster_capacity",
            json!({"cluster_capacity": {"totalFree_gb": free.to_string(), "totalProvisioned_gb": total.to_string()}}),
        )
        .with_xml(json!({"totalFree_gb": free, "totalProvisioned_gb": total})))
    } else {
        Reply::ok(Doc::jaxb(
            "cluster_capacity",
            json!({"totalFree_gb": free, "totalProvisioned_gb": total}),
        ))
    }
}

/// An older release's list entry: the namespace's identity only.
fn namespace_minimal(ns: &crate::model::Namespace) -> Value {
    json!({
        "name": ns.name,
        "id": ns.name,
        "link": {"rel": "self", "href": format!("/object/namespaces/namespace/{}", ns.name)},
    })
}

fn namespace_json(m: &Cluster, ns: &crate::model::Namespace) -> Value {
    let rg = m
        .rgs
        .get(ns.default_rg)
        .map(|r| r.id.clone())
        .unwrap_or_default();
    json!({
        "name": ns.name,
        "id": ns.name,
        "link": {"rel": "self", "href": format!("/object/namespaces/namespace/{}", ns.name)},
        "default_data_services_vpool": rg,
        "allowed_vpools_list": [],
        "disallowed_vpools_list": [],
        "namespace_admins": format!("admin@{}", ns.name),
        "user_mapping": [],
        "is_encryption_enabled": "false",
        "default_bucket_block_size": -1,
        "is_stale_allowed": "false",
        "is_compliance_enabled": "false",
        "blockSize": ns.quota_block_gb,
        "notificationSize": ns.quota_notification_gb,
        "creation_time": ns.created * 1000,
        "inactive": false,
        "global": null, "remote": null, "vdc": null,
    })
}

pub fn namespaces(sim: &Sim, req: &Req) -> Reply {
    let limit = match limit(req, "limit", 1000, 1000) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let m = sim.model();
    let minimal = sim.faults.get().minimal_namespace_list;
    let prefix = req.q("name").map(|n| n.trim_end_matches('*').to_owned());
    let all: Vec<&crate::model::Namespace> = m
        .namespaces
        .values()
        .filter(|n| prefix.as_deref().is_none_or(|p| n.name.starts_with(p)))
        .collect();
    let (items, next) = page(&all, |n| n.name.as_str(), req.q("marker"), limit);
    let mut v = json!({
        "namespace": items
            .iter()
            .map(|n| if minimal { namespace_minimal(n) } else { namespace_json(&m, n) })
            .collect::<Vec<_>>(),
        "MaxNamespaces": limit,
        "Filter": prefix.map(|p| format!("name={p}*")).unwrap_or_default(),
    });
    if let Some(n) = next {
        v["NextPageLink"] = json!(format!("/object/namespaces?marker={n}&limit={limit}"));
        v["NextMarker"] = json!(n);
    }
    Reply::ok(Doc::jaxb("namespaces", v))
}

pub fn namespace(sim: &Sim, req: &Req) -> Reply {
    let name = &req.segments[3];
    let m = sim.model();
    match m.namespaces.get(name) {
        Some(ns) => Reply::ok(Doc::jaxb("namespace", namespace_json(&m, ns))),
        None => Reply::not_found(name),
    }
}

pub fn namespace_quota(sim: &Sim, req: &Req) -> Reply {
    let name = &req.segments[3];
    let m = sim.model();
    let Some(ns) = m.namespaces.get(name) else {
        return Reply::not_found(name);
    };
    let v = json!({
        "namespace": ns.name,
        "blockSize": ns.quota_block_gb,
        "notificationSize": ns.quota_notification_gb,
        "blockSizeInCount": -1,
        "notificationSizeInCount": -1,
    });
    // Older ECS nests the quota; 3.8 and the 4.1 spec's example do not.
    if m.cfg.version == Version::Ecs35 {
        Reply::ok(
            Doc::jaxb(
                "namespace_quota_details",
                json!({"namespace_quota_details": v.clone()}),
            )
            .with_xml(v),
        )
    } else {
        Reply::ok(Doc::jaxb("namespace_quota_details", v))
    }
}

pub fn bucket_json(m: &Cluster, b: &Bucket) -> Value {
    let version = m.cfg.version;
    let rg = m.rgs.get(b.rg).map(|r| r.id.clone()).unwrap_or_default();
    let created = format!("{}.000Z", iso(b.created).trim_end_matches('Z'));
    let mut v = json!({
        "name": b.name,
        "id": format!("{}.{}", b.namespace, b.name),
        "link": {"rel": "self", "href": format!("/object/bucket/{}.{}", b.namespace, b.name)},
        "namespace": b.namespace,
        "owner": b.owner,
        "created": created,
        "vpool": rg,
        "api_type": "S3",
        "fs_access_enabled": false,
        "softquota": "-1",
        "block_size": b.block_size_gb,
        "notification_size": b.notification_size_gb,
        "blockSizeInCount": -1,
        "notificationSizeInCount": -1,
        "default_retention": b.retention_secs,
        "retention": b.retention_secs,
        "locked": b.locked,
        "is_stale_allowed": false,
        "is_encryption_enabled": "false",
        "auto_commit_period": 0,
        "audit_delete_expiration": -1,
        "TagSet": b.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        "search_metadata": {"isEnabled": false, "maxKeys": 0, "metadata": []},
        "global": null, "remote": null, "vdc": null,
    });
    if version != Version::Ecs35 {
        v["is_object_lock_enabled"] = json!(b.object_lock);
        v["is_object_lock_with_ado_allowed"] = json!(false);
        v["is_tso_read_only"] = json!(false);
        if let Some(mode) = b.lock_mode {
            v["default_object_lock_retention_mode"] = json!(mode);
            v["default_object_lock_retention_days"] = json!(b.lock_days);
            v["default_object_lock_retention_years"] = json!(b.lock_years);
        }
    }
    if version == Version::ObjectScale41 {
        v["versioning_status"] = json!(versioning_word(b.versioning));
        v["min_max_governor"] = json!({
            "enforce_retention": false,
            "minimum_fixed_retention": 0, "maximum_fixed_retention": 0,
            "minimum_variable_retention": 0, "maximum_variable_retention": 0,
        });
    }
    v
}

fn versioning_word(v: Versioning) -> &'static str {
    match v {
        Versioning::Enabled => "Enabled",
        Versioning::Suspended => "Suspended",
        Versioning::Disabled => "",
    }
}

pub fn buckets(sim: &Sim, req: &Req) -> Reply {
    let limit = match limit(req, "limit", 100, 1000) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let Some(ns_name) = req.q("namespace").filter(|n| !n.is_empty()) else {
        return Reply::bad_request(1005, "Required parameter namespace is missing or empty");
    };
    let m = sim.model();
    let Some(ns) = m.namespaces.get(ns_name) else {
        return Reply::bad_request(1008, &format!("namespace {ns_name} does not exist"));
    };
    let prefix = req.q("name").map(|n| n.trim_end_matches('*').to_owned());
    let all: Vec<&Bucket> = ns
        .buckets
        .values()
        .filter(|b| prefix.as_deref().is_none_or(|p| b.name.starts_with(p)))
        .collect();
    let (items, next) = page(&all, |b| b.name.as_str(), req.q("marker"), limit);
    let mut v = json!({
        "MaxBuckets": limit,
        "Filter": format!("namespace={ns_name}"),
        "object_bucket": items.iter().map(|b| bucket_json(&m, b)).collect::<Vec<_>>(),
    });
    if let Some(n) = next {
        v["NextPageLink"] = json!(format!(
            "/object/bucket?namespace={ns_name}&marker={n}&limit={limit}"
        ));
        v["NextMarker"] = json!(n);
    }
    Reply::ok(Doc::jaxb("object_buckets", v))
}

/// The bucket a per-bucket call names (`?namespace=` when given).
fn find<'a>(m: &'a Cluster, req: &Req) -> Result<&'a Bucket, Reply> {
    let name = &req.segments[2];
    let found = match req.q("namespace") {
        Some(ns) if !ns.is_empty() => m.bucket(ns, name),
        _ => m.find_bucket(name),
    };
    found.ok_or_else(|| Reply::not_found(name))
}

pub fn bucket_info(sim: &Sim, req: &Req) -> Reply {
    let m = sim.model();
    match find(&m, req) {
        Ok(b) => {
            // The single-bucket answer (per the spec's example) also has `tags` and
            // `compliance_enabled`, which the list items do not.
            let mut v = bucket_json(&m, b);
            v["tags"] = v["TagSet"].clone();
            v["compliance_enabled"] = json!("false");
            Reply::ok(Doc::jaxb("object_bucket", v))
        }
        Err(r) => r,
    }
}

pub fn bucket_lock(sim: &Sim, req: &Req) -> Reply {
    let m = sim.model();
    match find(&m, req) {
        Ok(b) => Reply::ok(Doc::jaxb(
            "bucket_lock",
            json!({"isLocked": b.locked.to_string(), "bucket_name": b.name}),
        )),
        Err(r) => r,
    }
}

pub fn bucket_retention(sim: &Sim, req: &Req) -> Reply {
    let m = sim.model();
    match find(&m, req) {
        Ok(b) => Reply::ok(Doc::jaxb(
            "default_bucket_retention_update",
            json!({"period": b.retention_secs}),
        )),
        Err(r) => r,
    }
}

pub fn bucket_versioning(sim: &Sim, req: &Req) -> Reply {
    let m = sim.model();
    match find(&m, req) {
        Ok(b) => {
            // S3's shape: no Status for a bucket that never had versioning.
            let inner = match b.versioning {
                Versioning::Disabled => json!({}),
                v => json!({"Status": versioning_word(v)}),
            };
            Reply::ok(
                Doc::jaxb(
                    "VersioningConfiguration",
                    json!({"VersioningConfiguration": inner.clone()}),
                )
                .with_xml(inner),
            )
        }
        Err(r) => r,
    }
}

pub fn bucket_object_lock(sim: &Sim, req: &Req) -> Reply {
    let m = sim.model();
    let b = match find(&m, req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut v = json!({"ObjectLockEnabled": if b.object_lock { "Enabled" } else { "" }});
    if let Some(mode) = b.lock_mode {
        let years = if b.lock_years > 0 {
            json!(b.lock_years)
        } else {
            Value::Null
        };
        let days = if b.lock_years == 0 {
            json!(b.lock_days)
        } else {
            Value::Null
        };
        v["Rule"] = json!({"DefaultRetention": {"Mode": mode, "Years": years, "Days": days}});
    }
    Reply::ok(Doc::jaxb("ObjectLockConfiguration", v))
}

pub fn bucket_quota(sim: &Sim, req: &Req) -> Reply {
    let m = sim.model();
    match find(&m, req) {
        Ok(b) => Reply::ok(Doc::jaxb(
            "bucket_quota_details",
            json!({"bucketname": b.name, "namespace": b.namespace, "blockSize": b.block_size_gb, "notificationSize": b.notification_size_gb}),
        )),
        Err(r) => r,
    }
}
