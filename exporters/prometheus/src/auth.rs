//! HTTP basic auth against bcrypt hashes, as Prometheus' web configuration does it. A
//! bcrypt check costs tens of milliseconds by design, so successful checks are remembered
//! (keyed by a salted hash of the credentials, never the credentials themselves).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct BasicAuth {
    users: BTreeMap<String, String>,
    verified: Mutex<HashSet<u64>>,
    salt: RandomState,
    /// Checked against when the user is unknown, so that a wrong user name costs as much
    /// as a wrong password and names cannot be probed by timing.
    decoy: String,
    cache_hits: AtomicU64,
}

/// Remembered credentials are forgotten past this many, so the set cannot grow unbounded.
const MAX_REMEMBERED: usize = 1024;

impl BasicAuth {
    pub fn new(users: BTreeMap<String, String>) -> Self {
        let cost = users
            .values()
            .find_map(|h| h.get(4..6).and_then(|c| c.parse().ok()))
            .unwrap_or(bcrypt::DEFAULT_COST);
        let decoy = bcrypt::hash("decoy", cost).unwrap_or_default();
        Self {
            users,
            verified: Mutex::new(HashSet::new()),
            salt: RandomState::new(),
            decoy,
            cache_hits: AtomicU64::new(0),
        }
    }

    /// Checks answered from the remembered credentials, without a bcrypt round.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// Checks an `Authorization` header value. Blocking (bcrypt): call it off the runtime.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some((user, password)) = header.and_then(pipeline::http_server::basic_credentials)
        else {
            return false;
        };
        let key = self.salt.hash_one((&user, &password));
        if self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key)
        {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let Some(hash) = self.users.get(&user) else {
            let _ = bcrypt::verify(&password, &self.decoy);
            return false;
        };
        if bcrypt::verify(&password, hash).unwrap_or(false) {
            let mut v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if v.len() >= MAX_REMEMBERED {
                v.clear();
            }
            v.insert(key);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn header(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn checks_bcrypt_hashes() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new([("prom".to_owned(), hash)].into());
        assert!(auth.check(Some(&header("prom", "s3cret"))));
        assert_eq!(auth.cache_hits(), 0, "the first check is a bcrypt check");
        assert!(auth.check(Some(&header("prom", "s3cret"))));
        assert_eq!(auth.cache_hits(), 1, "the second comes from the cache");
        assert!(!auth.check(Some(&header("prom", "wrong"))));
        assert!(!auth.check(Some(&header("prom", "wrong"))));
        assert_eq!(auth.cache_hits(), 1, "failed checks are never remembered");
        assert!(!auth.check(Some(&header("other", "s3cret"))));
        assert!(!auth.check(Some("Bearer abc")));
        assert!(!auth.check(None));
    }
}
