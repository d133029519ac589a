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

#[cfg(feature = "demo")]
mod demo;
#[cfg(feature = "demo")]
use demo::{Demo, start_demo};

/// A build without the embedded simulator (`--no-default-features`): `--demo` says so.
#[cfg(not(feature = "demo"))]
struct Demo {
    env: Vec<(String, String)>,
}

#[cfg(not(feature = "demo"))]
fn start_demo(_: &tokio::runtime::Runtime) -> Result<Demo, String> {
    Err("this build has no embedded ECS simulator (built without the `demo` feature); run it with --config FILE".into())
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
    pipeline::memory::tune_allocator();
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
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
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
