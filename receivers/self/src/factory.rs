//! `receivers: self:` as a receiver kind: one job, its schedule from its own block.

use std::any::Any;
use std::sync::Arc;

use pipeline::registry::{
    BuildContext, BuildError, BuiltJob, ConfigFactory, JobSpec, ReceiverFactory, ReceiverSpec,
};
use serde_json::Value;

use crate::{SelfConfig, SelfReceiver};

/// The `self` receiver kind.
pub fn factory() -> Arc<dyn ReceiverFactory> {
    ConfigFactory::<SelfConfig>::new("self", &[&crate::catalog::CATALOG])
}

impl ReceiverSpec for SelfConfig {
    fn jobs(&self) -> Vec<JobSpec> {
        if !self.0.schedule.enabled {
            return Vec::new();
        }
        vec![JobSpec {
            name: None,
            config_path: String::new(),
            schedule: self.schedule(),
            receiver_interval: None,
        }]
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn build(&self, _id: &str, cx: &BuildContext) -> Result<Vec<BuiltJob>, BuildError> {
        let r = SelfReceiver::new(cx.stats.clone(), cx.resource.clone(), cx.intervals.clone())
            .map_err(BuildError::new)?;
        Ok(vec![BuiltJob {
            name: None,
            collector: Arc::new(r),
        }])
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
