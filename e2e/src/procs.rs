//! Real processes for failure tests: `canopy-dispatcher` replicas and no-op `canopy-worker`s,
//! started, killed (SIGKILL) and restarted at will. Logs go to files the tests read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (./scripts/test does)",
        path.display()
    );
    path
}

/// Sends SIGKILL (no clean-up, like a crash or a pulled plug).
pub async fn kill_hard(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .await;
    }
    let _ = child.wait().await;
}

/// A dispatcher process on a fixed port, restartable on the same port.
pub struct DispatcherProc {
    pub port: u16,
    database_url: String,
    extra: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl DispatcherProc {
    pub async fn start(
        database_url: &str,
        dir: &Path,
        name: &str,
        extra: &[&str],
    ) -> DispatcherProc {
        let mut proc = DispatcherProc {
            port: free_port(),
            database_url: database_url.to_owned(),
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        proc.spawn().await;
        proc
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(binary("canopy-dispatcher"))
            .args([
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--database-url",
                &self.database_url,
            ])
            .args([
                "--auth-auto-activate",
                "true",
                "--http-workers",
                "2",
                "--log-format",
                "json",
            ])
            .args(&self.extra)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("canopy-dispatcher starts");
        self.child = Some(child);
        wait_ready(&self.url()).await;
    }

    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_hard(&mut child).await;
        }
    }

    /// Resident memory of the running process, KiB (from `/proc/<pid>/status`).
    pub fn resident_kib(&self) -> u64 {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .expect("the dispatcher runs");
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|line| line.starts_with("VmRSS:"))
                    .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
            })
            .expect("VmRSS of the dispatcher")
    }

    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

/// Waits for `/readyz` (30 s at most).
pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} did not become ready in 30 s");
}

/// A registered node run by a no-op `canopy-worker` process.
pub struct WorkerProc {
    pub node_id: String,
    token: String,
    dispatchers: Vec<String>,
    delay_ms: u64,
    /// More `run` flags (e.g. carbon settings).
    extra: Vec<String>,
    pub log: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl WorkerProc {
    /// Registers a node through `dispatchers[0]` and starts its worker.
    pub async fn start(
        access_token: &str,
        dispatchers: Vec<String>,
        dir: &Path,
        name: &str,
        delay_ms: u64,
    ) -> WorkerProc {
        Self::start_with(access_token, dispatchers, dir, name, delay_ms, &[]).await
    }

    /// `start` with more `run` flags.
    pub async fn start_with(
        access_token: &str,
        dispatchers: Vec<String>,
        dir: &Path,
        name: &str,
        delay_ms: u64,
        extra: &[&str],
    ) -> WorkerProc {
        let node_id = canopy_shared::format_id(canopy_shared::new_id());
        let response = reqwest::Client::new()
            .post(format!("{}/v1/node/{node_id}", dispatchers[0]))
            .bearer_auth(access_token)
            .json(&json!({"description": name}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        let token = response.json::<Value>().await.expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let mut proc = WorkerProc {
            node_id,
            token,
            dispatchers,
            delay_ms,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            log: dir.join(format!("{name}.log")),
            dir: dir.to_path_buf(),
            child: None,
        };
        proc.spawn();
        proc
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(binary("canopy-worker"))
            .arg("--config")
            .arg(self.dir.join("no-such-worker.toml"))
            .arg("run")
            .args([
                "--executor",
                "noop",
                "--noop-delay-ms",
                &self.delay_ms.to_string(),
            ])
            .args([
                "--dispatcher",
                &self.dispatchers.join(","),
                "--node-id",
                &self.node_id,
            ])
            .args([
                "--max-concurrency",
                "4",
                "--memory-mb",
                "4096",
                "--log-format",
                "json",
            ])
            .args(&self.extra)
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .env("CANOPY_WORKER_NODE_TOKEN", &self.token)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("canopy-worker starts");
        self.child = Some(child);
    }

    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_hard(&mut child).await;
        }
    }

    /// SIGKILL, then start the same node again at once.
    pub async fn kill_and_restart(&mut self) {
        self.kill().await;
        self.spawn();
    }

    /// Starts the node again after `kill`.
    pub fn restart(&mut self) {
        if self.child.is_none() {
            self.spawn();
        }
    }

    /// Task ids of every `noop execution` this node's processes logged.
    pub fn executions(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["fields"]["message"] == "noop execution")
            .filter_map(|line| line["fields"]["task.id"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Signs up a developer on `base`, deploys a PY function and returns (access token, function id).
pub async fn developer_with_function(base: &str, code_dir: &Path) -> (String, String) {
    let client = reqwest::Client::new();
    let body = json!({"name": "Fault", "surname": "Tester", "email": "fault@example.com", "password": "Secr3t!pass"});
    let registered = client
        .post(format!("{base}/v1/auth/register"))
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let login: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": "fault@example.com", "password": "Secr3t!pass"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let token = login["accessToken"].as_str().expect("token").to_owned();
    let created: Value = client
        .post(format!("{base}/v1/function"))
        .bearer_auth(&token)
        .json(&json!({"name": "Noop", "lang": "PY", "type": "DOCKER"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let function = created["id"].as_str().expect("id").to_owned();
    let archive = crate::harness::zip_dir(code_dir);
    let build = client
        .post(format!("{base}/v1/build/{function}"))
        .bearer_auth(&token)
        .header("content-type", "application/zip")
        .body(archive)
        .send()
        .await
        .expect("sent");
    assert_eq!(build.status(), StatusCode::CREATED);
    (token, function)
}

/// The URL of the test's database (`#[sqlx::test]` made it on `DATABASE_URL`'s server).
pub fn database_url(pool: &sqlx::PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let database = pool
        .connect_options()
        .get_database()
        .expect("a database name")
        .to_owned();
    match base.rfind('/') {
        Some(slash) => format!("{}/{database}", &base[..slash]),
        None => panic!("DATABASE_URL has no database part: {base}"),
    }
}
