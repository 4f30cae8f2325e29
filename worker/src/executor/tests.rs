use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use canopy_shared::protocol::{decode_body, encode_body, TaskRequest};
use canopy_shared::Capabilities;
use sha2::{Digest, Sha256};

use super::*;
use crate::config::Secret;
use crate::testutil::{HttpServer, Reply};

#[derive(Default)]
struct FakeEngine {
    addr: Mutex<Option<SocketAddr>>,
    created: Mutex<Vec<ContainerSpec>>,
    removed: Mutex<Vec<String>>,
    /// Local images: reference → id.
    images: Mutex<HashMap<String, String>>,
}

impl FakeEngine {
    fn created(&self) -> Vec<ContainerSpec> {
        self.created.lock().expect("lock").clone()
    }
    fn removed(&self) -> Vec<String> {
        self.removed.lock().expect("lock").clone()
    }
}

impl ContainerEngine for FakeEngine {
    async fn create(&self, spec: &ContainerSpec) -> Result<String, engine::EngineError> {
        let mut created = self.created.lock().expect("lock");
        created.push(spec.clone());
        Ok(format!("container-{}", created.len()))
    }
    async fn start(&self, _id: &str) -> Result<(), engine::EngineError> {
        Ok(())
    }
    async fn exit(&self, _id: &str) -> Result<Option<engine::Exit>, engine::EngineError> {
        Ok(None)
    }

    async fn address(&self, _id: &str) -> Result<SocketAddr, engine::EngineError> {
        self.addr
            .lock()
            .expect("lock")
            .ok_or_else(|| engine::EngineError::new("inspect", "no ip"))
    }
    async fn remove(&self, id: &str) -> Result<(), engine::EngineError> {
        self.removed.lock().expect("lock").push(id.to_owned());
        Ok(())
    }
    async fn list_by_label(
        &self,
        _key: &str,
        _value: &str,
    ) -> Result<Vec<String>, engine::EngineError> {
        Ok(vec!["stale-1".into()])
    }
    async fn update_limits(
        &self,
        _id: &str,
        _memory_mb: u32,
        _cpus: u32,
    ) -> Result<(), engine::EngineError> {
        Ok(())
    }
    async fn image_exists(&self, _image: &str) -> Result<bool, engine::EngineError> {
        Ok(true)
    }
    async fn image_id(&self, image: &str) -> Result<Option<String>, engine::EngineError> {
        Ok(self.images.lock().expect("lock").get(image).cloned())
    }
    async fn pull(&self, image: &str) -> Result<(), engine::EngineError> {
        Err(engine::EngineError::new(
            "pull image",
            format!("no registry for {image}"),
        ))
    }
}

struct Harness {
    executor: Executor<FakeEngine>,
    engine: Arc<FakeEngine>,
    sha: String,
    _runner: HttpServer,
    _dir: tempfile::TempDir,
}

/// A fake runner: health answers 200; `?sleep=MS` waits; `?raise` answers like a raising handler.
async fn harness() -> Harness {
    harness_with_images(crate::config::default_runtime_images()).await
}

