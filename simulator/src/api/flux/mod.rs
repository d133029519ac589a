//! `POST /flux/api/external/v2/query`: performance data in the Flux API's columnar JSON
//! (ECS 3.8 and ObjectScale 4.1). The figures come from `model/perf.rs`; this module
//! reads the request, applies the range limit and the Flux faults, and writes the answer.

pub mod answer;
pub mod query;

use http::StatusCode;
use serde::Deserialize;

use crate::format::{Format, ecs_error};
use crate::model::perf::measurement;
use crate::server::{Reply, Req, Sim};
use query::Instant;

/// The longest range ECS serves (its documentation: one hour).
pub const MAX_RANGE_SECS: i64 = 3600;

#[derive(Deserialize)]
struct Body {
    query: String,
}

/// An ECS error body, always JSON: the Flux API answers nothing else.
fn error(status: StatusCode, code: u32, description: &str, details: &str) -> Reply {
    Reply::Raw {
        status,
        content_type: "application/json",
        body: ecs_error(code, description, details, false).encode(Format::Json),
        headers: Vec::new(),
    }
}

fn bad_request(details: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, 1013, "Bad request body", details)
}

fn json(body: Vec<u8>) -> Reply {
    Reply::Raw {
        status: StatusCode::OK,
        content_type: "application/json",
        body,
        headers: Vec::new(),
    }
}

/// `1 hour`, `2 hours`, `90 minutes`, `45 seconds`.
pub fn limit_text(secs: i64) -> String {
    let (n, unit) = if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The minute boundaries `t` with `start <= t < stop` and `t <= now`.
pub fn minutes(start: Instant, stop: Instant, now: i64) -> Vec<i64> {
    let first = if start.nanos == 0 {
        start.secs
    } else {
        start.secs.saturating_add(1)
    };
    let mut t = first.saturating_add((60 - first.rem_euclid(60)) % 60);
    let mut out = Vec::new();
    while Instant::at(t) < stop && t <= now {
        out.push(t);
        t += 60;
    }
    out
}

pub fn query(sim: &Sim, req: &Req) -> Reply {
    if let Some(accept) = req.header("accept")
        && !accept.contains("application/json")
        && !accept.contains("*/*")
    {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            1003,
            "Not acceptable",
            &format!("the Flux API answers application/json only, not {accept}"),
        );
    }
    let body: Body = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => return bad_request(&format!("expected {{\"query\": \"<flux>\"}}: {e}")),
    };
    let q = match query::parse(&body.query) {
        Ok(q) => q,
        Err(reason) => return bad_request(&reason),
    };
    let now = sim.clock.now();
    let start = q.start.resolve(now);
    let stop = q.stop.map_or(Instant::at(now), |s| s.resolve(now));
    if start > stop {
        return bad_request("range start is after its stop");
    }
    let faults = sim.faults.get();
    let max = faults.flux_max_range_secs.unwrap_or(MAX_RANGE_SECS);
    if stop.total_nanos() - start.total_nanos() > i128::from(max) * 1_000_000_000 {
        return error(
            StatusCode::BAD_REQUEST,
            1008,
            "Invalid parameter",
            &format!("range exceeds the maximum of {}", limit_text(max)),
        );
    }
    let Some(m) = measurement(&q.bucket, &q.measurement) else {
        return json(answer::EMPTY.to_vec());
    };
    if faults.flux_empty {
        return json(answer::EMPTY.to_vec());
    }
    let times = minutes(start, stop, now);
    if times.is_empty() {
        return json(answer::EMPTY.to_vec());
    }
    let o = sim.faults.overrides();
    let model = sim.model();
    let series = model.flux_series(m, &o);
    let values = model.flux_values(m, &times, &o);
    drop(model);
    json(answer::write(
        m,
        &series,
        &times,
        &values,
        start,
        stop,
        faults.flux_reorder_columns,
    ))
}
