//! `~/.config/canopy/config.toml` (or `$XDG_CONFIG_HOME/canopy/config.toml`): one context per
//! server with its credentials, and which one is current. Written with mode 0600 because it
//! holds tokens and API keys.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

/// Everything the CLI remembers between runs.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The name of the context commands use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// One server and how to authenticate to it.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Logged in with an API key: kept to mint new access tokens when one expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Logged in with a password: renews the access token (and rotates itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Unix seconds after which `access_token` is no longer accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl Config {
    /// The config file's path: `$XDG_CONFIG_HOME/canopy/config.toml`, else `~/.config/...`.
    pub fn default_path() -> CliResult<PathBuf> {
        let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|dir| !dir.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
                .ok_or_else(|| {
                    CliError::Config("neither XDG_CONFIG_HOME nor HOME is set".into())
                })?,
        };
        Ok(base.join("canopy").join("config.toml"))
    }

    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> CliResult<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|error| CliError::Config(format!("{}: {error}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(error) => Err(CliError::io(format!("reading {}", path.display()))(error)),
        }
    }

    /// Writes the file atomically (a 0600 temporary file renamed over it).
    pub fn save(&self, path: &Path) -> CliResult<()> {
        let text = toml::to_string_pretty(self)
            .map_err(|error| CliError::Config(format!("cannot serialise: {error}")))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let temp = path.with_extension("toml.tmp");
        let mut file =
            private_file(&temp).map_err(CliError::io(format!("creating {}", temp.display())))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(CliError::io(format!("writing {}", temp.display())))?;
        std::fs::rename(&temp, path).map_err(CliError::io(format!("replacing {}", path.display())))
    }

    /// The current context, if any.
    pub fn current(&self) -> Option<(&str, &Context)> {
        let name = self.current.as_deref()?;
        self.contexts.get(name).map(|context| (name, context))
    }

    /// The context for `url` (the first one with that URL).
    pub fn by_url(&self, url: &str) -> Option<(&str, &Context)> {
        let url = normalize_url(url);
        self.contexts
            .iter()
            .find(|(_, context)| normalize_url(&context.url) == url)
            .map(|(name, context)| (name.as_str(), context))
    }
}

/// A URL without trailing slashes, so `http://h/` and `http://h` are one server.
pub fn normalize_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// A context's default name: the URL's host and port (`127.0.0.1:8080`).
pub fn context_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest);
    if host.is_empty() {
        "default".to_owned()
    } else {
        host.to_owned()
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only when the file is created; an older file keeps its bits otherwise.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

fn create_private_dir(dir: &Path) -> CliResult<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(CliError::io(format!("creating {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_config_reads_back_and_is_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("canopy").join("config.toml");
        assert_eq!(
            Config::load(&path).expect("missing is empty"),
            Config::default()
        );
        let mut config = Config::default();
        config.contexts.insert(
            "local".into(),
            Context {
                url: "http://127.0.0.1:8080".into(),
                api_key: Some("canopy_secret".into()),
                ..Context::default()
            },
        );
        config.current = Some("local".into());
        config.save(&path).expect("saved");
        assert_eq!(Config::load(&path).expect("loaded"), config);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_broken_config_is_a_config_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "current = [").expect("written");
        let error = Config::load(&path).expect_err("refused");
        assert!(matches!(error, CliError::Config(ref text) if text.contains("config.toml")));
    }

    #[test]
    fn contexts_are_found_by_url_whatever_the_trailing_slash() {
        let mut config = Config::default();
        config.contexts.insert(
            "a".into(),
            Context {
                url: "https://canopy.example/".into(),
                ..Context::default()
            },
        );
        assert_eq!(
            config.by_url("https://canopy.example").map(|c| c.0),
            Some("a")
        );
        assert!(config.by_url("https://other.example").is_none());
    }

    #[test]
    fn context_names_default_to_host_and_port() {
        assert_eq!(context_name("http://127.0.0.1:8080/"), "127.0.0.1:8080");
        assert_eq!(context_name("https://canopy.example/api"), "canopy.example");
        assert_eq!(context_name(""), "default");
    }
}
