//! HTTP basic auth against bcrypt hashes, as Prometheus' web configuration does it.
//!
//! A bcrypt check costs tens of milliseconds by design, which makes it a lever for anyone
//! who can reach the port: 40 clients sending a wrong password held two cores. So:
//!
//! - verdicts, good and bad, are remembered for a while, keyed by a salted 128-bit hash of
//!   the credentials (never the credentials themselves);
//! - credentials not remembered cost a token from their client's bucket (per IPv4 address
//!   or IPv6 /64); a client without tokens is refused without a bcrypt check, and a
//!   success gives the token back, so only failures drain it;
//! - failures are logged at most once per client per [`LOG_EVERY`], with how many were left
//!   unlogged; never the header, the user name or the password.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a successful check is remembered.
pub const SUCCESS_TTL: Duration = Duration::from_secs(300);
/// How long a failed check is remembered (the same wrong password again costs nothing).
pub const FAILURE_TTL: Duration = Duration::from_secs(60);
/// Checks a client may make in a burst with credentials not remembered.
pub const BURST: f64 = 5.0;
/// A client regains one check this often.
pub const REFILL: Duration = Duration::from_secs(2);
/// At most one log line per client this often.
pub const LOG_EVERY: Duration = Duration::from_secs(60);
/// Entries of each cache and clients tracked; past it, stale entries go first, then all.
const MAX_ENTRIES: usize = 4096;

/// The outcome of one request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No `Authorization: Basic` header, or one that does not decode.
    NoCredentials,
    WrongCredentials,
    /// Too many failed checks from this client lately: refused without a bcrypt check.
    RateLimited,
}

impl Verdict {
    /// The bounded `reason` of a refusal, for self-telemetry and logs.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Verdict::Allowed => None,
            Verdict::NoCredentials => Some("no_credentials"),
            Verdict::WrongCredentials => Some("wrong_credentials"),
            Verdict::RateLimited => Some("rate_limited"),
        }
    }
}

type Key = (u64, u64);

/// Credentials that need a bcrypt check: the blocking half of [`BasicAuth::begin`].
pub struct Pending {
    key: Key,
    user: String,
    password: String,
    client: Option<IpAddr>,
}

/// What [`BasicAuth::begin`] decided without bcrypt.
pub enum Step {
    Done(Verdict),
    Bcrypt(Pending),
}

struct Client {
    tokens: f64,
    refilled: Instant,
    logged: Option<Instant>,
    unlogged: u64,
}

#[derive(Default)]
struct State {
    allowed: HashMap<Key, Instant>,
    refused: HashMap<Key, Instant>,
    clients: HashMap<IpAddr, Client>,
}

pub struct BasicAuth {
    users: BTreeMap<String, String>,
    salt: (RandomState, RandomState),
    /// Checked against when the user is unknown, so that a wrong user name costs as much
    /// as a wrong password and names cannot be probed by timing.
    decoy: String,
    state: Mutex<State>,
    cache_hits: AtomicU64,
    bcrypt_checks: AtomicU64,
}

/// The bucket a client draws from: its IPv4 address, or its IPv6 /64 (one host usually
/// has a whole /64).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// Keeps a cache under [`MAX_ENTRIES`]: expired entries first, everything if that is not
/// enough (an attacker can then only make the next checks cost bcrypt again).
fn make_room(cache: &mut HashMap<Key, Instant>, now: Instant) {
    if cache.len() >= MAX_ENTRIES {
        cache.retain(|_, until| *until > now);
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
    }
}

