//! `receivers: ecs/<name>:` as a receiver kind: one job per enabled collector
//! (`ecs/<name>/dashboard`, ...), all sharing the cluster's session.

use std::any::Any;
use std::sync::Arc;

use pipeline::registry::{
    BuildContext, BuildError, BuiltJob, ConfigFactory, JobSpec, ReceiverFactory, ReceiverSpec,
};
use pipeline::schedule::Schedule;
use serde_json::Value;

use crate::EcsConfig;

/// The `ecs` receiver kind.
pub fn factory() -> Arc<dyn ReceiverFactory> {
    ConfigFactory::<EcsConfig>::new(
        "ecs",
        &[&crate::catalog::CATALOG, &crate::catalog::COMPAT_CATALOG],
    )
}

impl ReceiverSpec for EcsConfig {
    fn jobs(&self) -> Vec<JobSpec> {
        let outer = self.schedule();
        self.schedules()
            .into_iter()
            .map(|s| JobSpec {
                name: Some(s.kind.name().to_owned()),
                config_path: format!("collectors.{}", s.kind.name()),
                schedule: Schedule {
                    interval: s.interval,
                    initial_delay: s.initial_delay,
                    timeout: s.timeout,
                },
                receiver_interval: s.explicit.then_some(outer.interval),
            })
            .collect()
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn build(&self, id: &str, cx: &BuildContext) -> Result<Vec<BuiltJob>, BuildError> {
        let name = id.split_once('/').map_or(id, |(_, n)| n);
        let built = crate::collectors(name, self, &cx.service_name).map_err(BuildError::new)?;
        Ok(built
            .into_iter()
            .map(|(s, c)| BuiltJob {
                name: Some(s.kind.name().to_owned()),
                collector: c,
            })
            .collect())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
