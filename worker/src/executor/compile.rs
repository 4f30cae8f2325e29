//! Compile jobs (GO, RS, CS): the source package compiled once in a container hardened like a task's
//! (no network at all, cap-drop ALL, read-only root, the source read-only, CPU/memory/pids and
//! time limits) by the runtime image's `start.sh --compile /out`; the output directory, packed as
//! a tar, is uploaded to the dispatcher, or the compiler's output when it fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use canopy_shared::protocol::CompileJob;
use canopy_shared::Lang;
use tracing::{info, info_span, warn, Instrument};

use super::engine::{ContainerEngine, ContainerSpec, LABEL_WORKER};
use super::{short, Executor};

/// Label naming the build a compile container works on.
const LABEL_COMPILE: &str = "canopy.compile";
/// Compiler output sent at most (its tail), bytes.
pub const MAX_LOG_BYTES: usize = 64 * 1024;
/// How often a running compile container is looked at.
const POLL: Duration = Duration::from_millis(100);

/// Whether the runtime image of `lang` has `start.sh --compile`.
pub fn has_compile_mode(lang: Lang) -> bool {
    matches!(lang, Lang::Go | Lang::Rs | Lang::Cs)
}

/// How a compile job ended.
#[derive(Debug)]
pub enum Compiled {
    /// The compiled package (a tar of the output directory).
    Package(Vec<u8>),
    /// The compiler refused the code (or ran out of time or memory): its output.
    Failed(String),
}

