//! The worker's one typed configuration: built-in defaults, then the TOML file, then
//! `CANOPY_WORKER_…` environment variables, then flags (the last two through clap).

mod file;
mod secret;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use canopy_shared::Lang;

use crate::cli::Overrides;
use crate::volunteer::VolunteerSettings;

pub use file::{default_config_path, write_registration, FileConfig, Registration};
pub use secret::Secret;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{path} already holds a registration (node {node_id}); pass --force to replace it")]
    AlreadyRegistered { path: PathBuf, node_id: String },
}

/// What the machine has, used for the defaults of the offered resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    pub cpus: u32,
    pub total_memory_mb: u32,
}

/// What runs the tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Each task in a locked-down Docker container of its runtime image.
    #[default]
    Docker,
    /// No container: every task answers `200 noop` after the no-op delay (benchmarks and
    /// fault injection; Docker is not needed).
    Noop,
}

/// Disk the code package cache takes by default (MB).
pub const DEFAULT_ARTIFACT_CACHE_MB: u64 = 2048;

/// Everything the worker needs to run, validated.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Where the settings file is (whether or not it exists).
    pub config_path: PathBuf,
    /// Dispatcher base URLs in fail-over order (`http(s)://host[:port]`, no trailing slash).
    pub dispatchers: Vec<String>,
    /// The node id, as registered.
    pub node_id: Option<String>,
    /// The node token, as registered; never printed.
    pub node_token: Option<Secret>,
    pub description: String,
    pub max_concurrency: u32,
    pub cpus: u32,
    pub memory_mb: u32,
    pub allow_privileged: bool,
    pub allow_egress: bool,
    /// Run functions that bring their own image (off by default).
    pub allow_custom_images: bool,
    /// Start although the host firewall rule could not be installed.
    pub allow_host_access: bool,
    pub cache_dir: PathBuf,
    pub idle_expiry: Duration,
    /// Blank containers kept started per runtime that supports them (PY, JS), so a cold start
    /// skips Docker's create and start.
    pub blank_containers: u32,
    /// Memory (MB, by container limits) idle warm containers may hold together; past it the
    /// least recently used are removed.
    pub warm_memory_mb: u32,
    /// Disk (MB) the code package cache may take; past it the least recently used unused
    /// packages are removed.
    pub artifact_cache_mb: u64,
    /// `None` means `DOCKER_HOST` or the local socket.
    pub docker_host: Option<String>,
    pub runtime_images: HashMap<Lang, String>,
    pub shutdown_grace: Duration,
    pub executor: ExecutorKind,
    /// How long each execution of the noop executor takes.
    pub noop_delay: Duration,
    /// Volunteer controls and the power model.
    pub volunteer: VolunteerSettings,
    /// The node's grid carbon intensity.
    pub carbon: crate::carbon::CarbonConfig,
}

/// The runtime images the contract names (`docs/runtime-contract.md`).
pub fn default_runtime_images() -> HashMap<Lang, String> {
    HashMap::from([
        (Lang::Go, "canopy-runtime-go:1".to_owned()),
        (Lang::Py, "canopy-runtime-python:1".to_owned()),
        (Lang::Js, "canopy-runtime-node:1".to_owned()),
        (Lang::Cs, "canopy-runtime-csharp:1".to_owned()),
        (Lang::Rb, "canopy-runtime-ruby:1".to_owned()),
        (Lang::Rs, "canopy-runtime-rust:1".to_owned()),
    ])
}

/// `~/.cache/canopy-worker` (or `$XDG_CACHE_HOME/canopy-worker`).
pub fn default_cache_dir() -> PathBuf {
    xdg_dir("XDG_CACHE_HOME", ".cache").join("canopy-worker")
}

pub(crate) fn xdg_dir(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => home_dir().join(fallback),
    }
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

impl WorkerConfig {
    /// Reads the file at `path` (a missing file is an empty one) and applies the overrides.
    pub fn load(
        path: Option<&Path>,
        overrides: &Overrides,
        host: HostFacts,
    ) -> Result<Self, ConfigError> {
        let path = path
            .map(Path::to_path_buf)
            .unwrap_or_else(default_config_path);
        let file = FileConfig::read(&path)?;
        Self::resolve(path, file, overrides, host)
    }

