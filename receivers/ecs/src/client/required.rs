//! What an answer must carry to be read at all. ECS leaves out figures it has no value
//! for, and the collectors leave those series out; but an answer without the list or the
//! figures an endpoint is for (`{}` from a broken proxy or a half-started cluster) is not
//! "zero of everything": it is an error naming the fields, so that the collector reports
//! degraded instead of emitting zeros.

use serde_json::Value;

use super::ClientError;

/// An endpoint's needs: the wrapper its answer may come in, and groups of keys of which
/// each group needs one.
struct Needs {
    route: &'static str,
    /// Some releases wrap the answer in `{ "<root>": {…} }`.
    root: Option<&'static str>,
    /// A bare JSON array is also a complete answer (HAL and billing lists).
    array_ok: bool,
    fields: &'static [&'static [&'static str]],
}

const fn needs(route: &'static str, fields: &'static [&'static [&'static str]]) -> Needs {
    Needs {
        route,
        root: None,
        array_ok: false,
        fields,
    }
}

const HAL: &[&[&str]] = &[&["_embedded"]];

const fn hal(route: &'static str) -> Needs {
    Needs {
        array_ok: true,
        ..needs(route, HAL)
    }
}

const fn wrapped(
    route: &'static str,
    root: &'static str,
    fields: &'static [&'static [&'static str]],
) -> Needs {
    Needs {
        root: Some(root),
        ..needs(route, fields)
    }
}

const fn bulk(route: &'static str, fields: &'static [&'static [&'static str]]) -> Needs {
    Needs {
        array_ok: true,
        ..needs(route, fields)
    }
}

/// Routes not listed are not checked here (their readers check what they need).
const NEEDS: &[Needs] = &[
    needs("/vdc/nodes", &[&["node"]]),
    needs(
        "/dashboard/zones/localzone",
        &[
            &["diskSpaceTotalCurrent", "diskSpaceTotal"],
            &["diskSpaceFreeCurrent", "diskSpaceFree"],
        ],
    ),
    hal("/dashboard/zones/localzone/nodes"),
    hal("/dashboard/zones/localzone/disks"),
    hal("/dashboard/zones/localzone/storagepools"),
    hal("/dashboard/zones/localzone/replicationgroups"),
    hal("/dashboard/zones/localzone/rglinksFailed"),
    needs("/dashboard/nodes/{id}", &[&["healthStatus"]]),
    wrapped(
        "/object/capacity",
        "cluster_capacity",
        &[&["totalFree_gb"], &["totalProvisioned_gb"]],
    ),
    wrapped("/vdc/alerts", "alerts", &[&["alert"]]),
    needs("/object/namespaces", &[&["namespace"]]),
    needs("/object/bucket", &[&["object_bucket"]]),
    needs("/vdc/users", &[&["mgmt_user_info"]]),
    needs("/vdc/admin/authnproviders", &[&["authnprovider"]]),
    needs("/vdc/data-service/vpools", &[&["data_service_vpool"]]),
    wrapped("/vdc/events", "auditevents", &[&["auditevent"]]),
    bulk(
        "/object/billing/namespace/info",
        &[&[
            "namespace_billing_infos",
            "namespace_billing_info_infos",
            "namespace_billing_info",
        ]],
    ),
    bulk(
        "/object/billing/namespace/sample",
        &[&[
            "namespace_billing_samples",
            "namespace_billing_sample_infos",
            "namespace_billing_sample",
        ]],
    ),
];

/// `Ok` when `v` carries what `route` is read for.
pub fn check(route: &str, v: &Value) -> Result<(), ClientError> {
    let Some(n) = NEEDS.iter().find(|n| n.route == route) else {
        return Ok(());
    };
    let inner = n.root.and_then(|r| v.get(r));
    let has = |k: &str| v.get(k).is_some() || inner.is_some_and(|i| i.get(k).is_some());
    verdict(n, v.is_array(), has)
}

/// The same check for an answer read straight into typed structures, which keep no tree:
/// `is_array` when the answer is a bare JSON array, `has(key)` when the answer (or, for a
/// wrapped answer, its root) carries `key`, even as `null`.
pub fn check_keys(
    route: &str,
    is_array: bool,
    has: impl Fn(&str) -> bool,
) -> Result<(), ClientError> {
    match NEEDS.iter().find(|n| n.route == route) {
        Some(n) => verdict(n, is_array, has),
        None => Ok(()),
    }
}

fn verdict(n: &Needs, is_array: bool, has: impl Fn(&str) -> bool) -> Result<(), ClientError> {
    if n.array_ok && is_array {
        return Ok(());
    }
    let missing: Vec<String> = n
        .fields
        .iter()
        .filter(|group| !group.iter().any(|k| has(k)))
        .map(|group| group.join(" or "))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Missing {
            route: n.route.to_owned(),
            fields: missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_object_lacks_what_each_listed_endpoint_is_for() {
        for n in NEEDS {
            let e = check(n.route, &json!({})).unwrap_err();
            assert_eq!(e.kind(), "missing_fields", "{}", n.route);
            assert!(e.to_string().starts_with(n.route), "{e}");
        }
        let e = check("/dashboard/zones/localzone", &json!({"name": "vdc1"})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dashboard/zones/localzone: the answer has no diskSpaceTotalCurrent or diskSpaceTotal, diskSpaceFreeCurrent or diskSpaceFree"
        );
    }

    #[test]
    fn empty_lists_wrappers_and_unlisted_routes_pass() {
        assert!(check("/object/namespaces", &json!({"namespace": []})).is_ok());
        assert!(check("/vdc/alerts", &json!({"alerts": {"alert": []}})).is_ok());
        assert!(check("/dashboard/zones/localzone/disks", &json!([])).is_ok());
        assert!(
            check(
                "/object/capacity",
                &json!({"cluster_capacity": {"totalFree_gb": 1, "totalProvisioned_gb": 2}})
            )
            .is_ok()
        );
        assert!(check("/somewhere/else", &json!({})).is_ok());
    }
}
