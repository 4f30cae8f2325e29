//! `canopy-worker`: parses the command line, starts tracing and runs the chosen command.

use std::process::ExitCode;

use anyhow::Context;
use canopy_worker::cli::{Cli, Command};
use canopy_worker::config::{default_config_path, WorkerConfig};
use canopy_worker::host::HostSampler;
use canopy_worker::{daemon, doctor, register, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    // One TLS provider for reqwest and the WebSocket client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match execute(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_path = cli.config.clone().unwrap_or_else(default_config_path);
    let host = HostSampler::new().sample();
    match cli.command {
        Command::Register(args) => {
            let hostname = sysinfo::System::host_name().unwrap_or_default();
            let node_id = register::register(&config_path, &args, &hostname).await?;
            println!(
                "registered node {node_id}; settings saved in {}",
                config_path.display()
            );
            println!("start the worker with: canopy-worker run");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(overrides) => {
            let config = WorkerConfig::load(Some(&config_path), &overrides, host.facts())
                .context("while loading the configuration")?;
            daemon::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor(overrides) => {
            let config = WorkerConfig::load(Some(&config_path), &overrides, host.facts())
                .context("while loading the configuration")?;
            let checks = doctor::checks(&config).await;
            for check in &checks {
                println!("{}", check.line());
            }
            Ok(if checks.iter().all(|check| check.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
