//! Command-line interface: the `canopy-worker` commands and the flags that override settings
//! (each flag also reads its `CANOPY_WORKER_…` environment variable).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ExecutorKind, Secret};

/// The Canopy worker: runs developers' functions on this machine in locked-down containers.
#[derive(Debug, Parser)]
#[command(name = "canopy-worker", version, about)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/canopy/worker.toml or ~/.config/canopy/worker.toml).
    #[arg(long, global = true, env = "CANOPY_WORKER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format on stderr; filter with RUST_LOG (default: info).
    #[arg(
        long,
        global = true,
        env = "CANOPY_WORKER_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`fields.message`, `fields."task.id"`, …).
    Json,
    /// Short lines for a terminal: time, message and the event's own fields, no spans.
    Short,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Registers this machine as a node and stores its id and token in the config file.
    Register(RegisterArgs),
    /// Runs the worker daemon until SIGTERM or Ctrl-C.
    Run(Overrides),
    /// Checks Docker, the runtime images, the dispatcher and the registration.
    Doctor(Overrides),
    /// Writes the systemd unit that keeps the worker running (root), or prints it (--print).
    InstallService(InstallServiceArgs),
}

/// Arguments of `install-service`; `--config` names the settings file the unit uses (default:
/// the user's ~/.config/canopy/worker.toml).
#[derive(Debug, Args)]
pub struct InstallServiceArgs {
    /// Print the unit on stdout instead of writing it (needs no root).
    #[arg(long)]
    pub print: bool,
    /// Account the worker runs as (default: the user who ran sudo, else the current user).
    #[arg(long)]
    pub user: Option<String>,
    /// Where the unit is written.
    #[arg(long, default_value = "/etc/systemd/system/canopy-worker.service")]
    pub unit_file: PathBuf,
    /// The worker binary the unit starts (default: this one).
    #[arg(long)]
    pub binary: Option<PathBuf>,
}

/// Arguments of `register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Dispatcher base URL, e.g. https://canopy.example.org
    #[arg(long)]
    pub dispatcher: String,
    /// An API key of your Canopy account (exchanged once for a short-lived access token).
    #[arg(long, env = "CANOPY_API_KEY", hide_env_values = true)]
    pub api_key: Secret,
    /// Shown to you and the admins in the node list.
    #[arg(long)]
    pub description: Option<String>,
    /// Replace an existing registration in the config file.
    #[arg(long)]
    pub force: bool,
}

/// Settings given on the command line or in the environment; they win over the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// Dispatcher URL; repeat (or comma-separate) to list fail-over dispatchers in order.
    #[arg(
        long = "dispatcher",
        env = "CANOPY_WORKER_DISPATCHERS",
        value_delimiter = ','
    )]
    pub dispatchers: Vec<String>,
    /// Node id, as registered.
    #[arg(long, env = "CANOPY_WORKER_NODE_ID")]
    pub node_id: Option<String>,
    /// Node token, as registered (secret).
    #[arg(long, env = "CANOPY_WORKER_NODE_TOKEN", hide_env_values = true)]
    pub node_token: Option<Secret>,
    /// Free-text description of this node.
    #[arg(long, env = "CANOPY_WORKER_DESCRIPTION")]
    pub description: Option<String>,
    /// Tasks run at once at most (default: number of CPUs).
    #[arg(long, env = "CANOPY_WORKER_MAX_CONCURRENCY")]
    pub max_concurrency: Option<u32>,
    /// CPUs offered to tasks (default: all).
    #[arg(long, env = "CANOPY_WORKER_CPUS")]
    pub cpus: Option<u32>,
    /// Memory offered to tasks, MB (default: 80% of total).
    #[arg(long, env = "CANOPY_WORKER_MEMORY_MB")]
    pub memory_mb: Option<u32>,
    /// Accept functions that need a privileged container.
    #[arg(long, env = "CANOPY_WORKER_ALLOW_PRIVILEGED", num_args = 0..=1, default_missing_value = "true")]
    pub allow_privileged: Option<bool>,
    /// Accept functions that need outbound network access.
    #[arg(long, env = "CANOPY_WORKER_ALLOW_EGRESS", num_args = 0..=1, default_missing_value = "true")]
    pub allow_egress: Option<bool>,
    /// Accept functions that run in their own image instead of a runtime image (still
    /// hardened and pinned by digest; docs/runtime-contract.md).
    #[arg(long, env = "CANOPY_WORKER_ALLOW_CUSTOM_IMAGES", num_args = 0..=1, default_missing_value = "true")]
    pub allow_custom_images: Option<bool>,
    /// Run even when the firewall rule that keeps function containers away from this host's
    /// own services cannot be installed (default: refuse to start).
    #[arg(long, env = "CANOPY_WORKER_ALLOW_HOST_ACCESS", num_args = 0..=1, default_missing_value = "true")]
    pub allow_host_access: Option<bool>,
    /// Artifact and code cache (default: ~/.cache/canopy-worker).
    #[arg(long, env = "CANOPY_WORKER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Seconds an idle warm container is kept (default: 300).
    #[arg(long, env = "CANOPY_WORKER_IDLE_EXPIRY_SECS")]
    pub idle_expiry_secs: Option<u64>,
    /// Blank containers kept started per runtime that supports them (PY, JS), so a cold start
    /// only injects the code (default: 1; 0 turns them off). Each costs an idle runner's memory.
    #[arg(long, env = "CANOPY_WORKER_BLANK_CONTAINERS")]
    pub blank_containers: Option<u32>,
    /// Memory (MB, by container limits) idle warm containers may hold together; past it the least
    /// recently used are removed (default: the memory offered, --memory-mb).
    #[arg(long, env = "CANOPY_WORKER_WARM_MEMORY_MB")]
    pub warm_memory_mb: Option<u32>,
    /// Disk (MB) the code package cache (`artifacts/` and `code/` under the cache dir) may take;
    /// past it the least recently used packages no container uses are removed (default: 2048).
    #[arg(long, env = "CANOPY_WORKER_ARTIFACT_CACHE_MB")]
    pub artifact_cache_mb: Option<u64>,
    /// Docker endpoint, e.g. unix:///var/run/docker.sock (default: DOCKER_HOST or the local socket).
    #[arg(long, env = "CANOPY_WORKER_DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// Runtime image of a language as LANG=IMAGE, e.g. PY=canopy-runtime-python:1; repeatable.
    #[arg(
        long = "runtime-image",
        env = "CANOPY_WORKER_RUNTIME_IMAGES",
        value_delimiter = ','
    )]
    pub runtime_images: Vec<String>,
    /// Seconds running tasks get to finish on shutdown (default: 30).
    #[arg(long, env = "CANOPY_WORKER_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// What runs the tasks: `docker` (default) or `noop` (no Docker; every task answers
    /// `200 noop` after --noop-delay-ms; for benchmarks and fault injection).
    #[arg(long, env = "CANOPY_WORKER_EXECUTOR", value_enum)]
    pub executor: Option<ExecutorKind>,
    /// Milliseconds each execution of the noop executor takes (default: 0).
    #[arg(long, env = "CANOPY_WORKER_NOOP_DELAY_MS")]
    pub noop_delay_ms: Option<u64>,
    /// Volunteer controls (caps, active hours, idle only, battery, pause file) and the power model.
    #[command(flatten)]
    pub volunteer: crate::volunteer::VolunteerFlags,
    #[command(flatten)]
    pub carbon: crate::carbon::CarbonOverrides,
}
