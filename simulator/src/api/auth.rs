//! /login, /logout, /user/whoami and /vdc/users/{id}/tokenCount.

use http::StatusCode;
use serde_json::json;

use crate::format::{Doc, Format};
use crate::server::{Reply, Req, Sim};
use crate::sessions::SessionError;

fn basic(req: &Req) -> Option<(String, String)> {
    pipeline::http_server::basic_credentials(req.header("authorization")?)
}

/// `GET /login` with Basic auth → 200 and `X-SDS-AUTH-TOKEN`.
pub fn login(sim: &Sim, req: &Req) -> Reply {
    let unauthorized = || {
        let doc = crate::format::ecs_error(
            4000,
            "Unauthorized",
            "Access is denied due to invalid or expired credentials",
            false,
        );
        Reply::Raw {
            status: StatusCode::UNAUTHORIZED,
            content_type: req.format.content_type(),
            body: doc.encode(req.format),
            headers: vec![("WWW-Authenticate", "basic realm=\"ViPR\"".into())],
        }
    };
    let Some((user, password)) = basic(req) else {
        return unauthorized();
    };
    let known = sim
        .model()
        .mgmt_user(&user)
        .is_some_and(|u| u.password == password);
    if !known {
        return unauthorized();
    }
    let limit = sim.sessions.config().max_tokens_per_user;
    let token = if sim.faults.token_limit_reached() {
        Err(SessionError::LimitReached(limit))
    } else {
        sim.sessions.login(&user)
    };
    match token {
        Ok(token) => {
            let doc = Doc::jaxb("loggedIn", json!({ "user": user }));
            Reply::Raw {
                status: StatusCode::OK,
                content_type: req.format.content_type(),
                body: doc.encode(req.format),
                headers: vec![("X-SDS-AUTH-TOKEN", token)],
            }
        }
        Err(SessionError::LimitReached(n)) => Reply::error(
            StatusCode::FORBIDDEN,
            1031,
            "Exceeding limit",
            &format!(
                "Max number of tokens ({n}) exceeded for user {user}; log out other sessions or wait for their tokens to expire"
            ),
        ),
        Err(e) => Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            999,
            "Internal error",
            &e.to_string(),
        ),
    }
}

/// `GET /logout[?force=true]`.
pub fn logout(sim: &Sim, req: &Req) -> Reply {
    let force = req
        .q("force")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let user = req
        .token
        .as_deref()
        .and_then(|t| sim.sessions.logout(t, force))
        .or_else(|| req.user.clone())
        .unwrap_or_default();
    Reply::ok(Doc::jaxb("LoggedOut", json!({ "user": user })))
}

pub fn whoami(sim: &Sim, req: &Req) -> Reply {
    let user = req.user.clone().unwrap_or_default();
    let model = sim.model();
    let Some(u) = model.mgmt_user(&user) else {
        return Reply::not_found(&user);
    };
    let mut roles = Vec::new();
    if u.system_admin {
        roles.push("SYSTEM_ADMIN");
    }
    if u.system_monitor {
        roles.push("SYSTEM_MONITOR");
    }
    if u.security_admin {
        roles.push("SECURITY_ADMIN");
    }
    let tenant = format!(
        "urn:storageos:TenantOrg:{}:",
        crate::ids::uuid(model.cfg.seed, &[0x7E_4A47])
    );
    let doc = Doc::jaxb(
        "user",
        json!({
            "common_name": user,
            "distinguished_name": user,
            "namespace": "",
            "tenant": tenant,
            "roles": roles,
            "subtenant_roles": [],
        }),
    );
    // XML wraps the roles in <roles><role>…</role></roles>.
    let xml = json!({"common_name": user, "distinguished_name": user, "namespace": "", "tenant": tenant, "roles": {"role": roles}});
    Reply::ok(if req.format == Format::Xml {
        doc.with_xml(xml)
    } else {
        doc
    })
}

/// `GET /vdc/users/{id}/tokenCount` → `{"count": n}`.
pub fn token_count(sim: &Sim, req: &Req) -> Reply {
    let id = &req.segments[2];
    if sim.model().mgmt_user(id).is_none() {
        return Reply::not_found(id);
    }
    Reply::ok(Doc::jaxb(
        "token_count",
        json!({ "count": sim.sessions.count(id) }),
    ))
}
