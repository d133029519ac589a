//! A command: an argv list (no shell unless asked for), the environment cleared but for an
//! allow-list, a deadline after which the child is killed, the output capped, the exit
//! status checked; run as the service's user when one is set.

use std::process::Stdio;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::time::Instant;

use super::SourceError;
use crate::config::SourceSettings;

/// The user and group a service's commands run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// `user` (a name or a uid) and `group` (a name or a gid; the user's primary group
    /// when unset), looked up in /etc/passwd and /etc/group.
    pub fn resolve(user: &str, group: Option<&str>) -> Result<Self, String> {
        let passwd = std::fs::read_to_string("/etc/passwd")
            .map_err(|e| format!("cannot read /etc/passwd: {e}"))?;
        let (uid, primary) = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && (f[0] == user || f[2] == user))
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .ok_or_else(|| format!("no user {user:?} in /etc/passwd"))?;
        let gid = match group {
            None => primary,
            Some(g) => {
                let groups = std::fs::read_to_string("/etc/group")
                    .map_err(|e| format!("cannot read /etc/group: {e}"))?;
                groups
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() > 2 && (f[0] == g || f[2] == g))
                    .and_then(|f| f[2].parse().ok())
                    .ok_or_else(|| format!("no group {g:?} in /etc/group"))?
            }
        };
        Ok(Self { uid, gid })
    }
}

pub async fn run(
    s: &SourceSettings,
    run_as: Option<&RunAs>,
    deadline: Instant,
) -> Result<Bytes, SourceError> {
    let argv = if s.shell {
        vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            s.text().unwrap_or_default().to_owned(),
        ]
    } else {
        s.argv()
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(SourceError::Setup("an empty command".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in &s.env {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    if let Some(r) = run_as {
        cmd.uid(r.uid).gid(r.gid);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| SourceError::Io(format!("cannot start {program}: {e}")))?;
    let max = s.max_bytes();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let work = async {
        let mut out = Vec::new();
        if let Some(o) = stdout.as_mut() {
            // One byte over the cap tells a full output from a cut one.
            o.take(max + 1)
                .read_to_end(&mut out)
                .await
                .map_err(|e| SourceError::Io(e.to_string()))?;
        }
        if out.len() as u64 > max {
            return Err(SourceError::TooLarge(max));
        }
        let mut err = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(4096).read_to_end(&mut err).await;
        }
        let status = child
            .wait()
            .await
            .map_err(|e| SourceError::Io(e.to_string()))?;
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            let first = err.lines().next().unwrap_or("").trim();
            let note = if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            };
            return Err(SourceError::Exit(status.to_string(), note));
        }
        Ok(Bytes::from(out))
    };
    let timeout = deadline.saturating_duration_since(Instant::now());
    // On timeout the future, and with it the child (kill_on_drop), is dropped.
    tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| SourceError::Timeout(timeout))?
}