impl BasicAuth {
    pub fn new(users: BTreeMap<String, String>) -> Self {
        let cost = users
            .values()
            .find_map(|h| h.get(4..6).and_then(|c| c.parse().ok()))
            .unwrap_or(bcrypt::DEFAULT_COST);
        let decoy = bcrypt::hash("decoy", cost).unwrap_or_default();
        Self {
            users,
            salt: (RandomState::new(), RandomState::new()),
            decoy,
            state: Mutex::new(State::default()),
            cache_hits: AtomicU64::new(0),
            bcrypt_checks: AtomicU64::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks answered from the remembered verdicts, without a bcrypt round.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// bcrypt checks made so far (the decoy's included).
    pub fn bcrypt_checks(&self) -> u64 {
        self.bcrypt_checks.load(Ordering::Relaxed)
    }

    /// Everything that can be decided without bcrypt: cheap, call it on the runtime.
    pub fn begin(&self, header: Option<&str>, client: Option<IpAddr>, now: Instant) -> Step {
        let Some((user, password)) = header.and_then(pipeline::http_server::basic_credentials)
        else {
            return Step::Done(Verdict::NoCredentials);
        };
        let key = (
            self.salt.0.hash_one((&user, &password)),
            self.salt.1.hash_one((&user, &password)),
        );
        let mut st = self.state();
        for (cache, verdict) in [
            (&st.allowed, Verdict::Allowed),
            (&st.refused, Verdict::WrongCredentials),
        ] {
            if cache.get(&key).is_some_and(|until| *until > now) {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Step::Done(verdict);
            }
        }
        if let Some(ip) = client.map(client_key) {
            if !st.clients.contains_key(&ip) && st.clients.len() >= MAX_ENTRIES {
                // Clients with a full bucket and nothing left to log carry no state worth
                // keeping.
                st.clients
                    .retain(|_, c| c.unlogged > 0 || c.tokens + refill(c.refilled, now) < BURST);
                if st.clients.len() >= MAX_ENTRIES {
                    st.clients.clear();
                }
            }
            let c = st.clients.entry(ip).or_insert(Client {
                tokens: BURST,
                refilled: now,
                logged: None,
                unlogged: 0,
            });
            c.tokens = (c.tokens + refill(c.refilled, now)).min(BURST);
            c.refilled = now;
            if c.tokens < 1.0 {
                return Step::Done(Verdict::RateLimited);
            }
            c.tokens -= 1.0;
        }
        Step::Bcrypt(Pending {
            key,
            user,
            password,
            client,
        })
    }

    /// The bcrypt check. Blocking: call it off the async runtime.
    pub fn finish(&self, p: Pending, now: Instant) -> Verdict {
        self.bcrypt_checks.fetch_add(1, Ordering::Relaxed);
        let ok = match self.users.get(&p.user) {
            Some(hash) => bcrypt::verify(&p.password, hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(&p.password, &self.decoy);
                false
            }
        };
        let mut st = self.state();
        if ok {
            make_room(&mut st.allowed, now);
            st.allowed.insert(p.key, now + SUCCESS_TTL);
            if let Some(c) = p.client.and_then(|ip| st.clients.get_mut(&client_key(ip))) {
                c.tokens = (c.tokens + 1.0).min(BURST);
            }
            Verdict::Allowed
        } else {
            make_room(&mut st.refused, now);
            st.refused.insert(p.key, now + FAILURE_TTL);
            Verdict::WrongCredentials
        }
    }

    /// Checks an `Authorization` header value with no client address (no rate limit).
    /// Blocking (bcrypt): call it off the runtime.
    pub fn check(&self, header: Option<&str>) -> bool {
        let now = Instant::now();
        let v = match self.begin(header, None, now) {
            Step::Done(v) => v,
            Step::Bcrypt(p) => self.finish(p, now),
        };
        v == Verdict::Allowed
    }

    /// Whether a refusal for `client` should be logged now; if so, how many refusals since
    /// its last line went unlogged. At most one line per client per [`LOG_EVERY`].
    pub fn should_log(&self, client: Option<IpAddr>, now: Instant) -> Option<u64> {
        let ip = client_key(client?);
        let mut st = self.state();
        let c = st.clients.entry(ip).or_insert(Client {
            tokens: BURST,
            refilled: now,
            logged: None,
            unlogged: 0,
        });
        if c.logged
            .is_some_and(|at| now.saturating_duration_since(at) < LOG_EVERY)
        {
            c.unlogged += 1;
            return None;
        }
        c.logged = Some(now);
        Some(std::mem::take(&mut c.unlogged))
    }
}

fn refill(since: Instant, now: Instant) -> f64 {
    now.saturating_duration_since(since).as_secs_f64() / REFILL.as_secs_f64()
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

    fn verdict(auth: &BasicAuth, h: &str, ip: IpAddr, now: Instant) -> Verdict {
        match auth.begin(Some(h), Some(ip), now) {
            Step::Done(v) => v,
            Step::Bcrypt(p) => auth.finish(p, now),
        }
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
        assert_eq!(auth.bcrypt_checks(), 2);
        assert!(!auth.check(Some(&header("prom", "wrong"))));
        assert_eq!(auth.bcrypt_checks(), 2, "a failure is remembered too");
        assert!(!auth.check(Some(&header("other", "s3cret"))));
        assert!(!auth.check(Some("Bearer abc")));
        assert!(!auth.check(None));
    }

    #[test]
    fn remembered_verdicts_expire() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new([("prom".to_owned(), hash)].into());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        let good = header("prom", "s3cret");
        let bad = header("prom", "nope");
        assert_eq!(verdict(&auth, &good, ip, t), Verdict::Allowed);
        assert_eq!(verdict(&auth, &bad, ip, t), Verdict::WrongCredentials);
        assert_eq!(auth.bcrypt_checks(), 2);
        assert_eq!(
            verdict(&auth, &bad, ip, t + FAILURE_TTL - Duration::from_millis(1)),
            Verdict::WrongCredentials
        );
        assert_eq!(
            verdict(&auth, &good, ip, t + SUCCESS_TTL - Duration::from_millis(1)),
            Verdict::Allowed
        );
        assert_eq!(auth.bcrypt_checks(), 2);
        assert_eq!(
            verdict(&auth, &bad, ip, t + SUCCESS_TTL),
            Verdict::WrongCredentials
        );
        assert_eq!(verdict(&auth, &good, ip, t + SUCCESS_TTL), Verdict::Allowed);
        assert_eq!(auth.bcrypt_checks(), 4);
    }

    #[test]
    fn failures_drain_a_clients_bucket_and_time_refills_it() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new([("prom".to_owned(), hash)].into());
        let attacker: IpAddr = "2001:db8::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8::2".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let t = Instant::now();
        for i in 0..BURST as usize {
            assert_eq!(
                verdict(&auth, &header("prom", &format!("guess{i}")), attacker, t),
                Verdict::WrongCredentials
            );
        }
        assert_eq!(
            verdict(&auth, &header("prom", "guess-next"), attacker, t),
            Verdict::RateLimited
        );
        assert_eq!(
            verdict(&auth, &header("prom", "s3cret"), same_net, t),
            Verdict::RateLimited,
            "one bucket per /64"
        );
        assert_eq!(auth.bcrypt_checks(), BURST as u64);
        assert_eq!(
            verdict(&auth, &header("prom", "s3cret"), other, t),
            Verdict::Allowed
        );
        assert_eq!(
            verdict(&auth, &header("prom", "s3cret"), attacker, t),
            Verdict::Allowed,
            "remembered credentials pass a drained bucket"
        );
        assert_eq!(
            verdict(&auth, &header("prom", "guess-next"), attacker, t + REFILL),
            Verdict::WrongCredentials
        );
    }

    #[test]
    fn one_log_line_per_client_per_period() {
        let auth = BasicAuth::new([("prom".to_owned(), bcrypt::hash("x", 4).unwrap())].into());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t = Instant::now();
        assert_eq!(auth.should_log(Some(a), t), Some(0));
        assert_eq!(auth.should_log(Some(a), t + Duration::from_secs(1)), None);
        assert_eq!(auth.should_log(Some(a), t + Duration::from_secs(2)), None);
        assert_eq!(auth.should_log(Some(b), t), Some(0));
        assert_eq!(auth.should_log(Some(a), t + LOG_EVERY), Some(2));
        assert_eq!(auth.should_log(None, t), None);
    }
}
