//! An HTTP endpoint: GET (or POST) with the toolkit's TLS, headers and authentication,
//! the answer capped.

use bytes::Bytes;
use tokio::time::Instant;

use super::SourceError;
use crate::config::SourceSettings;

pub fn client(s: &SourceSettings) -> Result<reqwest::Client, SourceError> {
    let mut cfg = s.http.client.clone();
    cfg.endpoint = s.text().unwrap_or_default().to_owned();
    cfg.build()
        .map(|c| c.client)
        .map_err(|e| SourceError::Setup(e.to_string()))
}

pub async fn get(
    client: &reqwest::Client,
    s: &SourceSettings,
    deadline: Instant,
) -> Result<Bytes, SourceError> {
    let url = s.text().unwrap_or_default();
    let method = match s.http.method.as_deref() {
        Some(m) if m.eq_ignore_ascii_case("post") => reqwest::Method::POST,
        _ => reqwest::Method::GET,
    };
    let timeout = deadline.saturating_duration_since(Instant::now());
    let mut req = client.request(method, url).timeout(timeout);
    if let Some(b) = &s.http.body {
        req = req.body(b.clone());
    }
    let mut resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            SourceError::Timeout(timeout)
        } else {
            SourceError::Io(pull::telemetry::error_chain(&e.without_url()))
        }
    })?;
    if !resp.status().is_success() {
        return Err(SourceError::Status(resp.status().as_u16()));
    }
    let max = s.max_bytes();
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
