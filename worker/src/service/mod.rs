//! `canopy-worker install-service`: writes (or prints) the systemd unit that keeps the worker
//! running, for the account that registered it.

mod unit;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use unit::{render, UnitOptions, CACHE_DIR};

use crate::cli::InstallServiceArgs;
use crate::config::FileConfig;

/// Why the unit cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "writing {path} needs root: run `sudo canopy-worker install-service`, or \
         `canopy-worker install-service --print` to see the unit without installing it"
    )]
    NotRoot { path: PathBuf },
    #[error("no account named `{0}` on this host (create it, or pass --user)")]
    UnknownUser(String),
    #[error("`{0}` is not a plain account name")]
    InvalidUser(String),
    #[error("{what} `{path}` must be an absolute path without line breaks")]
    InvalidPath { what: &'static str, path: PathBuf },
    #[error("cannot find this binary's path ({0}); pass --binary")]
    Binary(std::io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An account from the host's user database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub home: PathBuf,
}

/// What `install-service` did, for the message the operator reads.
#[derive(Debug)]
pub enum Outcome {
    Printed(String),
    Written {
        path: PathBuf,
        options: UnitOptions,
        /// Set when the settings file holds no node registration yet.
        warning: Option<String>,
    },
}

/// Builds the unit for `args` and prints or writes it. `config` is the global `--config`;
/// `effective_uid` is the caller's (only root may write the unit).
pub fn install(
    args: &InstallServiceArgs,
    config: Option<&Path>,
    effective_uid: u32,
) -> Result<Outcome, ServiceError> {
    let options = unit_options(args, config)?;
    let text = render(&options);
    if args.print {
        return Ok(Outcome::Printed(text));
    }
    if effective_uid != 0 {
        return Err(ServiceError::NotRoot {
            path: args.unit_file.clone(),
        });
    }
    std::fs::write(&args.unit_file, text).map_err(|source| ServiceError::Write {
        path: args.unit_file.clone(),
        source,
    })?;
    let warning = registration_warning(&options.config);
    Ok(Outcome::Written {
        path: args.unit_file.clone(),
        options,
        warning,
    })
}

fn unit_options(
    args: &InstallServiceArgs,
    config: Option<&Path>,
) -> Result<UnitOptions, ServiceError> {
    let name = match &args.user {
        Some(name) => name.clone(),
        None => invoking_user(),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ServiceError::InvalidUser(name));
    }
    let account = lookup_account(&name).ok_or_else(|| ServiceError::UnknownUser(name.clone()))?;
    let config = config
        .map(Path::to_path_buf)
        .unwrap_or_else(|| account.home.join(".config/canopy/worker.toml"));
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .and_then(|path| path.canonicalize())
            .map_err(ServiceError::Binary)?,
    };
    for (what, path) in [("--config", &config), ("--binary", &binary)] {
        if !path.is_absolute() || path.to_string_lossy().contains(['\n', '\r']) {
            return Err(ServiceError::InvalidPath {
                what,
                path: path.clone(),
            });
        }
    }
    let docker_group = (account.uid != 0 && group_exists("docker")).then(|| "docker".to_owned());
    Ok(UnitOptions {
        binary,
        config,
        user: account.name,
        docker_group,
        version: canopy_version::VERSION.to_owned(),
    })
}

/// The user behind `sudo`, else the current one (`USER`), else root.
fn invoking_user() -> String {
    ["SUDO_USER", "USER"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "root".to_owned())
}

/// The account through NSS (`getent`, which also knows LDAP and the like), else `/etc/passwd`.
pub fn lookup_account(name: &str) -> Option<Account> {
    let from_getent = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned());
    let text = match from_getent {
        Some(text) => text,
        None => std::fs::read_to_string("/etc/passwd").ok()?,
    };
    text.lines().find_map(|line| parse_passwd_line(line, name))
}

/// `name:x:uid:gid:gecos:home:shell` → the account, when the line is `name`'s.
fn parse_passwd_line(line: &str, name: &str) -> Option<Account> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 7 || fields[0] != name {
        return None;
    }
    Some(Account {
        name: name.to_owned(),
        uid: fields[2].parse().ok()?,
        home: PathBuf::from(fields[5]),
    })
}

fn group_exists(name: &str) -> bool {
    Command::new("getent")
        .args(["group", name])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false)
}

/// A note when the settings file cannot start a worker yet.
fn registration_warning(config: &Path) -> Option<String> {
    match FileConfig::read(config) {
        Ok(file) if file.node_id.is_some() && file.node_token.is_some() => None,
        Ok(_) => Some(format!(
            "{} holds no registration yet: run `canopy-worker register --dispatcher URL --api-key KEY` as that user first",
            config.display()
        )),
        Err(error) => Some(error.to_string()),
    }
}

/// The effective user id of this process, from `/proc/self/status` (no libc call needed).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_effective_uid(&status)
}

fn parse_effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests;
