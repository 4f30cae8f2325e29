//! `canopy-worker`: parses the command line, starts tracing and runs the chosen command.

use std::process::ExitCode;

use anyhow::Context;
use canopy_worker::cli::{Cli, Command};
use canopy_worker::config::{default_config_path, WorkerConfig};
use canopy_worker::host::HostSampler;
use canopy_worker::service::{self, Outcome};
use canopy_worker::{daemon, doctor, register, telemetry};
use clap::{CommandFactory, FromArgMatches};

#[tokio::main]
async fn main() -> ExitCode {
    // The version line carries the git commit; only this binary relinks when it changes.
    let matches = Cli::command()
        .version(canopy_version::VERSION)
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
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
        Command::InstallService(args) => install_service(&args, cli.config.as_deref()),
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

fn install_service(
    args: &canopy_worker::cli::InstallServiceArgs,
    config: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    // Unknown uid: try as if root and let the write itself say no.
    let uid = service::effective_uid().unwrap_or(0);
    match service::install(args, config, uid)? {
        Outcome::Printed(unit) => print!("{unit}"),
        Outcome::Written {
            path,
            options,
            warning,
        } => {
            println!(
                "wrote {}: canopy-worker runs as {} with {}, caching code in {}",
                path.display(),
                options.user,
                options.config.display(),
                service::CACHE_DIR
            );
            if let Some(warning) = warning {
                println!("note: {warning}");
            }
            println!("start it now and at every boot:");
            println!("  systemctl daemon-reload && systemctl enable --now canopy-worker");
            println!(
                "then check it:  systemctl status canopy-worker; journalctl -u canopy-worker -f"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