async fn harness_with_images(runtime_images: HashMap<Lang, String>) -> Harness {
    let runner = HttpServer::start(|request| {
        if request.path == "/__canopy/health" {
            return Reply::new(200, b"ok".to_vec());
        }
        if request.path.contains("raise") {
            return Reply::new(500, b"error: boom".to_vec()).with_header("x-canopy-error", "boom");
        }
        let mut reply =
            Reply::new(200, request.body.clone()).with_header("content-type", "application/x-echo");
        if let Some(ms) = request.path.split("sleep=").nth(1) {
            reply.delay = Duration::from_millis(ms.parse().unwrap_or(0));
        }
        reply
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sha = seed_artifact(dir.path());
    let engine = Arc::new(FakeEngine::default());
    *engine.addr.lock().expect("lock") = Some(runner.addr);
    let artifacts = ArtifactStore::new(
        dir.path().to_owned(),
        reqwest::Client::new(),
        vec![],
        Secret::new("t"),
    );
    let settings = ExecutorSettings {
        node_id: "node-1".into(),
        runtime_images,
        network: "net".into(),
        oci_runtime: None,
        allow_privileged: false,
        allow_custom_images: true,
        idle_expiry: Duration::from_secs(300),
        start_timeout: Duration::from_secs(5),
        max_concurrency: 4,
        blank_containers: 0,
        slots_dir: dir.path().join("slots"),
        warm_memory_mb: 4096,
    };
    let http = invoke::runner_client().expect("client");
    Harness {
        executor: Executor::new(engine.clone(), artifacts, http, settings),
        engine,
        sha,
        _runner: runner,
        _dir: dir,
    }
}

fn seed_artifact(root: &Path) -> String {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "handler.py", &b"pass"[..])
        .expect("append");
    let tar = builder.into_inner().expect("tar");
    let sha = hex::encode(Sha256::digest(&tar));
    std::fs::create_dir_all(root.join("artifacts")).expect("dir");
    std::fs::write(root.join(format!("artifacts/{sha}.tar")), tar).expect("write");
    sha
}

fn assignment(h: &Harness, task: &str, function: &str, query: &str) -> Assignment {
    Assignment {
        task_id: task.into(),
        attempt: 1,
        lease_ms: 30_000,
        function: FunctionSpec {
            function_id: function.into(),
            build_id: "b1".into(),
            lang: Lang::Py,
            artifact_sha256: h.sha.clone(),
            artifact_size: 0,
            capabilities: Capabilities::default(),
            image: None,
        },
        request: TaskRequest {
            method: "POST".into(),
            query: query.into(),
            headers: vec![("x-a".into(), "1".into())],
            content_type: Some("text/plain".into()),
            body: encode_body(b"hello"),
        },
    }
}

async fn run(h: &Harness, a: &Assignment) -> TaskResult {
    h.executor
        .execute(a, &CancellationToken::new(), Duration::from_secs(5))
        .await
}

#[tokio::test]
async fn a_second_task_of_the_same_version_reuses_the_warm_container() {
    let h = harness().await;
    let first = run(&h, &assignment(&h, "t1", "f", "")).await;
    let Outcome::Response {
        status,
        body,
        content_type,
        error,
    } = &first.outcome
    else {
        panic!("unexpected {:?}", first.outcome);
    };
    assert_eq!((*status, error.as_deref()), (200, None));
    assert_eq!(decode_body(body).expect("base64"), b"hello");
    assert_eq!(content_type.as_deref(), Some("application/x-echo"));
    assert!(!first.timings.warm);
    let second = run(&h, &assignment(&h, "t2", "f", "")).await;
    assert!(second.timings.warm);
    assert_eq!(second.timings.init_ms, 0);
    assert_eq!(h.engine.created().len(), 1);
    assert_eq!(h.executor.warm_functions(), ["f@b1"]);
}

#[tokio::test]
async fn containers_are_hardened_and_labelled() {
    let h = harness().await;
    run(&h, &assignment(&h, "t1", "f", "")).await;
    let spec = &h.engine.created()[0];
    assert_eq!((spec.memory_mb, spec.cpus, spec.pids_limit), (256, 1, 128));
    assert!(!spec.privileged);
    assert_eq!(spec.image, "canopy-runtime-python:1");
    assert_eq!(spec.labels[LABEL_WORKER], "node-1");
    assert_eq!(spec.labels[LABEL_FUNCTION], "f@b1");
    assert!(spec.code_dir.join("handler.py").is_file());
    let body = docker::container_body(spec);
    let host = body.host_config.expect("host config");
    assert_eq!(host.memory, host.memory_swap);
    assert_eq!(host.nano_cpus, Some(1_000_000_000));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(body.user.as_deref(), Some("65534:65534"));
    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.cap_add, None);
    // Docker's tmpfs is noexec unless told otherwise; only compiled runtimes need otherwise.
    assert_eq!(host.tmpfs.expect("tmpfs")["/tmp"], "rw,size=64m");
}

#[tokio::test]
async fn go_and_rust_containers_may_run_what_they_compile_in_tmp_and_get_time_to_compile() {
    let h = harness().await;
    let mut a = assignment(&h, "t1", "f", "");
    for (lang, tmp_exec) in [
        (Lang::Go, true),
        (Lang::Rs, true),
        (Lang::Cs, false),
        (Lang::Rb, false),
    ] {
        a.function.lang = lang;
        let spec = h
            .executor
            .container_spec(&a.function, "/tmp/code".into())
            .expect("spec");
        assert_eq!(spec.tmp_exec, tmp_exec, "{lang:?}");
        let tmpfs = docker::container_body(&spec)
            .host_config
            .expect("host")
            .tmpfs
            .expect("tmpfs");
        assert_eq!(tmpfs["/tmp"].contains(",exec,"), tmp_exec, "{lang:?}");
    }
    assert_eq!(h.executor.start_timeout(Lang::Py), Duration::from_secs(5));
    assert_eq!(h.executor.start_timeout(Lang::Rb), Duration::from_secs(5));
    for lang in [Lang::Go, Lang::Cs, Lang::Rs] {
        assert_eq!(h.executor.start_timeout(lang), Duration::from_secs(60));
    }
}

