//! The TOML settings file: reading it, and writing a registration into it with mode 0600.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, ExecutorKind, Secret};

/// The file's settings; every key is optional and unknown keys are refused (a typo must not
/// silently do nothing).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub dispatchers: Option<Vec<String>>,
    pub node_id: Option<String>,
    pub node_token: Option<Secret>,
    pub description: Option<String>,
    pub max_concurrency: Option<u32>,
    pub cpus: Option<u32>,
    pub memory_mb: Option<u32>,
    pub allow_privileged: Option<bool>,
    pub allow_egress: Option<bool>,
    pub allow_custom_images: Option<bool>,
    pub allow_host_access: Option<bool>,
    pub cache_dir: Option<PathBuf>,
    pub idle_expiry_secs: Option<u64>,
    pub blank_containers: Option<u32>,
    pub warm_memory_mb: Option<u32>,
    pub artifact_cache_mb: Option<u64>,
    pub docker_host: Option<String>,
    /// Language code (`PY`, `JS`, …) → image.
    pub runtime_images: Option<HashMap<String, String>>,
    pub shutdown_grace_secs: Option<u64>,
    /// `docker` or `noop`.
    pub executor: Option<ExecutorKind>,
    pub noop_delay_ms: Option<u64>,
    /// The `[volunteer]` table: caps and conditions.
    pub volunteer: Option<crate::volunteer::settings::VolunteerFile>,
    /// The `[power]` table: the power model.
    pub power: Option<crate::volunteer::settings::PowerFile>,
    /// `[carbon]`: the node's grid carbon intensity.
    pub carbon: Option<crate::carbon::CarbonFile>,
}

impl FileConfig {
    /// Parses the file; a missing file is an empty configuration.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }
}

/// `$XDG_CONFIG_HOME/canopy/worker.toml`, or `~/.config/canopy/worker.toml`.
pub fn default_config_path() -> PathBuf {
    super::xdg_dir("XDG_CONFIG_HOME", ".config")
        .join("canopy")
        .join("worker.toml")
}

/// What `register` stores.
#[derive(Debug)]
pub struct Registration {
    pub dispatcher: String,
    pub node_id: String,
    pub node_token: Secret,
    pub description: Option<String>,
}

/// Writes the registration into the file at `path`, keeping its other settings. The file (and
/// only the file) is created with mode 0600; missing parent directories are created 0700.
/// An existing registration is kept unless `force`.
pub fn write_registration(
    path: &Path,
    registration: &Registration,
    force: bool,
) -> Result<(), ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let mut table = match fs::read_to_string(path) {
        Ok(text) => {
            // Validate the whole file first, so a broken file is reported, not overwritten.
            FileConfig::parse(path, &text)?;
            text.parse::<toml::Table>()
                .map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(error) => return Err(read_error(error)),
    };
    if let (Some(node_id), false) = (table.get("node_id"), force) {
        if table.contains_key("node_token") {
            return Err(ConfigError::AlreadyRegistered {
                path: path.to_owned(),
                node_id: node_id.as_str().unwrap_or("?").to_owned(),
            });
        }
    }
    table.insert(
        "dispatchers".into(),
        toml::Value::Array(vec![registration.dispatcher.clone().into()]),
    );
    table.insert("node_id".into(), registration.node_id.clone().into());
    table.insert(
        "node_token".into(),
        registration.node_token.expose().to_owned().into(),
    );
    if let Some(description) = &registration.description {
        table.insert("description".into(), description.clone().into());
    }
    let text = toml::to_string(&table).map_err(|error| {
        ConfigError::Invalid(format!("cannot serialize the configuration: {error}"))
    })?;
    write_private(path, text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Atomically replaces `path` with `contents`, readable by the owner only.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.as_os_str().is_empty() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "worker.toml".into());
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        // The mode above is filtered by the umask; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
