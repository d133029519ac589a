//! An HTTP endpoint: GET (or POST) with the toolkit's TLS, headers and authentication,
//! the answer capped. A GET answer is kept as the server allows: reused without a request
//! while `Cache-Control: max-age` says it is fresh, then revalidated with its `ETag`
//! (`If-None-Match`) or `Last-Modified` (`If-Modified-Since`), a 304 reusing the kept
//! body. `no-store` keeps nothing; `no-cache` keeps the body but revalidates every read.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::time::Instant;

use super::{SourceError, lock};
use crate::config::SourceSettings;

/// A GET answer kept for reuse.
struct Kept {
    body: Bytes,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    fresh_until: Instant,
}

/// The client of one endpoint and the answer it keeps.
pub struct Endpoint {
    client: reqwest::Client,
    kept: Mutex<Option<Kept>>,
}

/// What a response's headers allow: keep it at all, and for how long without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Policy {
    store: bool,
    fresh_for: Duration,
}

impl Endpoint {
    pub fn new(s: &SourceSettings) -> Result<Self, SourceError> {
        let mut cfg = s.http.client.clone();
        cfg.endpoint = s.text().unwrap_or_default().to_owned();
        let client = cfg
            .build()
            .map(|c| c.client)
            .map_err(|e| SourceError::Setup(e.to_string()))?;
        Ok(Self {
            client,
            kept: Mutex::new(None),
        })
    }

    pub async fn get(&self, s: &SourceSettings, deadline: Instant) -> Result<Bytes, SourceError> {
        let url = s.text().unwrap_or_default();
        let post = matches!(s.http.method.as_deref(), Some(m) if m.eq_ignore_ascii_case("post"));
        if !post && let Some(body) = self.fresh() {
            tracing::debug!(url, "HTTP answer still fresh; no request");
            return Ok(body);
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        let method = if post {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let mut req = self.client.request(method, url).timeout(timeout);
        if let Some(b) = &s.http.body {
            req = req.body(b.clone());
        }
        if !post {
            req = req.headers(self.validators());
        }
        let mut resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                SourceError::Timeout(timeout)
            } else {
                SourceError::Io(pull::telemetry::error_chain(&e.without_url()))
            }
        })?;
        let headers = resp.headers().clone();
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED && !post {
            tracing::debug!(url, "HTTP answer not modified; kept body reused");
            return self.revalidated(&headers).ok_or(SourceError::Status(304));
        }
        if !resp.status().is_success() {
            return Err(SourceError::Status(resp.status().as_u16()));
        }
        let body = body(&mut resp, s.max_bytes()).await?;
        if !post {
            self.keep(&headers, &body);
        }
        Ok(body)
    }

    fn fresh(&self) -> Option<Bytes> {
        lock(&self.kept)
            .as_ref()
            .filter(|k| Instant::now() < k.fresh_until)
            .map(|k| k.body.clone())
    }

    /// The kept answer's validators, for a conditional request.
    fn validators(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(k) = lock(&self.kept).as_ref() {
            if let Some(e) = &k.etag {
                h.insert(header::IF_NONE_MATCH, e.clone());
            }
            if let Some(m) = &k.last_modified {
                h.insert(header::IF_MODIFIED_SINCE, m.clone());
            }
        }
        h
    }

    /// After a 304: the kept body, fresh again for as long as the 304 says.
    fn revalidated(&self, headers: &HeaderMap) -> Option<Bytes> {
        let mut kept = lock(&self.kept);
        let k = kept.as_mut()?;
        let p = policy(headers);
        k.fresh_until = Instant::now() + p.fresh_for;
        if let Some(e) = headers.get(header::ETAG) {
            k.etag = Some(e.clone());
        }
        let body = k.body.clone();
        if !p.store {
            *kept = None;
        }
        Some(body)
    }

    fn keep(&self, headers: &HeaderMap, body: &Bytes) {
        let p = policy(headers);
        let etag = headers.get(header::ETAG).cloned();
        let last_modified = headers.get(header::LAST_MODIFIED).cloned();
        let useful = !p.fresh_for.is_zero() || etag.is_some() || last_modified.is_some();
        *lock(&self.kept) = (p.store && useful).then(|| Kept {
            body: body.clone(),
            etag,
            last_modified,
            fresh_until: Instant::now() + p.fresh_for,
        });
    }
}

async fn body(resp: &mut reqwest::Response, max: u64) -> Result<Bytes, SourceError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| SourceError::Io(pull::telemetry::error_chain(&e.without_url())))?
    {
        if (out.len() + chunk.len()) as u64 > max {
            return Err(SourceError::TooLarge(max));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

/// `Cache-Control` (`no-store`, `no-cache`, `max-age`) less the answer's `Age`; a private
/// cache, so `s-maxage`, `public` and `private` do not apply.
fn policy(headers: &HeaderMap) -> Policy {
    let mut store = true;
    let mut no_cache = false;
    let mut max_age = None;
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for d in directives {
        let d = d.trim().to_ascii_lowercase();
        match d.split_once('=') {
            None if d == "no-store" => store = false,
            None if d == "no-cache" => no_cache = true,
            Some(("max-age", n)) => max_age = n.trim_matches('"').parse::<u64>().ok(),
            _ => {}
        }
    }
    let age = headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let fresh = if no_cache {
        0
    } else {
        max_age.unwrap_or(0).saturating_sub(age)
    };
    Policy {
        store,
        fresh_for: Duration::from_secs(fresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(header::HeaderName, &str)]) -> Policy {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                k.clone(),
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        policy(&h)
    }

    #[test]
    fn cache_control_sets_what_is_kept_and_how_long() {
        let cc = header::CACHE_CONTROL;
        let secs = |store, s| Policy {
            store,
            fresh_for: Duration::from_secs(s),
        };
        assert_eq!(p(&[]), secs(true, 0));
        assert_eq!(p(&[(cc.clone(), "public, max-age=60")]), secs(true, 60));
        assert_eq!(p(&[(cc.clone(), "Max-Age=\"10\"")]), secs(true, 10));
        assert_eq!(
            p(&[(cc.clone(), "max-age=60"), (header::AGE, "15")]),
            secs(true, 45)
        );
        assert_eq!(p(&[(cc.clone(), "max-age=60, no-cache")]), secs(true, 0));
        assert_eq!(
            p(&[(cc.clone(), "no-store"), (cc.clone(), "max-age=9")]),
            secs(false, 9)
        );
        assert_eq!(p(&[(cc, "s-maxage=30")]), secs(true, 0));
    }
}
