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

fn load(cli: &Cli) -> Result<(AgentConfig, String), (Vec<ConfigProblem>, String)> {
    if cli.demo {
        let name = "the embedded demo configuration".to_owned();
        return config::from_yaml(ecs_otel_agent::DEMO_CONFIG, &|v| std::env::var(v).ok())
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
    let (cfg, source) = match load(&cli) {
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
            match runtime.block_on(ecs_otel_agent::run::run(
                cfg,
                ecs_otel_agent::run::signals(),
                |_| {},
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
