//! Where the audit collector is: per namespace the minute up to which every event is
//! read, the ids of the events it may see again (those of the overlap), and the same for
//! alerts. Kept in a file when `state_file` is set, so that a restarted agent neither
//! repeats nor skips an event.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Every event up to this time (Unix seconds, inclusive minute) is read.
    pub until: i64,
    /// Ids seen at or after `until - overlap`, with their time.
    pub seen: BTreeMap<String, i64>,
}

impl Cursor {
    pub fn new(until: i64) -> Self {
        Self {
            until,
            seen: BTreeMap::new(),
        }
    }

    /// Records `id`; false if it was seen before.
    pub fn first_time(&mut self, id: &str, time: i64) -> bool {
        if self.seen.contains_key(id) {
            return false;
        }
        self.seen.insert(id.to_owned(), time);
        true
    }

    /// Everything up to `until` is read: ids older than the next window are forgotten.
    /// (A cursor never read whole stands an overlap after its first window's start, so
    /// that a failed first read starts there again.)
    pub fn advance(&mut self, until: i64, overlap: i64) {
        self.until = until;
        let keep_from = self.until - overlap - 60;
        self.seen.retain(|_, t| *t >= keep_from);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The cluster the state is of: a file copied from another cluster is not used.
    pub endpoint: String,
    /// Where a namespace first seen starts (the first start, less `initial_lookback`).
    pub origin: i64,
    pub namespaces: BTreeMap<String, Cursor>,
    pub alerts: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the audit state {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write the audit state {path}: {message}")]
    Write { path: String, message: String },
}

impl State {
    pub fn new(endpoint: &str, origin: i64) -> Self {
        Self {
            version: VERSION,
            endpoint: endpoint.to_owned(),
            origin,
            ..Self::default()
        }
    }

    /// The saved state of `endpoint`; `Ok(None)` when there is none yet.
    pub fn load(path: &Path, endpoint: &str) -> Result<Option<State>, StateError> {
        let err = |message: String| StateError::Read {
            path: path.display().to_string(),
            message,
        };
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(e.to_string())),
        };
        let s: State =
            serde_json::from_slice(&text).map_err(|e| err(format!("not a state file ({e})")))?;
        if s.version != VERSION {
            return Err(err(format!(
                "version {} (this agent writes {VERSION})",
                s.version
            )));
        }
        if s.endpoint != endpoint {
            return Err(err(format!(
                "it belongs to {} and this receiver reads {endpoint}",
                s.endpoint
            )));
        }
        Ok(Some(s))
    }

    /// Writes the state next to `path` and renames it into place, so that a crash leaves
    /// the old state or the new one, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let err = |message: String| StateError::Write {
            path: path.display().to_string(),
            message,
        };
        let json = serde_json::to_vec(self).map_err(|e| err(e.to_string()))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        let mut f = std::fs::File::create(&tmp).map_err(|e| err(e.to_string()))?;
        f.write_all(&json).map_err(|e| err(e.to_string()))?;
        f.sync_all().map_err(|e| err(e.to_string()))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }

    /// The oldest point up to which a namespace is read.
    pub fn oldest(&self) -> Option<i64> {
        self.namespaces.values().map(|c| c.until).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_new_once_and_forgotten_after_the_overlap() {
        let mut c = Cursor::new(0);
        assert!(c.first_time("a", 1000));
        assert!(!c.first_time("a", 1000));
        // The next window starts at 1200 - 300: 1000 is inside it, still remembered.
        c.advance(1200, 300);
        assert!(!c.first_time("a", 1000), "still inside the overlap");
        c.advance(2000, 300);
        assert!(c.seen.is_empty());
        assert_eq!(c.until, 2000);
    }

    #[test]
    fn the_state_survives_a_save_and_refuses_another_cluster() {
        let dir = std::env::temp_dir().join(format!("audit-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let mut s = State::new("https://a:4443", 100);
        s.namespaces.insert("ns1".into(), Cursor::new(6000));
        s.namespaces.get_mut("ns1").unwrap().first_time("e1", 5940);
        s.save(&path).unwrap();
        assert_eq!(State::load(&path, "https://a:4443").unwrap(), Some(s));
        let e = State::load(&path, "https://b:4443")
            .unwrap_err()
            .to_string();
        assert!(e.contains("belongs to https://a:4443"), "{e}");
        std::fs::write(&path, b"{").unwrap();
        assert!(
            State::load(&path, "https://a:4443")
                .unwrap_err()
                .to_string()
                .contains(path.to_str().unwrap())
        );
        assert_eq!(State::load(&dir.join("none.json"), "x").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
