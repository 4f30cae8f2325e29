//! `canopy-worker run`: wires the executor (Docker, or the no-op one without Docker), the host
//! sampler and the connection supervisor, and shuts them down in order on SIGTERM/SIGINT.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use canopy_shared::protocol::Resources;
use canopy_shared::Lang;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use crate::backoff::Backoff;
use crate::config::{ExecutorKind, Secret, WorkerConfig};
use crate::connection::{ConnectionSettings, Supervisor};
use crate::executor::artifact::ArtifactStore;
use crate::executor::docker::{DockerEngine, ISOLATED_NETWORK};
use crate::executor::engine::ContainerEngine;
use crate::executor::firewall;
use crate::executor::noop::NoopRunner;
use crate::executor::{invoke, Executor, ExecutorSettings, TaskRunner};
use crate::host::{self, HostSnapshot};
use crate::volunteer::{self, cgroup::TaskCgroup, power::EnergyMeter, Accounting, Gate};

/// Languages whose runtime image is present, in a stable order.
pub async fn present_runtimes(
    engine: &impl ContainerEngine,
    config: &WorkerConfig,
) -> anyhow::Result<Vec<Lang>> {
    let mut present = Vec::new();
    for lang in Lang::ALL {
        let Some(image) = config.runtime_images.get(&lang) else {
            continue;
        };
        if engine.image_exists(image).await? {
            present.push(lang);
        } else {
            warn!(lang = lang.code(), %image, "runtime image missing; this node will not run {} functions", lang.lowercase());
        }
    }
    Ok(present)
}

/// Cancels `token` on the first SIGTERM or SIGINT.
fn cancel_on_signal(token: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term =
        signal(SignalKind::terminate()).context("while installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("while installing the SIGINT handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: shutting down"),
            _ = int.recv() => info!("SIGINT: shutting down"),
        }
        token.cancel();
    });
    Ok(())
}

/// Runs the daemon until a signal, then drains and cleans up.
pub async fn run(config: WorkerConfig) -> anyhow::Result<()> {
    let (node_id, token) = config.credentials()?;
    let (node_id, token) = (node_id.to_owned(), token.clone());
    anyhow::ensure!(
        !config.dispatchers.is_empty(),
        "no dispatcher URL is configured: pass --dispatcher or run `canopy-worker register`"
    );
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone())?;
    let background = CancellationToken::new();
    let (host_rx, sampler) = host::spawn_sampler(Duration::from_secs(5), background.clone());
    let host_cpus = host_rx.borrow().cpus;
    let cgroup = match config.executor {
        ExecutorKind::Docker => {
            let engine = DockerEngine::connect(config.docker_host.as_deref())
                .await
                .context("while connecting to Docker (run scripts/ensure-docker)")?;
            let driver = engine.cgroup_driver().await?;
            Some(Arc::new(volunteer::prepare_cgroup(
                &config.volunteer,
                &driver,
                &node_id,
                host_cpus,
            )?))
        }
        ExecutorKind::Noop => None,
    };
    let gate = volunteer::start_monitor(&config.volunteer, cgroup.clone(), background.clone());
    let node = Node {
        gate,
        cgroup: cgroup.clone(),
        host_cpus,
        config: &config,
        node_id,
        token,
        host: host_rx,
        shutdown,
    };
    let outcome = match config.executor {
        ExecutorKind::Docker => run_docker(node, background.clone()).await,
        ExecutorKind::Noop => {
            info!(
                noop_delay_ms = config.noop_delay.as_millis() as u64,
                "noop executor: tasks are answered without running anything; Docker is not used"
            );
            let runtimes = NoopRunner::runtimes(&config.runtime_images);
            node.supervise(Arc::new(NoopRunner::new(config.noop_delay)), runtimes)
                .await
        }
    };
    background.cancel();
    let _ = sampler.await;
    if let Some(cgroup) = cgroup {
        cgroup.remove();
    }
    outcome
}

/// What every executor's daemon shares: this node and its stop signal.
struct Node<'a> {
    config: &'a WorkerConfig,
    node_id: String,
    token: Secret,
    host: watch::Receiver<HostSnapshot>,
    shutdown: CancellationToken,
    /// Open while the volunteer's conditions hold.
    gate: watch::Receiver<Gate>,
    cgroup: Option<Arc<TaskCgroup>>,
    host_cpus: u32,
}

