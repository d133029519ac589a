//! /vdc/nodes, /vdc/users, /vdc/admin/authnproviders, /vdc/alerts, /vdc/data-service/vpools.
//! (`/vdc/events` is in `events.rs`.)

use serde_json::{Value, json};

use super::{limit, page};
use crate::format::Doc;
use crate::model::Version;
use crate::server::{Reply, Req, Sim};
use crate::timefmt::iso_local;

pub fn nodes(sim: &Sim, _req: &Req) -> Reply {
    let m = sim.model();
    let version = m.cfg.version;
    let items: Vec<Value> = m
        .nodes
        .iter()
        .map(|n| {
            let ip = n.mgmt_ip.to_string();
            let mut v = json!({
                "nodename": n.name,
                "ip": ip,
                "mgmt_ip": ip,
                "geo_ip": ip,
                "data_ip": ip,
                "data2_ip": ip,
                "private_ip": format!("169.254.1.{}", n.index + 1),
                "nodeid": n.id,
                "rackId": n.rack,
                "version": version.build(),
                "isLocal": n.index == 0,
            });
            if version == Version::ObjectScale41 {
                v["psnt"] = json!("psnt1");
                v["label"] = json!("DRIVE_TECH_HDD");
                v["security_status"] = json!("NonSED");
                v["serviceTag"] = json!(n.service_tag);
            }
            v
        })
        .collect();
    Reply::ok(Doc::jaxb("nodes", json!({ "node": items })))
}

fn user_json(u: &crate::model::MgmtUser) -> Value {
    // ObjectScale 4.1 sends these booleans as strings.
    json!({
        "userId": u.id,
        "isSystemAdmin": u.system_admin.to_string(),
        "isSystemMonitor": u.system_monitor.to_string(),
        "isSecurityAdmin": u.security_admin.to_string(),
    })
}

pub fn users(sim: &Sim, _req: &Req) -> Reply {
    let m = sim.model();
    let items: Vec<Value> = m.mgmt_users.iter().map(user_json).collect();
    Reply::ok(Doc::jaxb(
        "mgmt_user_infos",
        json!({ "mgmt_user_info": items }),
    ))
}

pub fn user(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[2];
    match sim.model().mgmt_user(id) {
        Some(u) => Reply::ok(Doc::jaxb("mgmt_user_info", user_json(u))),
        None => Reply::not_found(id),
    }
}

pub fn authn_providers(sim: &Sim, _req: &Req) -> Reply {
    let m = sim.model();
    let items: Vec<Value> = m
        .authn_providers
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "id": p.id,
                "link": {"rel": "self", "href": format!("/vdc/admin/authnproviders/{}", p.id)},
            })
        })
        .collect();
    Reply::ok(Doc::jaxb(
        "authnproviders",
        json!({ "authnprovider": items }),
    ))
}

pub fn authn_provider(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[3];
    let m = sim.model();
    let Some(p) = m.authn_providers.iter().find(|p| &p.id == id) else {
        return Reply::not_found(id);
    };
    Reply::ok(Doc::jaxb(
        "authnprovider",
        json!({
            "name": p.name,
            "id": p.id,
            "link": {"rel": "self", "href": format!("/vdc/admin/authnproviders/{}", p.id)},
            "mode": p.mode,
            "domains": p.domains,
            "server_urls": p.server_urls,
            "manager_dn": format!("CN=ecs-bind,OU=svc,DC={},DC=example", p.name),
            "search_base": "OU=Users,DC=corp,DC=example",
            "search_filter": "uid=%U",
            "search_scope": "SUBTREE",
            "group_attribute": "CN",
            "group_whitelist_values": [],
            "max_page_size": 1000,
            "search_attribute_key": "uid",
            "server_cert": null,
            "creation_time": (crate::model::ORIGIN - 30 * 86_400) * 1000,
            "inactive": false,
            "disable": p.disabled,
            "description": p.description,
            "global": null, "remote": null, "vdc": null, "tags": [],
        }),
    ))
}