#[test]
fn a_privileged_function_gets_root_and_default_capabilities_but_never_docker_privileged() {
    let spec = ContainerSpec {
        image: "canopy-runtime-python:1".to_owned(),
        code_dir: std::path::PathBuf::from("/tmp/code"),
        memory_mb: 256,
        cpus: 1,
        pids_limit: 128,
        privileged: true,
        tmp_exec: false,
        network: "canopy-net".to_owned(),
        runtime: None,
        labels: std::collections::HashMap::new(),
        env: Vec::new(),
        compile_out: None,
    };
    let body = docker::container_body(&spec);
    let host = body.host_config.expect("host config");
    assert_eq!(body.user.as_deref(), Some("0:0"));
    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
    let added = host.cap_add.expect("an explicit capability list");
    assert!(added.contains(&"CHOWN".to_owned()));
    assert!(!added
        .iter()
        .any(|cap| cap == "SYS_ADMIN" || cap == "NET_ADMIN"));
    // Seccomp stays on (no `seccomp=unconfined`), escalation stays off, the root stays read-only.
    let options = host.security_opt.expect("security options");
    assert!(options.contains(&"no-new-privileges".to_owned()));
    assert!(!options.iter().any(|option| option.contains("unconfined")));
    assert_eq!(host.readonly_rootfs, Some(true));
}

#[tokio::test]
async fn a_busy_container_is_not_shared_and_functions_never_share() {
    let h = harness().await;
    let (a, b) = (
        assignment(&h, "t1", "f", "sleep=300"),
        assignment(&h, "t2", "f", "sleep=300"),
    );
    let (r1, r2) = tokio::join!(run(&h, &a), run(&h, &b));
    assert!(!r1.timings.warm && !r2.timings.warm);
    assert_eq!(
        h.engine.created().len(),
        2,
        "one container per running task"
    );
    let other = run(&h, &assignment(&h, "t3", "g", "")).await;
    assert!(!other.timings.warm, "a warm container of f never serves g");
    assert_eq!(h.engine.created().len(), 3);
    assert_eq!(h.executor.pool().idle_count(), 3);
}

#[tokio::test]
async fn idle_containers_expire_and_are_removed() {
    let h = harness().await;
    run(&h, &assignment(&h, "t1", "f", "")).await;
    assert_eq!(h.executor.reap_idle(Instant::now()).await, 0);
    let later = Instant::now() + Duration::from_secs(301);
    assert_eq!(h.executor.reap_idle(later).await, 1);
    assert_eq!(h.engine.removed(), ["container-1"]);
    assert!(h.executor.warm_functions().is_empty());
    assert_eq!(h.executor.remove_own_containers().await.expect("listed"), 1);
    assert_eq!(h.engine.removed(), ["container-1", "stale-1"]);
}

#[tokio::test]
async fn a_slow_function_times_out_and_its_container_is_killed() {
    let h = harness().await;
    let result = h
        .executor
        .execute(
            &assignment(&h, "t1", "f", "sleep=2000"),
            &CancellationToken::new(),
            Duration::from_millis(200),
        )
        .await;
    assert!(
        matches!(result.outcome, Outcome::TimedOut { .. }),
        "{:?}",
        result.outcome
    );
    assert_eq!(h.engine.removed(), ["container-1"]);
    assert!(h.executor.warm_functions().is_empty());
}

#[tokio::test]
async fn a_cancelled_task_kills_its_container() {
    let h = harness().await;
    let cancel = CancellationToken::new();
    let a = assignment(&h, "t1", "f", "sleep=5000");
    let run = h.executor.execute(&a, &cancel, Duration::from_secs(10));
    let (result, ()) = tokio::join!(run, async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    assert!(matches!(
        result.outcome,
        Outcome::Failed {
            retryable: true,
            ..
        }
    ));
    assert_eq!(h.engine.removed(), ["container-1"]);
}

#[tokio::test]
async fn a_raising_handler_is_a_500_with_its_error() {
    let h = harness().await;
    let result = run(&h, &assignment(&h, "t1", "f", "raise")).await;
    let Outcome::Response { status, error, .. } = result.outcome else {
        panic!("not a response")
    };
    assert_eq!((status, error.as_deref()), (500, Some("boom")));
    assert!(h.engine.removed().is_empty(), "the container stays warm");
}

#[tokio::test]
async fn missing_runtimes_and_forbidden_privilege_fail_retryably() {
    let mut images = crate::config::default_runtime_images();
    images.remove(&Lang::Rs);
    let h = harness_with_images(images).await;
    let mut rust = assignment(&h, "t1", "f", "");
    rust.function.lang = Lang::Rs;
    let result = run(&h, &rust).await;
    assert!(
        matches!(result.outcome, Outcome::Failed { retryable: true, ref message } if message.contains("rs"))
    );
    let mut privileged = assignment(&h, "t2", "f", "");
    privileged.function.capabilities.privileged = true;
    let result = run(&h, &privileged).await;
    assert!(matches!(
        result.outcome,
        Outcome::Failed {
            retryable: true,
            ..
        }
    ));
    assert!(h.engine.created().is_empty());
}

#[path = "image_tests.rs"]
mod image_tests;