impl Node<'_> {
    /// Advertises this node with `runtimes` and serves the dispatcher with `runner` until
    /// shutdown.
    async fn supervise<R: TaskRunner>(
        self,
        runner: Arc<R>,
        runtimes: Vec<Lang>,
    ) -> anyhow::Result<()> {
        let config = self.config;
        let snapshot = self.host.borrow().clone();
        let compiles = runtimes
            .iter()
            .copied()
            .filter(|lang| runner.compiles(*lang))
            .collect();
        let resources = Resources {
            cpus: config.cpus,
            memory_mb: config.memory_mb,
            arch: snapshot.arch,
            os: snapshot.os,
            runtimes,
            max_concurrency: config.max_concurrency,
            allows_privileged: config.allow_privileged,
            allows_egress: config.allow_egress,
            allows_custom_images: config.allow_custom_images,
            compiles,
            energy: None,
        };
        info!(node.id = %self.node_id, ?resources, "worker starting");
        let connection = ConnectionSettings {
            dispatchers: config.dispatchers.clone(),
            node_token: self.token,
            shutdown_grace: config.shutdown_grace,
            backoff: Backoff::default(),
            unauthorized_retry: Duration::from_secs(60),
            welcome_timeout: Duration::from_secs(10),
        };
        let span = info_span!("connection", node.id = %self.node_id);
        Supervisor::new(
            connection,
            self.node_id,
            resources,
            runner,
            self.host,
            self.shutdown,
        )
        .with_owner_gate(self.gate, config.volunteer.pause_handback)
        .with_carbon(config.carbon.clone())
        .run()
        .instrument(span)
        .await
    }
}

/// The Docker executor: network, firewall rule, runtime images, janitor, and the cleanup of
/// this worker's containers at start and exit.
async fn run_docker(node: Node<'_>, background: CancellationToken) -> anyhow::Result<()> {
    let config = node.config;
    let mut engine = DockerEngine::connect(config.docker_host.as_deref())
        .await
        .context("while connecting to Docker (run scripts/ensure-docker)")?;
    if let Some(cgroup) = &node.cgroup {
        engine = engine.with_cgroup_parent(cgroup.docker_parent());
    }
    engine
        .ensure_isolated_network()
        .await
        .context("while creating the isolated container network")?;
    if let Err(error) = firewall::ensure_rule().await {
        anyhow::ensure!(
            config.allow_host_access,
            "cannot install the firewall rule that keeps function containers away from the services \
             of this host ({error}); fix: {}; or start with --allow-host-access to accept that risk",
            firewall::manual_fix()
        );
        warn!(%error, fix = %firewall::manual_fix(), "function containers can reach services listening on this host (--allow-host-access)");
    }
    let oci_runtime = engine
        .runtimes()
        .await?
        .into_iter()
        .find(|name| name == "runsc");
    if oci_runtime.is_none() {
        info!("gVisor (runsc) is not installed: containers use Docker's default runtime");
    }
    let runtimes = present_runtimes(&engine, config).await?;
    anyhow::ensure!(
        !runtimes.is_empty(),
        "no runtime image is present: run runtimes/build-offline.sh"
    );

    let dispatcher_http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .context("while building the HTTP client")?;
    let artifacts = ArtifactStore::new(
        config.cache_dir.clone(),
        dispatcher_http,
        config.dispatchers.clone(),
        node.token.clone(),
    )
    .with_budget_mb(config.artifact_cache_mb);
    // Packages left from an earlier run (or a larger budget) count from the start.
    match artifacts.trim().await {
        Ok(bytes) => info!(
            artifact_cache.bytes = bytes,
            artifact_cache.budget_mb = config.artifact_cache_mb,
            "code package cache trimmed"
        ),
        Err(error) => warn!(%error, "could not trim the code package cache"),
    }
    let settings = ExecutorSettings {
        node_id: node.node_id.clone(),
        runtime_images: config.runtime_images.clone(),
        network: ISOLATED_NETWORK.to_owned(),
        oci_runtime,
        allow_privileged: config.allow_privileged,
        allow_custom_images: config.allow_custom_images,
        idle_expiry: config.idle_expiry,
        start_timeout: Duration::from_secs(10),
        max_concurrency: config.max_concurrency,
        blank_containers: config.blank_containers,
        slots_dir: config.cache_dir.join("slots"),
        warm_memory_mb: config.warm_memory_mb,
    };
    let runner_http = invoke::runner_client().context("while building the runner client")?;
    let accounting = Accounting {
        cgroup: node.cgroup.clone(),
        meter: EnergyMeter::detect(Path::new("/sys/class/powercap"), config.volunteer.power),
        host_cpus: node.host_cpus,
    };
    info!(energy = %accounting.meter.source(), "energy per task");
    let executor = Arc::new(
        Executor::new(Arc::new(engine), artifacts, runner_http, settings)
            .with_volunteer(node.gate.clone(), accounting),
    );
    let stale = executor.remove_own_containers().await?;
    if stale > 0 {
        info!(
            containers = stale,
            "removed containers left by a previous run"
        );
    }
    let janitor = tokio::spawn({
        let (executor, stop) = (executor.clone(), background.clone());
        async move { executor.run_janitor(stop).await }
    });
    let refill = tokio::spawn({
        let (executor, stop) = (executor.clone(), background.clone());
        async move { executor.run_blank_refill(stop).await }
    });
    let freezer = tokio::spawn({
        let (executor, stop) = (executor.clone(), background.clone());
        async move { executor.run_freezer(stop).await }
    });

    let outcome = node.supervise(executor.clone(), runtimes).await;

    background.cancel();
    let _ = janitor.await;
    let _ = refill.await;
    let _ = freezer.await;
    match executor.remove_own_containers().await {
        Ok(removed) => info!(containers = removed, "removed this worker's containers"),
        Err(error) => warn!(%error, "could not remove this worker's containers"),
    }
    outcome
}
