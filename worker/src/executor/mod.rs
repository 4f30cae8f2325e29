//! Running tasks: fetch the code package, get a warm or fresh locked-down container for the
//! function version, replay the request, and report the outcome with truthful timings.

pub mod artifact;
pub mod artifact_cache;
mod blank;
mod compile;
mod crash;
pub mod docker;
pub mod engine;
pub mod firewall;
mod freeze;
pub mod image;
pub mod invoke;
mod janitor;
pub mod noop;
pub mod pool;
mod prewarm;
mod start;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use canopy_shared::protocol::{
    Assignment, CompileJob, FunctionSpec, Outcome, TaskResult, Timings, Usage,
};
use canopy_shared::Lang;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{info_span, Instrument};

use artifact::ArtifactStore;
use blank::BlankPool;
use engine::{ContainerEngine, ContainerSpec, LABEL_FUNCTION, LABEL_WORKER};
use pool::WarmPool;

use crate::volunteer::{Accounting, Gate};

/// Runs one attempt of a task; the connection supervisor's view of the executor.
pub trait TaskRunner: Send + Sync + 'static {
    /// Runs the attempt to its end. When `cancel` fires the attempt's container is killed and a
    /// `Failed { retryable: true }` result comes back promptly (the caller may discard it).
    fn run(
        &self,
        assignment: Assignment,
        cancel: CancellationToken,
    ) -> impl Future<Output = TaskResult> + Send;

    /// Function versions with a warm container, for `hello`.
    fn warm_functions(&self) -> Vec<String>;

    /// Starts up to `instances` warm containers of the version ahead of its tasks; returns how
    /// many are idle and warm afterwards.
    fn prewarm(&self, function: FunctionSpec, instances: u32) -> impl Future<Output = u32> + Send;

    /// Whether this runner takes compile jobs for `lang` (announced in `hello`).
    fn compiles(&self, _lang: Lang) -> bool {
        false
    }

    /// Runs a compile job to its end and answers the dispatcher (the compiled package or the
    /// compiler's output). A job it cannot finish is left to expire and be offered again.
    fn compile(&self, _job: CompileJob) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How the executor builds and keeps containers.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// Labels the containers as this node's.
    pub node_id: String,
    pub runtime_images: HashMap<Lang, String>,
    /// Docker network of function containers.
    pub network: String,
    /// OCI runtime (`runsc` when the host has gVisor).
    pub oci_runtime: Option<String>,
    pub allow_privileged: bool,
    /// Functions that bring their own image may run (`--allow-custom-images`).
    pub allow_custom_images: bool,
    pub idle_expiry: Duration,
    /// Bound on container create + start + ready.
    pub start_timeout: Duration,
    pub max_concurrency: u32,
    /// Blank containers kept ready per runtime that supports them (0: none).
    pub blank_containers: u32,
    /// Where blank containers' `/app` folders live (same filesystem as the code cache).
    pub slots_dir: std::path::PathBuf,
    /// Most memory (MB, by container limits) idle warm containers may hold; past it the least
    /// recently used are removed.
    pub warm_memory_mb: u32,
}

/// The executor over a container engine.
pub struct Executor<E: ContainerEngine> {
    engine: Arc<E>,
    pool: WarmPool,
    blanks: BlankPool,
    artifacts: ArtifactStore,
    http: reqwest::Client,
    settings: ExecutorSettings,
    slots: Semaphore,
    /// Open while the volunteer's conditions hold (always, unless `with_volunteer`).
    gate: watch::Receiver<Gate>,
    /// Measures CPU time and energy of attempts (none: not measured).
    accounting: Option<Arc<Accounting>>,
    /// Containers this executor paused for the owner.
    frozen: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Why an attempt ended before the function answered.
enum Stop {
    Failed(String),
    /// The runner stopped answering: the container may have died (`crash::classify`).
    Lost(String),
    TimedOut(String),
}

impl<E: ContainerEngine> Executor<E> {
    /// An executor with an empty warm pool.
    pub fn new(
        engine: Arc<E>,
        artifacts: ArtifactStore,
        http: reqwest::Client,
        settings: ExecutorSettings,
    ) -> Self {
        let slots = Semaphore::new(settings.max_concurrency.max(1) as usize);
        Executor {
            engine,
            pool: WarmPool::with_budget(u64::from(settings.warm_memory_mb)),
            blanks: BlankPool::default(),
            artifacts,
            http,
            settings,
            slots,
            gate: watch::channel(Gate::Open).1,
            accounting: None,
            frozen: Default::default(),
        }
    }

    /// Follows the owner's gate (frozen containers, timeouts that stop while paused) and
    /// measures each attempt's CPU time and energy.
    pub fn with_volunteer(mut self, gate: watch::Receiver<Gate>, accounting: Accounting) -> Self {
        self.gate = gate;
        self.accounting = Some(Arc::new(accounting));
        self
    }

    /// The warm pool (for inspection).
    pub fn pool(&self) -> &WarmPool {
        &self.pool
    }

    /// The container spec for a function version.
    pub fn container_spec(
        &self,
        function: &FunctionSpec,
        code_dir: std::path::PathBuf,
    ) -> Result<ContainerSpec, String> {
        let caps = &function.capabilities;
        let image = match &function.image {
            // Resolved beforehand (`resolve_image`): the pinned id, or a reference with its digest.
            Some(custom) => custom.pin.as_ref().unwrap_or(&custom.reference),
            None => self
                .settings
                .runtime_images
                .get(&function.lang)
                .ok_or_else(|| {
                    format!("runtime {} is not on this node", function.lang.lowercase())
                })?,
        };
        if caps.privileged && !self.settings.allow_privileged {
            return Err("this node does not allow privileged containers".into());
        }
        Ok(ContainerSpec {
            image: image.clone(),
            code_dir,
            memory_mb: reserved_memory_mb(caps.mem_size),
            cpus: caps.cpu_count.max(1),
            pids_limit: 128,
            privileged: caps.privileged,
            tmp_exec: matches!(function.lang, Lang::Go | Lang::Rs),
            network: self.settings.network.clone(),
            runtime: self.settings.oci_runtime.clone(),
            labels: HashMap::from([
                (LABEL_WORKER.to_owned(), self.settings.node_id.clone()),
                (LABEL_FUNCTION.to_owned(), function.version_key()),
            ]),
            env: Vec::new(),
            compile_out: None,
        })
    }

