use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ecs_otel_agent::config::{self, AgentConfig};
use pipeline::config::ConfigProblem;

/// OpenTelemetry-native telemetry agent for Dell EMC ECS / ObjectScale.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (YAML, OpenTelemetry Collector shape).
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Run on the embedded default configuration.
    #[arg(long, global = true, conflicts_with = "config")]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check a configuration and print every problem with its path.
    Validate,
    /// Print the effective configuration (defaults filled in, secrets redacted).
    PrintConfig,
}

/// The simulator the demo watches, and what the demo configuration needs to reach it.
struct Demo {
    _sim: ecs_sim::RunningSim,
    env: Vec<(String, String)>,
    ca_file: std::path::PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

fn start_demo(rt: &tokio::runtime::Runtime) -> Result<Demo, String> {
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

fn load(
    cli: &Cli,
    demo: Option<&Demo>,
) -> Result<(AgentConfig, String), (Vec<ConfigProblem>, String)> {
    if let Some(demo) = demo {
        let name = "the embedded demo configuration".to_owned();
        let lookup = |v: &str| {
            demo.env
                .iter()
                .find(|(k, _)| k == v)
                .map(|(_, x)| x.clone())
                .or_else(|| std::env::var(v).ok())
        };
        return config::from_yaml(ecs_otel_agent::DEMO_CONFIG, &lookup)
            .map(|c| (c, name.clone()))
            .map_err(|p| (p, name));
    }
    match &cli.config {
        Some(path) => {
            let name = path.display().to_string();
            config::load(path)
                .map(|c| (c, name.clone()))
                .map_err(|p| (p, name))
        }
        None => Err((
            vec![ConfigProblem {
                path: String::new(),
                message: "no configuration: give --config FILE, or --demo for the embedded default"
                    .into(),
            }],
            "the command line".into(),
        )),
    }
}

fn report(problems: &[ConfigProblem], source: &str) {
    for p in problems {
        eprintln!("error: {p}");
    }
    let n = problems.len();
    eprintln!("{n} problem{} in {source}", if n == 1 { "" } else { "s" });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ecs-otel-agent")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let demo = if cli.demo {
        match start_demo(&runtime) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let (cfg, source) = match load(&cli, demo.as_ref()) {
        Ok(c) => c,
        Err((problems, source)) => {
            report(&problems, &source);
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Some(Command::Validate) => {
            println!("{source}: configuration is valid");
            ExitCode::SUCCESS
        }
        Some(Command::PrintConfig) => {
            print!("{}", cfg.to_yaml());
            ExitCode::SUCCESS
        }
        None => {
            let code = match runtime.block_on(ecs_otel_agent::run::run(
                cfg,
                ecs_otel_agent::run::signals(),
                |_| {},
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            };
            // The simulator's tasks live on this runtime: stop it before the runtime goes.
            drop(demo);
            code
        }
    }
}
