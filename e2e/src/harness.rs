//! The platform under test: a dispatcher on port 0 and worker processes registered to it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use canopy_dispatcher::settings::{Secret, Settings};
use canopy_dispatcher::startup::Application;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::process::{Child, Command};

/// Whether real-Docker tests should run; prints why not otherwise.
pub fn docker_tests_enabled() -> bool {
    let enabled = std::env::var("CANOPY_DOCKER_TESTS").is_ok_and(|value| value == "1");
    if !enabled {
        eprintln!(
            "CANOPY_DOCKER_TESTS is not 1: skipping a real-Docker test (./scripts/test runs them)"
        );
    }
    enabled
}

pub struct Platform {
    pub address: String,
    pub client: reqwest::Client,
    pub token: String,
    pub api_key: String,
    pub dir: PathBuf,
}

impl Platform {
    /// A dispatcher with one signed-up developer holding an API key.
    pub async fn start(pool: PgPool) -> Platform {
        let mut settings = Settings::defaults();
        settings.listen = "127.0.0.1:0".parse().expect("address");
        settings.http_workers = 2;
        settings.auth.auto_activate = true;
        settings.auth.jwt_secret = Some(Secret::new("e2e-signing-key-e2e-signing-key-0123"));
        settings.dispatch.heartbeat_interval_ms = 1000;
        settings.dispatch.disconnect_grace_s = 2;
        let app = Application::build(&settings, pool)
            .await
            .expect("the dispatcher builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::new();
        let (token, api_key) = sign_up(&client, &address, "dev@example.com").await;
        let dir = std::env::temp_dir().join(format!(
            "canopy-e2e-{}",
            canopy_shared::format_id(canopy_shared::new_id())
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Platform {
            address,
            client,
            token,
            api_key,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    /// A function in `lang` whose code is the files of `dir`, built; returns its id.
    pub async fn deploy(&self, lang: &str, dir: &Path) -> String {
        self.deploy_build(lang, dir).await.0
    }

    /// Creates a function and uploads `dir` as its code: (function id, build id).
    pub async fn deploy_build(&self, lang: &str, dir: &Path) -> (String, String) {
        let response = self
            .client
            .post(self.url("/v1/function"))
            .bearer_auth(&self.token)
            .json(&json!({"name": "E2e", "lang": lang, "type": "DOCKER"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::CREATED);
        let function = response.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let build = self
            .client
            .post(self.url(&format!("/v1/build/{function}")))
            .bearer_auth(&self.token)
            .header("content-type", "application/zip")
            .body(zip_dir(dir))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            build.status(),
            StatusCode::CREATED,
            "{}",
            build.text().await.unwrap_or_default()
        );
        let build = build.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        (function, build)
    }

    /// Polls the build until it is no longer `PENDING` (at most 150 s: a compile job's own limit
    /// is 120 s, and a loaded machine may need most of it); returns its view.
    pub async fn wait_build(&self, build: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(150);
        loop {
            let view = self.get_json(&format!("/v1/build/{build}")).await;
            if view["status"] != "PENDING" || std::time::Instant::now() > deadline {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs a task and waits for the function's response (`Prefer: wait`).
    pub async fn invoke(&self, function: &str, query: &str, body: &[u8]) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(&format!("/v1/task/{function}{query}")))
            .bearer_auth(&self.token)
            .header("prefer", "wait=60");
        if !body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .body(body.to_vec());
        }
        request.send().await.expect("sent")
    }

    /// What the platform says about a late `Prefer: wait` answer: the task (status, pending
    /// reason, node) and the node list, for a failing test to print.
    pub async fn explain_late(&self, response: reqwest::Response) -> String {
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let task = match body["id"].as_str() {
            Some(id) => self.get_json(&format!("/v1/task/{id}")).await,
            None => Value::Null,
        };
        let nodes = self.get_json("/v1/node/list").await;
        format!("answer {status} {body}\ntask {task}\nnodes {nodes}")
    }

    /// Registers a node with `canopy-worker register` and starts `canopy-worker run`.
    pub async fn start_worker(&self, name: &str) -> Worker {
        self.start_worker_with_key(name, &self.api_key).await
    }

    /// Another account (signed up and activated) with its access token and an API key.
    pub async fn another_account(&self, email: &str) -> (String, String) {
        sign_up(&self.client, &self.address, email).await
    }

    /// `start_worker` for the account of `api_key`.
    pub async fn start_worker_with_key(&self, name: &str, api_key: &str) -> Worker {
        self.start_worker_with(name, api_key, &[]).await
    }

    /// `start_worker_with_key` with extra `canopy-worker run` flags.
    pub async fn start_worker_with(&self, name: &str, api_key: &str, flags: &[&str]) -> Worker {
        let config = self.dir.join(format!("{name}.toml"));
        let status = Command::new(worker_binary())
            .arg("--config")
            .arg(&config)
            .args([
                "register",
                "--dispatcher",
                &self.address,
                "--description",
                name,
            ])
            .env("CANOPY_API_KEY", api_key)
            .stdout(Stdio::null())
            .status()
            .await
            .expect("canopy-worker register runs");
        assert!(status.success(), "canopy-worker register succeeds");
        let worker = Worker {
            config,
            cache: self.dir.join(format!("{name}-cache")),
            log: self.dir.join(format!("{name}.log")),
            child: None,
            flags: flags.iter().map(|flag| flag.to_string()).collect(),
        };
        worker.run().await
    }

    /// The node list entry of the worker registered as `name`.
    pub async fn node(&self, name: &str) -> Value {
        let list = self.get_json("/v1/node/list").await;
        list.as_array()
            .expect("array")
            .iter()
            .find(|node| node["description"] == name)
            .cloned()
            .expect("the node is listed")
    }

    /// Waits until the node named `name` is connected (or not).
    pub async fn wait_connected(&self, name: &str, connected: bool) {
        for _ in 0..150 {
            if self.node(name).await["connected"] == connected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("node {name} did not become connected={connected} within 15 s");
    }
}

/// Registers `email` (auto-activated), logs in and makes an API key: (access token, API key).
pub async fn sign_up(client: &reqwest::Client, address: &str, email: &str) -> (String, String) {
    let register =
        json!({"name": "Dev", "surname": "Eloper", "email": email, "password": "Secr3t!pass"});
    let response = client
        .post(format!("{address}/v1/auth/register"))
        .json(&register)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let login: Value = client
        .post(format!("{address}/v1/auth/login"))
        .json(&json!({"email": email, "password": "Secr3t!pass"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["accessToken"].as_str().expect("token").to_owned();
    let key: Value = client
        .post(format!("{address}/v1/user/apiKey"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("api key")
        .json()
        .await
        .expect("json");
    (token, key["key"].as_str().expect("key").to_owned())
}

/// A `canopy-worker run` process; stopped with SIGTERM when dropped.
pub struct Worker {
    config: PathBuf,
    cache: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    /// Extra `run` flags.
    flags: Vec<String>,
}

impl Worker {
    async fn run(mut self) -> Worker {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(worker_binary())
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .arg("--cache-dir")
            .arg(&self.cache)
            .args([
                "--max-concurrency",
                "2",
                "--memory-mb",
                "1024",
                "--idle-expiry-secs",
                "120",
                "--shutdown-grace-secs",
                "5",
            ])
            .args(&self.flags)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("canopy-worker run starts");
        self.child = Some(child);
        self
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id()?;
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
        tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .ok()?
            .ok()
    }

    /// Starts the same node again after `stop`.
    pub async fn restart(self) -> Worker {
        self.run().await
    }

    /// The worker's cache directory (`code/<sha256>/` holds each extracted code package).
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            // SIGTERM lets the worker remove its containers; kill_on_drop is the backstop.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(1500));
        }
    }
}

/// `target/<profile>/canopy-worker`, next to this test's `deps/` directory, or `CANOPY_WORKER_BIN`.
fn worker_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CANOPY_WORKER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let binary = profile_dir.join("canopy-worker");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p canopy-worker` first (./scripts/test does)",
        binary.display()
    );
    binary
}

/// The repository's root (for fixtures).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn zip_dir(dir: &Path) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, path) in files_under(dir, "") {
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        writer
            .write_all(&std::fs::read(path).expect("read"))
            .expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

/// Files under `dir` as (relative name with `/`, path), sorted, subdirectories included.
fn files_under(dir: &Path, prefix: &str) -> Vec<(String, PathBuf)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .flatten()
        .collect();
    entries.sort_by_key(|entry| entry.file_name());
    let mut files = Vec::new();
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path, &format!("{name}/")));
        } else if path.is_file() {
            files.push((name, path));
        }
    }
    files
}
