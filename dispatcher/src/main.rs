//! `canopy-dispatcher`: loads settings, starts the database (embedded when no URL is given),
//! then serves the API or runs an admin command.

use anyhow::Context;
use canopy_dispatcher::cli::{AdminCommand, Cli, Command};
use canopy_dispatcher::embedded_pg::EmbeddedPostgres;
use canopy_dispatcher::startup::Application;
use canopy_dispatcher::{admin, db, telemetry};
use clap::{CommandFactory, FromArgMatches};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The version line carries the git commit; only this binary relinks when it changes.
    let matches = Cli::command()
        .version(canopy_version::VERSION)
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    cli.settings.validate()?;
    telemetry::init(&cli.settings.log_format);

    let database = &cli.database();
    let embedded = match &database.url {
        Some(_) => None,
        None => Some(
            EmbeddedPostgres::start(&database.state_dir, database.pg_bin_dir.as_deref()).await?,
        ),
    };
    let url = match (&database.url, &embedded) {
        (Some(url), _) => url.expose().to_owned(),
        (None, Some(cluster)) => cluster.url(),
        (None, None) => unreachable!("an embedded cluster is started when no URL is given"),
    };
    let outcome = run(&cli, &url).await;
    if let Some(cluster) = embedded {
        if let Err(error) = cluster.stop().await {
            tracing::error!(error = ?error, "could not stop the embedded PostgreSQL");
        }
    }
    outcome
}

async fn run(cli: &Cli, url: &str) -> anyhow::Result<()> {
    let pool = db::connect_and_migrate(url, cli.settings.database.max_connections).await?;
    match &cli.command {
        Some(Command::Admin(AdminCommand::Create(args))) => {
            println!("{}", admin::create_admin(&pool, args).await?);
            Ok(())
        }
        Some(Command::Migrate) => {
            println!("migrations applied");
            pool.close().await;
            Ok(())
        }
        None | Some(Command::Serve) => serve(cli, pool).await,
    }
}

async fn serve(cli: &Cli, pool: sqlx::PgPool) -> anyhow::Result<()> {
    let app = Application::build(&cli.settings, pool.clone()).await?;
    let address = format!("http://{}:{}", cli.settings.listen.ip(), app.port());
    tracing::info!(%address, "Canopy dispatcher listening; API reference at {address}/docs");
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    shutdown_signal().await;
    tracing::info!("shutting down");
    handle.stop(true).await;
    server.await.context("while joining the server")??;
    pool.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(
        tokio::signal::unix::SignalKind::terminate(),
    ) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::error!(error = %error, "cannot listen for SIGTERM; only Ctrl-C stops the dispatcher");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
