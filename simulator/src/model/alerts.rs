//! Alerts raised while the simulator runs (`POST /__sim/alerts`), next to the generated
//! ones: unacknowledged, stamped with the model's time.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::Deserialize;

use super::{Alert, Cluster, K_ALERT};
use crate::ids::uuid;

pub const SEVERITIES: [&str; 4] = ["CRITICAL", "ERROR", "WARNING", "INFO"];
/// The symptom code of a raised alert that names none.
pub const DEFAULT_SYMPTOM_CODE: u32 = 1000;

/// The body of `POST /__sim/alerts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRequest {
    pub severity: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub namespace: Option<String>,
    #[serde(rename = "symptomCode")]
    pub symptom_code: Option<u32>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AlertError {
    #[error("severity {0:?} is not one of CRITICAL, ERROR, WARNING, INFO")]
    Severity(String),
    #[error("type must not be empty")]
    Type,
}

/// Alert types live as long as the model (`Alert.kind` is `&'static str`): each distinct
/// type raised at run time is kept once.
fn intern(s: &str) -> &'static str {
    static TYPES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut set = TYPES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = set.get(s) {
        return k;
    }
    let k: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.insert(k);
    k
}

impl Cluster {
    /// Raises an unacknowledged alert at `now` and returns it.
    pub fn raise_alert(&mut self, r: AlertRequest, now: i64) -> Result<&Alert, AlertError> {
        let severity = SEVERITIES
            .iter()
            .find(|s| s.eq_ignore_ascii_case(&r.severity))
            .ok_or_else(|| AlertError::Severity(r.severity.clone()))?;
        if r.kind.trim().is_empty() {
            return Err(AlertError::Type);
        }
        let n = self.alerts.len() as u64;
        self.alerts.push(Alert {
            id: format!(
                "urn:storageos:Alert:{}",
                uuid(self.cfg.seed, &[K_ALERT, u64::MAX, n])
            ),
            severity,
            kind: intern(r.kind.trim()),
            description: r.description,
            namespace: r.namespace.unwrap_or_default(),
            acknowledged: false,
            symptom_code: r.symptom_code.unwrap_or(DEFAULT_SYMPTOM_CODE),
            timestamp: now,
        });
        Ok(&self.alerts[self.alerts.len() - 1])
    }
}
