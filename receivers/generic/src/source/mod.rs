//! The sources a group reads: a command, a file, an HTTP endpoint or a static value. Each
//! read is bounded in time and size; reads of the same command or URL within its `cache`
//! time are shared by every block of the service.

mod command;
mod file;
mod http;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::config::{SourceSettings, SourceType};

pub use command::RunAs;
pub use file::agent_uid;

/// A failed read; `kind` is its bounded word for counters and health.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error("no answer within {0:?}; the read was stopped")]
    Timeout(Duration),
    #[error("the output passed {0} bytes and was cut")]
    TooLarge(u64),
    #[error("exited with {0}{1}")]
    Exit(String, String),
    #[error("{0}")]
    Io(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Setup(String),
}

impl SourceError {
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Timeout(_) => "timeout",
            SourceError::TooLarge(_) => "too_large",
            SourceError::Exit(..) => "exit_status",
            SourceError::Io(_) => "unavailable",
            SourceError::Refused(_) => "refused",
            SourceError::Status(_) => "server_error",
            SourceError::Setup(_) => "config",
        }
    }
}

/// One source, ready to read.
pub struct Source {
    settings: SourceSettings,
    run_as: Option<RunAs>,
    http: Option<http::Endpoint>,
    file: file::Watch,
}

impl Source {
    pub fn new(settings: SourceSettings, run_as: Option<RunAs>) -> Result<Self, SourceError> {
        let http = match settings.source_type {
            SourceType::Http => Some(http::Endpoint::new(&settings)?),
            _ => None,
        };
        Ok(Self {
            settings,
            run_as,
            http,
            file: file::Watch::default(),
        })
    }

    /// What is read and how: blocks with the same one share cached reads. A command's
    /// environment is part of it (the same argv may answer differently with other
    /// variables), and so are an HTTP read's method and body.
    fn cache_key(&self) -> String {
        let s = &self.settings;
        format!(
            "{} env={:?} {:?} {:?}",
            self.key(),
            s.env,
            s.http.method,
            s.http.body
        )
    }

    /// What is read, as errors name it (`command /bin/df -P /`, `file /proc/loadavg`).
    pub fn key(&self) -> String {
        let s = &self.settings;
        match s.source_type {
            SourceType::Command if s.shell => {
                format!("command (shell) {}", s.text().unwrap_or_default())
            }
            SourceType::Command => format!("command {}", s.argv().join(" ")),
            SourceType::File => format!("file {}", s.text().unwrap_or_default()),
            SourceType::Http => format!("http {}", s.text().unwrap_or_default()),
            SourceType::Static => format!("static {}", s.text().unwrap_or_default()),
        }
    }

    pub fn settings(&self) -> &SourceSettings {
        &self.settings
    }

    /// Reads it once, by `deadline`.
    pub async fn read(&self, deadline: Instant) -> Result<Bytes, SourceError> {
        let s = &self.settings;
        match s.source_type {
            SourceType::Static => Ok(Bytes::from(s.text().unwrap_or_default().to_owned())),
            SourceType::Command => command::run(s, self.run_as.as_ref(), deadline).await,
            SourceType::File => self.file.read(s, self.run_as.as_ref()).await,
            SourceType::Http => match &self.http {
                Some(e) => e.get(s, deadline).await,
                None => Err(SourceError::Setup("no HTTP client".into())),
            },
        }
    }
}

/// A read and when it was made.
type Read = (Instant, Result<Bytes, SourceError>);

/// Reads shared by the blocks of one service for their `cache` time.
#[derive(Default)]
pub struct Cache {
    reads: Mutex<HashMap<String, Read>>,
    /// One read per key at a time: a second block waits for the first's answer.
    inflight: tokio::sync::Mutex<()>,
}

impl Cache {
    /// The cached read of `source` while younger than its `cache`, else a fresh one.
    pub async fn read(&self, source: &Source, deadline: Instant) -> Result<Bytes, SourceError> {
        let ttl = match source.settings.source_type {
            SourceType::Command | SourceType::Http => source.settings.cache(),
            SourceType::File | SourceType::Static => Duration::ZERO,
        };
        if ttl.is_zero() {
            return source.read(deadline).await;
        }
        let key = source.cache_key();
        let _one = self.inflight.lock().await;
        if let Some((at, r)) = lock(&self.reads).get(&key)
            && at.elapsed() < ttl
        {
            return r.clone();
        }
        let r = source.read(deadline).await;
        lock(&self.reads).insert(key, (Instant::now(), r.clone()));
        r
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Shared by the service's blocks.
pub type SharedCache = Arc<Cache>;
