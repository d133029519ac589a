//! The agent run inside the test's process, on a runtime of its own: for tests that build
//! their configuration with an extra receiver kind, or look at it while it runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ecs_otel_agent::config::AgentConfig;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct InProcess {
    runtime: Runtime,
    stop: oneshot::Sender<()>,
    agent: JoinHandle<anyhow::Result<()>>,
}

/// Starts the agent on `cfg`; it runs until [`InProcess::stop`].
pub fn start(cfg: AgentConfig) -> InProcess {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = runtime.spawn(ecs_otel_agent::run::run(
        cfg,
        async {
            let _ = stopped.await;
        },
        |_| {},
    ));
    InProcess {
        runtime,
        stop,
        agent,
    }
}

impl InProcess {
    /// Stops the agent as SIGTERM would and checks that it stopped cleanly.
    pub fn stop(self) {
        let _ = self.stop.send(());
        self.runtime.block_on(self.agent).unwrap().unwrap();
    }
}
