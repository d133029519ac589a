//! A file: read again only when it changed (inode, size or modification time: a rotated
//! file is a new inode), capped, and refused when others than its owner may write it or
//! its owner is neither root nor the user the service reads as.

use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::{RunAs, SourceError, lock};
use crate::config::SourceSettings;

/// A version of a file: inode, size, modification time (seconds, nanoseconds).
type Version = (u64, u64, i64, i64);

/// The version last read, and what it said.
#[derive(Default)]
pub struct Watch {
    last: Mutex<Option<(Version, Bytes)>>,
}

impl Watch {
    pub async fn read(
        &self,
        s: &SourceSettings,
        run_as: Option<&RunAs>,
    ) -> Result<Bytes, SourceError> {
        let path = s.text().unwrap_or_default();
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| SourceError::Io(e.to_string()))?;
        check_permissions(path, &meta, run_as)?;
        let id = (meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec());
        if let Some((seen, body)) = lock(&self.last).as_ref()
            && *seen == id
        {
            return Ok(body.clone());
        }
        let max = s.max_bytes();
        let f = tokio::fs::File::open(path)
            .await
            .map_err(|e| SourceError::Io(e.to_string()))?;
        let mut out = Vec::new();
        f.take(max + 1)
            .read_to_end(&mut out)
            .await
            .map_err(|e| SourceError::Io(e.to_string()))?;
        if out.len() as u64 > max {
            return Err(SourceError::TooLarge(max));
        }
        let body = Bytes::from(out);
        *lock(&self.last) = Some((id, body.clone()));
        Ok(body)
    }
}

/// Numbers a file gives are trusted as much as whoever may write it.
fn check_permissions(
    path: &str,
    meta: &std::fs::Metadata,
    run_as: Option<&RunAs>,
) -> Result<(), SourceError> {
    if meta.mode() & 0o022 != 0 && !path.starts_with("/proc/") && !path.starts_with("/sys/") {
        return Err(SourceError::Refused(format!(
            "{path} may be written by its group or by anyone (mode {:o})",
            meta.mode() & 0o777
        )));
    }
    let reader = run_as.map(|r| r.uid);
    let agent = agent_uid();
    let owner = meta.uid();
    if owner != 0 && Some(owner) != reader && Some(owner) != agent {
        return Err(SourceError::Refused(format!(
            "{path} belongs to uid {owner}, neither root nor the user it is read as"
        )));
    }
    if let Some(r) = run_as
        && !readable_by(meta, r)
    {
        return Err(SourceError::Refused(format!(
            "{path} is not readable by uid {} (run_as)",
            r.uid
        )));
    }
    Ok(())
}

fn readable_by(meta: &std::fs::Metadata, r: &RunAs) -> bool {
    let mode = meta.mode();
    (meta.uid() == r.uid && mode & 0o400 != 0)
        || (meta.gid() == r.gid && mode & 0o040 != 0)
        || mode & 0o004 != 0
}

/// The agent's own uid, from /proc (no libc call needed).
pub fn agent_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}
