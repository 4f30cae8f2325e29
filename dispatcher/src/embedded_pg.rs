//! An embedded private PostgreSQL cluster, used when no `CANOPY_DATABASE_URL` is given: created
//! under the state directory on first start, reused afterwards, reachable only via a Unix
//! socket in that directory, and stopped cleanly on exit.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tokio::process::Command;

const DATABASE: &str = "canopy";
const SUPERUSER: &str = "canopy";
/// Only names the socket file: the cluster listens on no TCP port.
const SOCKET_PORT: u16 = 5432;

/// A running embedded cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    /// PostgreSQL refuses to run as root, so under root it runs as this (uid, gid).
    run_as: Option<(u32, u32)>,
    /// Whether this process started the server (and so stops it); a server already running,
    /// e.g. for a dispatcher next to an `admin` command, is left alone.
    started_here: bool,
}

impl EmbeddedPostgres {
    /// Starts (creating on first use) the cluster under `state_dir`.
    #[tracing::instrument(skip_all, fields(state_dir = %state_dir.display()))]
    pub async fn start(state_dir: &Path, bin_dir: Option<&Path>) -> anyhow::Result<Self> {
        let bin_dir = find_binaries(bin_dir)?;
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("while creating {}", state_dir.display()))?;
        let state_dir = state_dir.canonicalize()?;
        let mut cluster = EmbeddedPostgres {
            bin_dir,
            data_dir: state_dir.join("pgdata"),
            socket_dir: state_dir.join("pgrun"),
            run_as: unprivileged_user_if_root()?,
            started_here: false,
        };
        cluster.prepare_dirs()?;
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.init().await?;
        }
        if cluster.is_running().await {
            tracing::info!("reusing the embedded PostgreSQL that is already running");
        } else {
            cluster
                .start_server(&state_dir.join("postgres.log"))
                .await?;
            cluster.started_here = true;
        }
        cluster.ensure_database().await?;
        Ok(cluster)
    }

    /// URL of the cluster's `canopy` database over its Unix socket.
    pub fn url(&self) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{SOCKET_PORT}/{DATABASE}?host={}",
            self.socket_dir.display()
        )
    }

    /// Stops the server, waiting for a clean shutdown, if this process started it.
    pub async fn stop(&self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        let status = self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-D"])
            .arg(&self.data_dir)
            .status()
            .await
            .context("while running pg_ctl stop")?;
        anyhow::ensure!(status.success(), "pg_ctl stop failed with {status}");
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command.kill_on_drop(false);
        command
    }

    fn prepare_dirs(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for dir in [&self.data_dir, &self.socket_dir] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("while creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            if let Some((uid, gid)) = self.run_as {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
            }
        }
        Ok(())
    }

    async fn init(&self) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "creating the embedded PostgreSQL cluster");
        let output = self
            .command("initdb")
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-D",
            ])
            .arg(&self.data_dir)
            .output()
            .await
            .context("while running initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    async fn is_running(&self) -> bool {
        let status = self
            .command("pg_ctl")
            .args(["status", "-D"])
            .arg(&self.data_dir)
            .output()
            .await;
        status.is_ok_and(|output| output.status.success())
    }

    async fn start_server(&self, log_file: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_file)?;
            std::os::unix::fs::chown(log_file, Some(uid), Some(gid))?;
        }
        let options = format!(
            "-c listen_addresses='' -k {} -p {SOCKET_PORT}",
            self.socket_dir.display()
        );
        let output = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-o", &options, "-l"])
            .arg(log_file)
            .arg("-D")
            .arg(&self.data_dir)
            .output()
            .await
            .context("while running pg_ctl start")?;
        if !output.status.success() {
            let log_tail = std::fs::read_to_string(log_file).unwrap_or_default();
            let tail: Vec<&str> = log_tail.lines().rev().take(10).collect();
            bail!(
                "the embedded PostgreSQL did not start: {}\nlast lines of {}:\n{}",
                String::from_utf8_lossy(&output.stderr).trim(),
                log_file.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tracing::info!(socket_dir = %self.socket_dir.display(), "embedded PostgreSQL started");
        Ok(())
    }

    async fn ensure_database(&self) -> anyhow::Result<()> {
        let output = self
            .command("psql")
            .args(["-h"])
            .arg(&self.socket_dir)
            .args([
                "-p",
                &SOCKET_PORT.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-tAc",
            ])
            .arg(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
            ))
            .output()
            .await
            .context("while checking for the canopy database")?;
        if String::from_utf8_lossy(&output.stdout).trim() == "1" {
            return Ok(());
        }
        let status = self
            .command("createdb")
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &SOCKET_PORT.to_string(), "-U", SUPERUSER, DATABASE])
            .status()
            .await
            .context("while creating the canopy database")?;
        anyhow::ensure!(status.success(), "createdb failed with {status}");
        Ok(())
    }
}

/// The directory with PostgreSQL's server programs: the one given, else the newest
/// `/usr/lib/postgresql/*/bin`, else the directory of `pg_ctl` on PATH.
fn find_binaries(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has_server = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|name| dir.join(name).is_file())
    };
    if let Some(dir) = given {
        if has_server(dir) {
            return Ok(dir.to_path_buf());
        }
        bail!("{} does not contain initdb, pg_ctl and postgres (check --pg-bin-dir / CANOPY_PG_BIN_DIR)", dir.display());
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            Some((
                entry.file_name().to_str()?.parse().ok()?,
                entry.path().join("bin"),
            ))
        })
        .collect();
    candidates.sort();
    if let Some((_, dir)) = candidates
        .into_iter()
        .rev()
        .find(|(_, dir)| has_server(dir))
    {
        return Ok(dir);
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).find(|dir| has_server(dir)))
        .unwrap_or_default();
    on_path.ok_or_else(|| {
        anyhow::anyhow!(
            "no PostgreSQL server binaries found for the embedded database.\n\
             Install them (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install postgresql-server`; \
             macOS: `brew install postgresql@16`), or set CANOPY_PG_BIN_DIR to the directory holding initdb and pg_ctl, \
             or set CANOPY_DATABASE_URL to use an existing PostgreSQL server."
        )
    })
}

/// PostgreSQL will not run as root; when we are root, run it as the `postgres` (or `nobody`) user.
fn unprivileged_user_if_root() -> anyhow::Result<Option<(u32, u32)>> {
    let euid = std::fs::metadata("/proc/self")
        .map(|meta| meta.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("while reading /etc/passwd")?;
    for wanted in ["postgres", "nobody"] {
        let found = passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&wanted) && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        });
        if let Some(ids) = found {
            return Ok(Some(ids));
        }
    }
    bail!("running as root, and no `postgres` or `nobody` user exists to run the embedded PostgreSQL; run as a normal user or set CANOPY_DATABASE_URL")
}
