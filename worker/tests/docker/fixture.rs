//! A real-Docker executor for the tests, with the runtime fixture
//! `runtimes/testdata/python/handler.py` in its artifact cache.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use canopy_shared::protocol::{
    decode_body, encode_body, Assignment, FunctionSpec, Outcome, TaskRequest, TaskResult,
};
use canopy_shared::{Capabilities, Lang};
use canopy_worker::config::{default_runtime_images, Secret};
use canopy_worker::executor::artifact::ArtifactStore;
use canopy_worker::executor::docker::{DockerEngine, ISOLATED_NETWORK};
use canopy_worker::executor::engine::{ContainerEngine, LABEL_WORKER};
use canopy_worker::executor::firewall;
use canopy_worker::executor::{invoke, Executor, ExecutorSettings};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

const IMAGE: &str = "canopy-runtime-python:1";

pub struct Fixture {
    pub executor: Executor<DockerEngine>,
    pub engine: DockerEngine,
    pub node_id: String,
    pub sha: String,
    _cache: tempfile::TempDir,
}

impl Fixture {
    /// `None` when real-Docker tests are not enabled.
    pub async fn new() -> Option<Fixture> {
        Self::with_blanks(0).await
    }

    /// An executor keeping `blank_containers` blank containers per runtime.
    pub async fn with_blanks(blank_containers: u32) -> Option<Fixture> {
        if std::env::var("CANOPY_DOCKER_TESTS").as_deref() != Ok("1") {
            eprintln!("note: real-Docker tests skipped; set CANOPY_DOCKER_TESTS=1 to run them");
            return None;
        }
        let info = Command::new("docker").arg("info").output();
        assert!(
            matches!(info, Ok(ref out) if out.status.success()),
            "`docker info` failed: run scripts/ensure-docker to install and start Docker"
        );
        let image = Command::new("docker")
            .args(["image", "inspect", IMAGE])
            .output();
        assert!(
            matches!(image, Ok(ref out) if out.status.success()),
            "the runtime image {IMAGE} is missing: run runtimes/build-offline.sh python"
        );
        let engine = DockerEngine::connect(None)
            .await
            .expect("Docker API reachable (run scripts/ensure-docker)");
        engine
            .ensure_isolated_network()
            .await
            .expect("isolated network");
        firewall::ensure_rule()
            .await
            .expect("the host firewall rule (tests run as root)");
        let cache = tempfile::tempdir().expect("cache dir");
        let sha = seed_fixture(cache.path());
        let node_id = format!("test-{}", uuid::Uuid::new_v4().simple());
        let settings = ExecutorSettings {
            node_id: node_id.clone(),
            runtime_images: default_runtime_images(),
            network: ISOLATED_NETWORK.to_owned(),
            oci_runtime: None,
            allow_privileged: false,
            allow_custom_images: true,
            idle_expiry: Duration::from_secs(300),
            start_timeout: Duration::from_secs(10),
            max_concurrency: 2,
            blank_containers,
            slots_dir: cache.path().join("slots"),
            warm_memory_mb: 4096,
        };
        let artifacts = ArtifactStore::new(
            cache.path().to_owned(),
            reqwest::Client::new(),
            vec![],
            Secret::new("unused"),
        );
        let http = invoke::runner_client().expect("client");
        let executor = Executor::new(Arc::new(engine.clone()), artifacts, http, settings);
        Some(Fixture {
            executor,
            engine,
            node_id,
            sha,
            _cache: cache,
        })
    }

    pub async fn run(
        &self,
        task: &str,
        method: &str,
        query: &str,
        body: &[u8],
        timeout: Duration,
    ) -> TaskResult {
        self.run_function("fixture", task, method, query, body, timeout)
            .await
    }

    /// `run` for a function id of the caller's choice (same code).
    pub async fn run_function(
        &self,
        function_id: &str,
        task: &str,
        method: &str,
        query: &str,
        body: &[u8],
        timeout: Duration,
    ) -> TaskResult {
        let assignment = Assignment {
            task_id: task.into(),
            attempt: 1,
            lease_ms: 30_000,
            function: FunctionSpec {
                function_id: function_id.into(),
                build_id: "b1".into(),
                lang: Lang::Py,
                artifact_sha256: self.sha.clone(),
                artifact_size: 0,
                capabilities: Capabilities {
                    timeout: 10,
                    cpu_count: 0,
                    mem_size: 0,
                    network_latency: 0,
                    privileged: false,
                    volunteers: false,
                },
                image: None,
            },
            request: TaskRequest {
                method: method.into(),
                query: query.into(),
                headers: vec![("x-trace".into(), "1".into())],
                content_type: Some("application/json".into()),
                body: encode_body(body),
            },
        };
        self.executor
            .execute(&assignment, &CancellationToken::new(), timeout)
            .await
    }

    pub async fn containers(&self) -> Vec<String> {
        self.engine
            .list_by_label(LABEL_WORKER, &self.node_id)
            .await
            .expect("listed")
    }

    pub async fn cleanup(&self) {
        self.executor
            .remove_own_containers()
            .await
            .expect("removed");
        assert!(self.containers().await.is_empty());
    }
}

/// The runtime fixture as a plain tar in the artifact cache, as the dispatcher would serve it.
pub fn seed_fixture(cache: &Path) -> String {
    let handler =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes/testdata/python/handler.py");
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_path_with_name(&handler, "handler.py")
        .expect("fixture handler (runtimes/testdata/python)");
    let tar = builder.into_inner().expect("tar");
    let sha = hex::encode(Sha256::digest(&tar));
    std::fs::create_dir_all(cache.join("artifacts")).expect("dir");
    std::fs::write(cache.join(format!("artifacts/{sha}.tar")), tar).expect("seeded");
    sha
}

pub fn response(result: &TaskResult) -> (u16, Option<String>, Vec<u8>, Option<String>) {
    match &result.outcome {
        Outcome::Response {
            status,
            content_type,
            body,
            error,
        } => (
            *status,
            content_type.clone(),
            decode_body(body).expect("base64"),
            error.clone(),
        ),
        other => panic!("expected a response, got {other:?}"),
    }
}

pub const LONG: Duration = Duration::from_secs(10);
