//! `--demo`: the embedded ECS simulator the demo configuration watches. Only in builds
//! with the `demo` feature (the default), so that a production build links neither the
//! simulator nor its certificate generator.

/// The simulator the demo watches, and what the demo configuration needs to reach it.
pub struct Demo {
    _sim: ecs_sim::RunningSim,
    pub env: Vec<(String, String)>,
    ca_file: std::path::PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

pub fn start_demo(rt: &tokio::runtime::Runtime) -> Result<Demo, String> {
    let sim = rt
        .block_on(ecs_sim::start(ecs_sim::SimConfig {
            listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
            ..ecs_sim::SimConfig::default()
        }))
        .map_err(|e| format!("cannot start the embedded ECS simulator: {e}"))?;
    let ca_file =
        std::env::temp_dir().join(format!("ecs-otel-agent-demo-{}.pem", std::process::id()));
    std::fs::write(&ca_file, sim.cert_pem.clone().unwrap_or_default())
        .map_err(|e| format!("cannot write {}: {e}", ca_file.display()))?;
    let env = vec![
        (
            "ECS_DEMO_ENDPOINT".to_owned(),
            sim.url().replace("127.0.0.1", "localhost"),
        ),
        (
            "ECS_DEMO_PASSWORD".to_owned(),
            ecs_sim::model::MONITOR_USER.1.to_owned(),
        ),
        ("ECS_DEMO_CA_FILE".to_owned(), ca_file.display().to_string()),
    ];
    eprintln!(
        "demo: ECS simulator at {} (users root/ChangeMe, emcmonitor/monitor-pass)",
        sim.url()
    );
    Ok(Demo {
        _sim: sim,
        env,
        ca_file,
    })
}