    /// Defaults ← file ← overrides (env and flags), then validation.
    pub fn resolve(
        config_path: PathBuf,
        file: FileConfig,
        flags: &Overrides,
        host: HostFacts,
    ) -> Result<Self, ConfigError> {
        let cpus = flags.cpus.or(file.cpus).unwrap_or(host.cpus).max(1);
        let default_memory = (u64::from(host.total_memory_mb) * 8 / 10) as u32;
        let mut runtime_images = default_runtime_images();
        for (code, image) in file.runtime_images.unwrap_or_default() {
            runtime_images.insert(parse_lang(&code)?, image);
        }
        for pair in &flags.runtime_images {
            let (code, image) = pair.split_once('=').ok_or_else(|| {
                ConfigError::Invalid(format!("runtime image `{pair}` is not LANG=IMAGE"))
            })?;
            runtime_images.insert(parse_lang(code.trim())?, image.trim().to_owned());
        }
        let dispatchers = if flags.dispatchers.is_empty() {
            file.dispatchers.unwrap_or_default()
        } else {
            flags.dispatchers.clone()
        };
        let volunteer = VolunteerSettings::resolve(
            &flags.volunteer,
            file.volunteer.unwrap_or_default(),
            file.power.unwrap_or_default(),
        )
        .map_err(ConfigError::Invalid)?;
        let config = WorkerConfig {
            volunteer,
            config_path,
            dispatchers: dispatchers
                .iter()
                .map(|url| normalize_dispatcher(url))
                .collect::<Result<_, _>>()?,
            node_id: flags.node_id.clone().or(file.node_id),
            node_token: flags.node_token.clone().or(file.node_token),
            description: flags
                .description
                .clone()
                .or(file.description)
                .unwrap_or_default(),
            max_concurrency: flags
                .max_concurrency
                .or(file.max_concurrency)
                .unwrap_or(cpus),
            cpus,
            memory_mb: flags.memory_mb.or(file.memory_mb).unwrap_or(default_memory),
            // Idle containers hold at most what the node offers to tasks unless told otherwise.
            warm_memory_mb: flags
                .warm_memory_mb
                .or(file.warm_memory_mb)
                .or(flags.memory_mb)
                .or(file.memory_mb)
                .unwrap_or(default_memory),
            artifact_cache_mb: flags
                .artifact_cache_mb
                .or(file.artifact_cache_mb)
                .unwrap_or(DEFAULT_ARTIFACT_CACHE_MB),
            allow_privileged: flags
                .allow_privileged
                .or(file.allow_privileged)
                .unwrap_or(false),
            allow_egress: flags.allow_egress.or(file.allow_egress).unwrap_or(false),
            allow_custom_images: flags
                .allow_custom_images
                .or(file.allow_custom_images)
                .unwrap_or(false),
            allow_host_access: flags
                .allow_host_access
                .or(file.allow_host_access)
                .unwrap_or(false),
            cache_dir: flags
                .cache_dir
                .clone()
                .or(file.cache_dir)
                .unwrap_or_else(default_cache_dir),
            idle_expiry: Duration::from_secs(
                flags
                    .idle_expiry_secs
                    .or(file.idle_expiry_secs)
                    .unwrap_or(300),
            ),
            blank_containers: flags
                .blank_containers
                .or(file.blank_containers)
                .unwrap_or(1),
            docker_host: flags.docker_host.clone().or(file.docker_host),
            runtime_images,
            shutdown_grace: Duration::from_secs(
                flags
                    .shutdown_grace_secs
                    .or(file.shutdown_grace_secs)
                    .unwrap_or(30),
            ),
            executor: flags.executor.or(file.executor).unwrap_or_default(),
            noop_delay: Duration::from_millis(
                flags.noop_delay_ms.or(file.noop_delay_ms).unwrap_or(0),
            ),
            carbon: crate::carbon::CarbonConfig::resolve(
                file.carbon,
                &flags.carbon,
                crate::carbon::unix_now(),
            )?,
        };
        if config.max_concurrency == 0 {
            return Err(ConfigError::Invalid(
                "max concurrency must be at least 1".into(),
            ));
        }
        Ok(config)
    }

    /// The node id and token, or an error telling how to register.
    pub fn credentials(&self) -> Result<(&str, &Secret), ConfigError> {
        match (&self.node_id, &self.node_token) {
            (Some(id), Some(token)) => Ok((id, token)),
            _ => Err(ConfigError::Invalid(format!(
                "no node registration in {}: run `canopy-worker register --dispatcher URL --api-key KEY`",
                self.config_path.display()
            ))),
        }
    }
}

fn parse_lang(code: &str) -> Result<Lang, ConfigError> {
    Lang::from_code(&code.to_ascii_uppercase())
        .ok_or_else(|| ConfigError::Invalid(format!("unknown runtime language `{code}`")))
}

/// Checks a dispatcher URL and turns `ws(s)://` into `http(s)://`, without a trailing slash.
pub fn normalize_dispatcher(url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| ConfigError::Invalid(format!("dispatcher URL `{url}` has no scheme")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        other => {
            return Err(ConfigError::Invalid(format!(
                "dispatcher URL `{url}`: scheme `{other}` is not http(s) or ws(s)"
            )))
        }
    };
    if rest.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "dispatcher URL `{url}` has no host"
        )));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// The WebSocket URL of a (normalized) dispatcher base URL.
pub fn connect_url(base: &str) -> String {
    let ws = match base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", base.trim_start_matches("http://")),
    };
    format!("{ws}/v1/worker/connect")
}

#[cfg(test)]
mod tests;
