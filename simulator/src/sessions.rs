//! Management sessions as ECS keeps them: a token per login, at most 100 per user (the
//! 101st login is refused until one is freed), an absolute and an idle lifetime, logout
//! freeing one token (or all of the user's with `force=true`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;

use crate::clock::Clock;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub max_tokens_per_user: usize,
    /// ECS default: 8 hours.
    pub lifetime: Duration,
    /// ECS default: 2 hours.
    pub idle_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_tokens_per_user: 100,
            lifetime: Duration::from_secs(8 * 3600),
            idle_timeout: Duration::from_secs(2 * 3600),
        }
    }
}

#[derive(Debug, Clone)]
struct Session {
    user: String,
    /// Simulated milliseconds since the epoch.
    created: i64,
    last_used: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("no such token")]
    Unknown,
    #[error("token expired")]
    Expired,
    #[error("the user has reached the maximum number of tokens ({0})")]
    LimitReached(usize),
}

#[derive(Debug, Default)]
struct State {
    tokens: HashMap<String, Session>,
    logins: u64,
    logouts: u64,
    refused: u64,
    counter: u64,
}

#[derive(Debug)]
pub struct Sessions {
    cfg: Mutex<SessionConfig>,
    state: Mutex<State>,
    seed: u64,
    clock: Arc<Clock>,
}

impl Sessions {
    /// Lifetimes run on the simulator's clock, so tests expire tokens by advancing it.
    pub fn new(cfg: SessionConfig, seed: u64, clock: Arc<Clock>) -> Self {
        Self {
            cfg: Mutex::new(cfg),
            state: Mutex::new(State::default()),
            seed,
            clock,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> SessionConfig {
        self.cfg.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_config(&self, cfg: SessionConfig) {
        *self.cfg.lock().unwrap_or_else(|p| p.into_inner()) = cfg;
    }

    fn expired(cfg: &SessionConfig, s: &Session, now: i64) -> bool {
        let ms = |d: Duration| d.as_millis() as i64;
        now - s.created >= ms(cfg.lifetime) || now - s.last_used >= ms(cfg.idle_timeout)
    }

    fn purge(cfg: &SessionConfig, st: &mut State, now: i64) {
        st.tokens.retain(|_, s| !Self::expired(cfg, s, now));
    }

    /// A new token for `user`, or the limit error.
    pub fn login(&self, user: &str) -> Result<String, SessionError> {
        let cfg = self.config();
        let now = self.clock.now_ms();
        let mut st = self.state();
        Self::purge(&cfg, &mut st, now);
        let held = st.tokens.values().filter(|s| s.user == user).count();
        if held >= cfg.max_tokens_per_user {
            st.refused += 1;
            return Err(SessionError::LimitReached(cfg.max_tokens_per_user));
        }
        st.counter += 1;
        st.logins += 1;
        let raw = format!("{}:{}:{}:{}", self.seed, st.counter, user, now);
        let token = format!(
            "BAAc{}",
            base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
        );
        st.tokens.insert(
            token.clone(),
            Session {
                user: user.to_owned(),
                created: now,
                last_used: now,
            },
        );
        Ok(token)
    }

    /// The user a token belongs to; refreshes its idle time.
    pub fn check(&self, token: &str) -> Result<String, SessionError> {
        let cfg = self.config();
        let now = self.clock.now_ms();
        let mut st = self.state();
        let Some(s) = st.tokens.get_mut(token) else {
            return Err(SessionError::Unknown);
        };
        if Self::expired(&cfg, s, now) {
            st.tokens.remove(token);
            return Err(SessionError::Expired);
        }
        s.last_used = now;
        Ok(s.user.clone())
    }

    /// Frees one token (or every token of its user with `force`); the user, if known.
    pub fn logout(&self, token: &str, force: bool) -> Option<String> {
        let mut st = self.state();
        let user = st.tokens.remove(token)?.user;
        if force {
            st.tokens.retain(|_, s| s.user != user);
        }
        st.logouts += 1;
        Some(user)
    }

    /// Live tokens of a user.
    pub fn count(&self, user: &str) -> usize {
        let cfg = self.config();
        let mut st = self.state();
        Self::purge(&cfg, &mut st, self.clock.now_ms());
        st.tokens.values().filter(|s| s.user == user).count()
    }

    /// (logins, logouts, refused logins) so far.
    pub fn totals(&self) -> (u64, u64, u64) {
        let st = self.state();
        (st.logins, st.logouts, st.refused)
    }

    /// Drops every token (a cluster restart, or a test's clean slate).
    pub fn clear(&self) {
        self.state().tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_101st_login_is_refused_until_a_logout() {
        let s = Sessions::new(SessionConfig::default(), 1, Arc::default());
        let tokens: Vec<String> = (0..100).map(|_| s.login("root").unwrap()).collect();
        assert_eq!(s.count("root"), 100);
        assert_eq!(s.login("root"), Err(SessionError::LimitReached(100)));
        // Other users are not affected.
        assert!(s.login("emcmonitor").is_ok());
        assert_eq!(s.logout(&tokens[0], false).as_deref(), Some("root"));
        assert!(s.login("root").is_ok());
    }

    #[test]
    fn force_logout_frees_every_token_of_the_user() {
        let s = Sessions::new(SessionConfig::default(), 1, Arc::default());
        let a = s.login("root").unwrap();
        s.login("root").unwrap();
        s.login("emcmonitor").unwrap();
        s.logout(&a, true);
        assert_eq!(s.count("root"), 0);
        assert_eq!(s.count("emcmonitor"), 1);
    }

    #[test]
    fn idle_and_absolute_expiry() {
        let clock = Arc::new(Clock::default());
        let s = Sessions::new(
            SessionConfig {
                idle_timeout: Duration::from_secs(60),
                lifetime: Duration::from_secs(600),
                ..SessionConfig::default()
            },
            1,
            clock.clone(),
        );
        let t = s.login("root").unwrap();
        clock.advance(59);
        assert!(s.check(&t).is_ok());
        clock.advance(59);
        assert!(s.check(&t).is_ok(), "use refreshes the idle time");
        clock.advance(61);
        assert_eq!(s.check(&t), Err(SessionError::Expired));
        assert_eq!(s.count("root"), 0);

        let t = s.login("root").unwrap();
        for _ in 0..10 {
            clock.advance(55);
            assert!(s.check(&t).is_ok());
        }
        clock.advance(55);
        assert_eq!(
            s.check(&t),
            Err(SessionError::Expired),
            "absolute lifetime reached"
        );
    }
}
