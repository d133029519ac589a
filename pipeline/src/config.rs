//! Pieces every component's configuration uses: the problem list that `validate` prints,
//! durations, secrets that never print, and socket addresses.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One thing wrong with a configuration, and where: `exporters.prometheus.endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigProblem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The problems found so far; validation goes on after the first one so that a user sees
/// everything to fix in one run. Warnings (a setting accepted but doing nothing) do not
/// stop a configuration; they are printed by `validate` and logged at start.
#[derive(Debug, Default)]
pub struct Problems {
    errors: Vec<ConfigProblem>,
    warnings: Vec<ConfigProblem>,
}

impl Problems {
    /// A setting that is accepted but has no effect, with its path.
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(ConfigProblem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// The warnings found so far.
    pub fn take_warnings(&mut self) -> Vec<ConfigProblem> {
        std::mem::take(&mut self.warnings)
    }

    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigProblem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// No error (warnings aside).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// The errors.
    pub fn into_vec(self) -> Vec<ConfigProblem> {
        self.errors
    }

    /// `interval` must be positive.
    pub fn positive(&mut self, path: impl Into<String>, d: Duration) {
        if d.is_zero() {
            self.push(path, "must be greater than 0s");
        }
    }

    /// `file` must exist and be readable.
    pub fn readable(&mut self, path: impl Into<String>, file: &Path) {
        if let Err(e) = std::fs::File::open(file) {
            self.push(path, format!("cannot read {}: {e}", file.display()));
        }
    }
}

/// Joins a path and a key: `join("exporters.otlp", "tls")`; either may be empty.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else if key.is_empty() {
        path.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A component's configuration: its own checks beyond what deserializing caught.
pub trait Validate {
    fn validate(&self, path: &str, problems: &mut Problems);
}

/// Serde for durations written the humane way: `15s`, `1m30s`, `500ms`.
pub mod duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// No setting needs more; larger values would overflow the clock arithmetic.
    pub const MAX: Duration = Duration::from_secs(366 * 86_400);

    pub fn parse(s: &str) -> Result<Duration, String> {
        let d = humantime::parse_duration(s.trim()).map_err(|e| {
            format!("invalid duration {s:?} ({e}); write it like 15s, 1m30s or 500ms")
        })?;
        if d > MAX {
            return Err(format!("duration {s:?} is longer than a year"));
        }
        Ok(d)
    }

    /// Same, for optional durations.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            s.map(|s| parse(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// A value that must never be printed or logged: passwords, tokens, header values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

pub const REDACTED: &str = "[REDACTED]";

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a secret file; a trailing newline (as `echo` writes it) is not part of the
    /// secret.
    pub fn from_file(file: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(file)?;
        Ok(Self(text.trim_end_matches(['\n', '\r']).to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// The secret of a `password` / `password_file` pair already checked by `validate`.
pub fn password(inline: Option<&Secret>, file: Option<&PathBuf>) -> Option<Secret> {
    resolve_secret(
        inline,
        file,
        "",
        "password",
        "password_file",
        &mut Problems::default(),
    )
}

/// A secret given inline or in a file (`password` / `password_file`): exactly one of the
/// two, resolved when the configuration is loaded.
pub fn resolve_secret(
    inline: Option<&Secret>,
    file: Option<&PathBuf>,
    path: &str,
    inline_key: &str,
    file_key: &str,
    problems: &mut Problems,
) -> Option<Secret> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            problems.push(
                path,
                format!("set either {inline_key} or {file_key}, not both"),
            );
            None
        }
        // Empty inline (`""`, or a `${env:VAR}` with VAR set to nothing) is refused as an
        // empty file is: either way the login would fail at every cycle.
        (Some(s), None) if s.is_empty() => {
            problems.push(
                join(path, inline_key),
                "is empty; give the secret (if it comes from ${env:VAR}, VAR is set but empty)",
            );
            None
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(f)) => match Secret::from_file(f) {
            Ok(s) if s.is_empty() => {
                problems.push(join(path, file_key), format!("{} is empty", f.display()));
                None
            }
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(
                    join(path, file_key),
                    format!("cannot read {}: {e}", f.display()),
                );
                None
            }
        },
        (None, None) => None,
    }
}

/// Parses `host:port` into a socket address; names are resolved (`localhost:9438`).
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let invalid = || format!("invalid socket address {s:?}; expected host:port, e.g. 0.0.0.0:9438");
    let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(invalid());
    }
    s.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {s:?}: {e}"))?
        .next()
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses() {
        assert!(parse_socket_addr("0.0.0.0:9438").is_ok());
        assert!(parse_socket_addr("[::1]:9438").is_ok());
        assert!(parse_socket_addr("localhost:9438").is_ok());
        assert_eq!(
            parse_socket_addr("0.0.0.0:99999").unwrap_err(),
            "invalid socket address \"0.0.0.0:99999\"; expected host:port, e.g. 0.0.0.0:9438"
        );
        assert!(parse_socket_addr("9438").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration::parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration::parse("500ms"), Ok(Duration::from_millis(500)));
        assert!(duration::parse("5 parsecs").is_err());
        assert!(duration::parse("1000000000y").is_err());
        assert!(duration::parse("365d").is_ok());
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[REDACTED]\"");
        assert_eq!(s.expose(), "hunter2");
    }
}
