//! The `canopy` CLI binary against the real dispatcher (and, with Docker, a real worker): login
//! and contexts, init → deploy → invoke of a Python function, task wait/result, a failing task's
//! exit status, `-o json`, endpoints, triggers and schedules, and each class of bad input with
//! its exit status and error code.
//! Every test has its own HOME/XDG_CONFIG_HOME, so no test sees another's (or the user's) login.

mod deploy;
mod login;
mod manage;
mod publish;
mod session;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use canopy_e2e::harness::Platform;

/// One `canopy` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", self.stdout))
    }

    /// Asserts the exit status and that stderr names `code`.
    pub fn assert_error(&self, exit: i32, code: &str) {
        assert_eq!(self.code, exit, "exit status; stderr: {}", self.stderr);
        assert!(
            self.stderr.contains(code),
            "stderr should name {code}: {}",
            self.stderr
        );
    }

    pub fn assert_ok(&self) {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
    }
}

/// A user of the CLI: a home directory of their own and the dispatcher's URL.
pub struct User {
    pub home: PathBuf,
    pub url: String,
}

impl User {
    pub fn new(platform: &Platform, name: &str) -> User {
        let home = platform.dir.join(format!("home-{name}"));
        std::fs::create_dir_all(&home).expect("home");
        User {
            home,
            url: platform.address.clone(),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.home.join("config/canopy/config.toml")
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_in(&self.home, args, None).await
    }

    pub async fn run_in(&self, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut command = Command::new(cli_binary());
        command
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("canopy starts");
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(bytes).await.expect("stdin written");
            drop(pipe);
        }
        let output = child.wait_with_output().await.expect("canopy ran");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `canopy login` with the platform's API key.
    pub async fn login(&self, api_key: &str) {
        self.run(&["login", "--url", &self.url, "--api-key", api_key])
            .await
            .assert_ok();
    }
}

/// `target/<profile>/canopy`, next to this test's `deps/` directory, or `CANOPY_CLI_BIN`.
pub fn cli_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CANOPY_CLI_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("canopy");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p canopy-cli` first (./scripts/test does)",
        binary.display()
    );
    binary
}
