use std::sync::Arc;

use async_trait::async_trait;

use crate::Batch;

/// How an exporter's queue makes room when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuePolicy {
    /// Drop the oldest batch (counted): for exporters that must deliver every snapshot.
    DropOldest,
    /// A new batch replaces a waiting batch of the same source, since it supersedes it;
    /// when still full, the oldest is dropped (counted).
    LatestPerSource,
}

/// A failed export. Retryable errors have already been retried by the exporter when this
/// is returned.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExportError {
    pub kind: &'static str,
    pub message: String,
}

impl ExportError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

#[async_trait]
pub trait Exporter: Send + Sync {
    fn queue_policy(&self) -> QueuePolicy {
        QueuePolicy::DropOldest
    }

    /// Deliver one batch. Called by a single worker per exporter, one batch at a time.
    async fn export(&self, batch: Arc<Batch>) -> Result<(), ExportError>;

    /// Flush and release resources; called once after the last export.
    async fn shutdown(&self) {}
}