/// Why a compile job could not be run (it is left to be offered again).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("runtime {0} is not on this node")]
    NoImage(String),
    #[error(transparent)]
    Artifact(#[from] super::artifact::ArtifactError),
    #[error(transparent)]
    Engine(#[from] super::engine::EngineError),
    #[error("output directory: {0}")]
    Io(#[from] std::io::Error),
}

impl<E: ContainerEngine> Executor<E> {
    /// Runs `job` and answers the dispatcher; failures to run it are logged once here.
    pub(super) async fn compile(&self, job: CompileJob) {
        let span = info_span!("compile", build.id = %job.build_id, lang = job.lang.code());
        async {
            let started = Instant::now();
            let answer = match self.compile_package(&job).await {
                Ok(Compiled::Package(tar)) => {
                    info!(bytes = tar.len(), duration_ms = started.elapsed().as_millis() as u64, "compiled");
                    self.artifacts.upload_compiled(&job.build_id, tar).await
                }
                Ok(Compiled::Failed(log)) => {
                    info!(duration_ms = started.elapsed().as_millis() as u64, "the code does not compile");
                    self.artifacts.report_compile_failure(&job.build_id, &log).await
                }
                Err(error) => {
                    warn!(%error, "could not run the compile job; the dispatcher will offer it again");
                    return;
                }
            };
            if let Err(error) = answer {
                warn!(%error, "could not answer the compile job");
            }
        }
        .instrument(span)
        .await
    }

    /// Compiles the job's source package into a compiled package.
    pub async fn compile_package(&self, job: &CompileJob) -> Result<Compiled, CompileError> {
        let image = self
            .settings
            .runtime_images
            .get(&job.lang)
            .filter(|_| has_compile_mode(job.lang))
            .ok_or_else(|| CompileError::NoImage(job.lang.lowercase().to_owned()))?
            .clone();
        let code_dir = self.artifacts.code_dir(&job.source_sha256).await?;
        let out = self
            .settings
            .slots_dir
            .join(format!("compile-{}", job.build_id));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out)?;
        // The compiler runs as 65534 and writes here.
        set_mode(&out, 0o777)?;
        // The lease keeps the source in the cache until the compile ends.
        let result = self
            .run_compile(job, image, code_dir.path.clone(), &out)
            .await;
        drop(code_dir);
        let _ = std::fs::remove_dir_all(&out);
        result
    }

    async fn run_compile(
        &self,
        job: &CompileJob,
        image: String,
        code_dir: PathBuf,
        out: &Path,
    ) -> Result<Compiled, CompileError> {
        let spec = ContainerSpec {
            image,
            code_dir,
            memory_mb: job.limits.memory_mb.max(256),
            cpus: job.limits.cpus.max(1),
            pids_limit: 256,
            privileged: false,
            tmp_exec: true,
            network: "none".to_owned(),
            runtime: self.settings.oci_runtime.clone(),
            labels: HashMap::from([
                (LABEL_WORKER.to_owned(), self.settings.node_id.clone()),
                (LABEL_COMPILE.to_owned(), job.build_id.clone()),
            ]),
            env: Vec::new(),
            compile_out: Some(out.to_path_buf()),
        };
        let id = self.engine.create(&spec).await?;
        let ended = self.wait_compile(&id, job.limits.time_s).await;
        if let Err(error) = self.engine.remove(&id).await {
            warn!(container.id = %short(&id), %error, "could not remove the compile container");
        }
        let exit = match ended? {
            Some(exit) => exit,
            None => {
                return Ok(Compiled::Failed(format!(
                    "the compiler did not finish within {} s",
                    job.limits.time_s
                )))
            }
        };
        if exit.code == 0 && out.join(".canopy/compiled").is_file() {
            return Ok(Compiled::Package(pack(out)?));
        }
        let log = std::fs::read(out.join(".canopy/build.log")).unwrap_or_default();
        let mut log = tail(&String::from_utf8_lossy(&log), MAX_LOG_BYTES);
        if exit.oom_killed {
            log.push_str(&format!(
                "\nthe compiler ran out of memory ({} MB)",
                spec.memory_mb
            ));
        } else if log.trim().is_empty() {
            log = format!("the compiler exited with code {}", exit.code);
        }
        Ok(Compiled::Failed(log))
    }

    /// Starts the container and waits for its end; `None` when `time_s` ran out first.
    async fn wait_compile(
        &self,
        id: &str,
        time_s: u32,
    ) -> Result<Option<super::engine::Exit>, CompileError> {
        self.engine.start(id).await?;
        let deadline = Instant::now() + Duration::from_secs(u64::from(time_s.max(1)));
        while Instant::now() < deadline {
            if let Some(exit) = self.engine.exit(id).await? {
                return Ok(Some(exit));
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(None)
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// The output directory as a tar (relative paths, regular files and directories only).
fn pack(out: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", out)?;
    builder.into_inner()
}

/// The last `max` bytes of `text`, cut at a character boundary.
pub fn tail(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::docker::container_body;

    #[test]
    fn a_compile_container_has_no_network_a_writable_out_and_every_limit() {
        let spec = ContainerSpec {
            image: "canopy-runtime-go:1".to_owned(),
            code_dir: PathBuf::from("/cache/code/abc"),
            memory_mb: 1024,
            cpus: 1,
            pids_limit: 256,
            privileged: false,
            tmp_exec: true,
            network: "canopy-net".to_owned(),
            runtime: None,
            labels: HashMap::new(),
            env: Vec::new(),
            compile_out: Some(PathBuf::from("/cache/slots/compile-b")),
        };
        let body = container_body(&spec);
        assert_eq!(
            body.cmd,
            Some(
                ["/bin/sh", "/opt/canopy/start.sh", "--compile", "/out"]
                    .map(str::to_owned)
                    .to_vec()
            )
        );
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
        let host = body.host_config.expect("host config");
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(
            host.binds,
            Some(vec![
                "/cache/code/abc:/app:ro".to_owned(),
                "/cache/slots/compile-b:/out:rw".to_owned()
            ])
        );
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.memory, Some(1024 * 1024 * 1024));
        assert_eq!(host.pids_limit, Some(256));
        assert_eq!(host.nano_cpus, Some(1_000_000_000));
    }

    #[test]
    fn tail_keeps_the_end_within_the_bound_on_a_char_boundary() {
        let text = format!("{}é end", "a".repeat(10));
        assert_eq!(tail(&text, 5), " end");
        assert_eq!(tail(&text, 6), "é end");
        assert_eq!(tail("short", 100), "short");
    }
}