    /// Runs an attempt with an explicit timeout (production passes `capabilities.timeout`).
    pub async fn execute(
        &self,
        assignment: &Assignment,
        cancel: &CancellationToken,
        timeout: Duration,
    ) -> TaskResult {
        let mut image_pin = None;
        let (outcome, timings, usage) = match self.slots.acquire().await {
            Ok(_permit) => match self.resolve_image(&assignment.function).await {
                Ok(resolved) => {
                    image_pin = resolved.new_pin;
                    let assignment = Assignment {
                        function: resolved.function,
                        ..assignment.clone()
                    };
                    self.attempt(&assignment, cancel, timeout).await
                }
                Err(error) => {
                    tracing::warn!(%error, "custom image refused");
                    (error.outcome(), Timings::default(), None)
                }
            },
            Err(_) => (failed("the executor is closed"), Timings::default(), None),
        };
        TaskResult {
            regrant: false,
            image_pin,
            task_id: assignment.task_id.clone(),
            attempt: assignment.attempt,
            outcome,
            timings,
            usage,
        }
    }

    async fn attempt(
        &self,
        assignment: &Assignment,
        cancel: &CancellationToken,
        timeout: Duration,
    ) -> (Outcome, Timings, Option<Usage>) {
        let function = &assignment.function;
        let mut timings = Timings::default();
        let (container, warm) = match self.container_for(function, cancel, &mut timings).await {
            Ok(found) => found,
            Err(outcome) => return (outcome, timings, None),
        };
        timings.warm = warm;
        let span = info_span!("invoke", container.id = %short(&container.id), warm);
        let started = Instant::now();
        let meter = self.accounting.as_ref().map(|a| a.start(&container.id));
        let (answer, paused) = tokio::select! {
            _ = cancel.cancelled() => (Err(Stop::Failed("cancelled".into())), Duration::ZERO),
            (answer, paused) = freeze::run_unpaused(
                &self.gate,
                timeout,
                invoke::invoke(&self.http, container.addr, &assignment.request),
            ) => (match answer {
                Some(Ok(outcome)) => Ok(outcome),
                Some(Err(invoke::InvokeError::TooLarge)) => Ok(Outcome::Failed {
                    message: invoke::InvokeError::TooLarge.to_string(),
                    retryable: false,
                }),
                Some(Err(error @ invoke::InvokeError::Transport(_))) => Err(Stop::Lost(error.to_string())),
                Some(Err(error)) => Err(Stop::Failed(error.to_string())),
                None => Err(Stop::TimedOut(format!(
                    "no response within {} s; the container was killed",
                    timeout.as_secs_f64()
                ))),
            }, paused),
        };
        // Time frozen by the owner is not the function's.
        timings.exec_ms = started.elapsed().saturating_sub(paused).as_millis() as u64;
        let usage = match (&self.accounting, &meter) {
            (Some(accounting), Some(meter)) => {
                let cpus = function.capabilities.cpu_count.max(1);
                accounting.finish(&container.id, meter, cpus)
            }
            _ => None,
        };
        match answer {
            Ok(outcome) => {
                self.keep_warm(container);
                (outcome, timings, usage)
            }
            Err(stop) => {
                // Read how the container ended before it is removed.
                let outcome = match stop {
                    Stop::Failed(message) => failed(&message),
                    Stop::Lost(message) => {
                        let memory_mb = reserved_memory_mb(function.capabilities.mem_size);
                        crash::classify(&*self.engine, &container.id, memory_mb, message).await
                    }
                    Stop::TimedOut(message) => Outcome::TimedOut { message },
                };
                self.discard(&container).instrument(span).await;
                (outcome, timings, usage)
            }
        }
    }
}

/// The least start timeout of a runtime that compiles the function when its container starts
/// (until builds are compiled once, issue 11).
const COMPILE_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A container's memory limit for `memSize` (0: the default of 256 MB).
fn reserved_memory_mb(mem_size: u32) -> u32 {
    if mem_size == 0 {
        256
    } else {
        mem_size
    }
}

fn failed(message: &str) -> Outcome {
    Outcome::Failed {
        message: message.to_owned(),
        retryable: true,
    }
}

/// The first 12 characters of a container id, as `docker ps` shows it.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl<E: ContainerEngine> TaskRunner for Executor<E> {
    async fn run(&self, assignment: Assignment, cancel: CancellationToken) -> TaskResult {
        let timeout =
            Duration::from_secs(u64::from(assignment.function.capabilities.timeout.max(1)));
        self.execute(&assignment, &cancel, timeout).await
    }

    fn warm_functions(&self) -> Vec<String> {
        self.pool.warm_versions()
    }

    async fn prewarm(&self, function: FunctionSpec, instances: u32) -> u32 {
        Executor::prewarm(self, &function, instances).await
    }

    fn compiles(&self, lang: Lang) -> bool {
        compile::has_compile_mode(lang) && self.settings.runtime_images.contains_key(&lang)
    }

    async fn compile(&self, job: CompileJob) {
        Executor::compile(self, job).await
    }
}

#[cfg(test)]
mod tests;
