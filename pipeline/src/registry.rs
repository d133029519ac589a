//! How receivers plug into the agent. A receiver kind (`self`, `ecs`, ...) is a
//! [`ReceiverFactory`] in the agent's table: it decodes its `receivers: <kind>[/<name>]:`
//! block into a [`ReceiverSpec`], which says which jobs to schedule and, at start, builds
//! the collectors that run them. The agent's configuration, wiring and health code only
//! ever talk to these traits, so adding a receiver kind is a folder plus one table line.

use std::any::Any;
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::PipelineStats;
use crate::catalog::Catalog;
use crate::config::Validate;
use crate::decode::Decoder;
use crate::otlp::resource::v1::Resource;
use crate::receiver::Collector;
use crate::schedule::Schedule;

/// A receiver kind: its name in the configuration and how to read its settings.
pub trait ReceiverFactory: Send + Sync {
    /// The `type` of `type/name` in `receivers:`.
    fn kind(&self) -> &'static str;

    /// Reads one `receivers:` entry of this kind found at `path` (`receivers.ecs/prod`).
    /// Every problem goes to the decoder with its path; `None` when the block is unusable.
    fn decode(
        &self,
        value: &Value,
        path: &str,
        decoder: &mut Decoder<'_>,
    ) -> Option<Arc<dyn ReceiverSpec>>;

    /// The metrics this kind can emit, for the metrics reference and its checks.
    fn catalogs(&self) -> Vec<&'static Catalog> {
        Vec::new()
    }
}

/// The usual factory: a kind whose block deserializes into `C`, and its catalogs.
pub struct ConfigFactory<C> {
    kind: &'static str,
    catalogs: &'static [&'static Catalog],
    config: PhantomData<fn() -> C>,
}

impl<C> ConfigFactory<C>
where
    C: ReceiverSpec + DeserializeOwned + Validate + 'static,
{
    pub fn new(kind: &'static str, catalogs: &'static [&'static Catalog]) -> Arc<Self> {
        Arc::new(Self {
            kind,
            catalogs,
            config: PhantomData,
        })
    }
}

impl<C> ReceiverFactory for ConfigFactory<C>
where
    C: ReceiverSpec + DeserializeOwned + Validate + 'static,
{
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn decode(
        &self,
        value: &Value,
        path: &str,
        decoder: &mut Decoder<'_>,
    ) -> Option<Arc<dyn ReceiverSpec>> {
        decoder
            .decode::<C>(value, path)
            .map(|c| Arc::new(c) as Arc<dyn ReceiverSpec>)
    }

    fn catalogs(&self) -> Vec<&'static Catalog> {
        self.catalogs.to_vec()
    }
}

/// One configured receiver.
pub trait ReceiverSpec: Debug + Send + Sync {
    /// The jobs it wants scheduled, in a fixed order.
    fn jobs(&self) -> Vec<JobSpec>;

    /// The effective settings, secrets redacted, for `print-config`.
    fn to_json(&self) -> Value;

    /// Builds the collectors of its jobs (all of them: jobs of one receiver may share a
    /// session). `id` is the configured id (`ecs/prod`).
    fn build(&self, id: &str, cx: &BuildContext) -> Result<Vec<BuiltJob>, BuildError>;

    /// For tests and tools that need the concrete settings back.
    fn as_any(&self) -> &dyn Any;
}

/// A job a receiver wants: one collector on its own schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// Appended to the receiver's id to make the job id (`dashboard` → `ecs/prod/dashboard`);
    /// `None` when the receiver is a single job.
    pub name: Option<String>,
    /// Where its schedule keys live, relative to the receiver's block
    /// (`collectors.dashboard`; empty for the receiver's own block).
    pub config_path: String,
    pub schedule: Schedule,
    /// For a collector that sets its own interval: its receiver's, which it may not be
    /// shorter than.
    pub receiver_interval: Option<Duration>,
}

/// What the agent hands a receiver when it builds its collectors.
#[derive(Clone)]
pub struct BuildContext {
    pub stats: Arc<PipelineStats>,
    /// The agent's own resource (`service.name`, ...).
    pub resource: Resource,
    /// `service.name` for the series of the receivers.
    pub service_name: String,
    /// Every scheduled job with its effective interval.
    pub intervals: Vec<(String, Duration)>,
}

/// A built collector, and the job (as [`JobSpec::name`]) it runs.
pub struct BuiltJob {
    pub name: Option<String>,
    pub collector: Arc<dyn Collector>,
}

/// A receiver that could not be built; the message names what failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

impl BuildError {
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// The agent's table of receiver kinds.
#[derive(Clone, Default)]
pub struct Registry {
    factories: Vec<Arc<dyn ReceiverFactory>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a kind; a later factory of the same kind replaces the earlier one.
    pub fn with(mut self, f: Arc<dyn ReceiverFactory>) -> Self {
        self.factories.retain(|x| x.kind() != f.kind());
        self.factories.push(f);
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn ReceiverFactory>> {
        self.factories.iter().find(|f| f.kind() == kind)
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.factories.iter().map(|f| f.kind()).collect()
    }

    /// Every kind's catalogs, in table order.
    pub fn catalogs(&self) -> Vec<&'static Catalog> {
        self.factories.iter().flat_map(|f| f.catalogs()).collect()
    }
}