pub fn alerts(sim: &Sim, req: &Req) -> Reply {
    let limit = match limit(req, "limit", 100, 1000) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut window = [None, None];
    for (slot, k) in window.iter_mut().zip(["start_time", "end_time"]) {
        if let Some(v) = req.q(k).filter(|v| !v.is_empty()) {
            match super::events::parse_time(k, v) {
                Ok(t) => *slot = Some(t.div_euclid(60)),
                Err(r) => return r,
            }
        }
    }
    let [from, to] = window;
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        return Reply::bad_request(1008, "end_time must not be before start_time");
    }
    let m = sim.model();
    let severity = req.q("severity").map(str::to_ascii_uppercase);
    let ack = req
        .q("acknowledged")
        .map(|v| v.eq_ignore_ascii_case("true"));
    let ns = req.q("namespace");
    let mut list: Vec<&crate::model::Alert> = m
        .alerts
        .iter()
        .filter(|a| severity.as_deref().is_none_or(|s| a.severity == s))
        .filter(|a| ack.is_none_or(|x| a.acknowledged == x))
        .filter(|a| ns.is_none_or(|n| a.namespace == n))
        // Inclusive bounds at minute precision.
        .filter(|a| from.is_none_or(|f| a.timestamp.div_euclid(60) >= f))
        .filter(|a| to.is_none_or(|t| a.timestamp.div_euclid(60) <= t))
        .collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    let (items, next) = page(&list, |a| a.id.as_str(), req.q("marker"), limit);
    let alerts: Vec<Value> = items.iter().map(|a| alert_json(a)).collect();
    let mut filter = Vec::new();
    if let Some(s) = &severity {
        filter.push(format!("severity={s}"));
    }
    if m.cfg.version.wraps_roots() {
        let mut v = json!({"cas_registered_applications": "", "alerts": {"alert": alerts}});
        if let Some(n) = next {
            v["NextMarker"] = json!(n);
        }
        Reply::ok(Doc::jaxb("alerts", v))
    } else {
        let mut v = json!({"MaxAlerts": limit, "Filter": filter.join("&"), "alert": alerts});
        if let Some(n) = next {
            v["NextMarker"] = json!(n);
        }
        Reply::ok(Doc::jaxb("alerts", v))
    }
}

/// One alert as `/vdc/alerts` lists it.
pub fn alert_json(a: &crate::model::Alert) -> Value {
    json!({
        "acknowledged": a.acknowledged,
        "type": a.kind,
        "description": a.description,
        "id": a.id,
        "namespace": a.namespace,
        "severity": a.severity,
        "symptomCode": a.symptom_code,
        "timestamp": iso_local(a.timestamp),
    })
}

fn vpool_json(m: &crate::model::Cluster, rg: &crate::model::ReplicationGroup) -> Value {
    json!({
        "name": rg.name,
        "id": rg.id,
        "description": format!("{} ({} zone{})", rg.name, rg.zones, if rg.zones == 1 { "" } else { "s" }),
        "isAllowAllNamespaces": true,
        "isFullRep": false,
        "enable_rebalancing": true,
        "creation_time": (crate::model::ORIGIN + rg.index as i64 * 86_400) * 1000,
        "inactive": false,
        "global": null, "remote": null, "vdc": null, "tags": [],
        "varrayMappings": [{"name": m.vdc_id, "value": m.storage_pools.first().map(|s| s.id.clone()).unwrap_or_default()}],
    })
}

pub fn vpools(sim: &Sim, _req: &Req) -> Reply {
    let m = sim.model();
    let items: Vec<Value> = m.rgs.iter().map(|rg| vpool_json(&m, rg)).collect();
    Reply::ok(Doc::jaxb(
        "data_service_vpools",
        json!({ "data_service_vpool": items }),
    ))
}

pub fn vpool(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[3];
    let m = sim.model();
    match m.rgs.iter().find(|r| &r.id == id) {
        Some(rg) => Reply::ok(Doc::jaxb("data_service_vpool", vpool_json(&m, rg))),
        None => Reply::not_found(id),
    }
}
