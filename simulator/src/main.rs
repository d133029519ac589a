use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use ecs_sim::{ModelConfig, SimConfig, Version};

/// A faithful stand-in for the Dell EMC ECS / ObjectScale management API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Cluster size: small (demo, tests) or large (1,000 namespaces, 20,000 buckets, 5,000 IAM users, 16 nodes).
    #[arg(long, default_value = "small")]
    preset: String,
    /// ECS version to behave like: 3.5, 3.8 or 4.1 (ObjectScale).
    #[arg(long = "ecs-version", default_value = "3.8")]
    ecs_version: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Management API address.
    #[arg(long, default_value = "127.0.0.1:4443")]
    listen: SocketAddr,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    http: bool,
    /// Write the self-signed certificate here (give it to clients as their CA file).
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// A JSON file with the full configuration (SimConfig) instead of the flags.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let cfg = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str::<SimConfig>(&text)
                .with_context(|| format!("{}: invalid simulator configuration", path.display()))?
        }
        None => {
            let mut model = ModelConfig::preset(&cli.preset)
                .with_context(|| format!("unknown preset {:?} (small or large)", cli.preset))?;
            model.version = Version::parse(&cli.ecs_version).with_context(|| {
                format!(
                    "unknown ECS version {:?} (3.5, 3.8 or 4.1)",
                    cli.ecs_version
                )
            })?;
            model.seed = cli.seed;
            SimConfig {
                model,
                listen: cli.listen,
                tls: !cli.http,
                ..SimConfig::default()
            }
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let sim = ecs_sim::start(cfg).await?;
        if let (Some(path), Some(pem)) = (&cli.cert_out, &sim.cert_pem) {
            std::fs::write(path, pem)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!(
            "ECS simulator: {} (users root/ChangeMe, emcmonitor/monitor-pass); nodes at {:?}",
            sim.url(),
            sim.node_ips
        );
        tokio::signal::ctrl_c().await?;
        sim.stop().await;
        Ok(())
    })
}
