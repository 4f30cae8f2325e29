//! Command line of `canopy-dispatcher`.

use clap::{Args, Parser, Subcommand};

use crate::settings::{DatabaseSettings, Settings};

/// Canopy dispatcher: serves the API (the default command) or administers accounts.
#[derive(Debug, Parser)]
#[command(name = "canopy-dispatcher", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the database migrations and exit (serving applies them too; this lets a
    /// deployment run them once, before any replica starts).
    Migrate,
    /// Administer accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an active admin account (or promote and reset an existing account with that email).
    Create(CreateAdmin),
}

#[derive(Debug, Args)]
pub struct CreateAdmin {
    /// Email to log in with.
    #[arg(long)]
    pub email: String,
    /// Password (8–128 characters with a digit and one of !@#$%&*). Prefer the variable to keep it out of shell history.
    #[arg(long, env = "CANOPY_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: String,
    #[arg(long, default_value = "Admin")]
    pub name: String,
    #[arg(long, default_value = "Canopy")]
    pub surname: String,
}

impl Cli {
    pub fn database(&self) -> &DatabaseSettings {
        &self.settings.database
    }
}
