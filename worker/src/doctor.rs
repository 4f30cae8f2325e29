//! `canopy-worker doctor`: checks what the worker needs and says how to fix each problem.

use std::time::Duration;

use canopy_shared::Lang;

use crate::config::{ExecutorKind, WorkerConfig};
use crate::executor::docker::DockerEngine;
use crate::executor::engine::ContainerEngine;
use crate::executor::firewall::{self, BRIDGE_NAME};

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub what: String,
    /// What to do when the check failed.
    pub fix: Option<String>,
}

impl Check {
    fn pass(what: impl Into<String>) -> Self {
        Check {
            ok: true,
            what: what.into(),
            fix: None,
        }
    }

    fn fail(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            ok: false,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }

    /// `✓ …` or `✗ … → fix`.
    pub fn line(&self) -> String {
        match &self.fix {
            None => format!("✓ {}", self.what),
            Some(fix) => format!("✗ {}\n    fix: {fix}", self.what),
        }
    }
}

/// The build command for a language's runtime image (`runtimes/<target>/` holds its Dockerfile too).
pub fn image_fix(lang: Lang) -> String {
    let target = match lang {
        Lang::Go => "go",
        Lang::Py => "python",
        Lang::Js => "node",
        Lang::Cs => "csharp",
        Lang::Rb => "ruby",
        Lang::Rs => "rust",
    };
    format!("run runtimes/build-offline.sh {target}")
}

/// Runs every check.
pub async fn checks(config: &WorkerConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(match config.credentials() {
        Ok((node_id, _)) => Check::pass(format!(
            "registered as node {node_id} ({})",
            config.config_path.display()
        )),
        Err(_) => Check::fail(
            format!("no node token in {}", config.config_path.display()),
            "run canopy-worker register --dispatcher URL --api-key KEY",
        ),
    });
    match config.executor {
        ExecutorKind::Docker => checks.extend(docker_checks(config).await),
        ExecutorKind::Noop => checks.push(Check::pass(
            "Docker checks skipped for the noop executor (no Docker, runtime image or firewall rule is needed)",
        )),
    }
    if config.dispatchers.is_empty() {
        checks.push(Check::fail(
            "no dispatcher URL is configured",
            "run canopy-worker register --dispatcher URL --api-key KEY (or pass --dispatcher URL)",
        ));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build();
    for base in &config.dispatchers {
        let url = format!("{base}/healthz");
        let answer = match &http {
            Ok(http) => http.get(&url).send().await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        checks.push(match answer {
            Ok(response) if response.status().is_success() => Check::pass(format!("dispatcher {base} is reachable")),
            Ok(response) => Check::fail(
                format!("dispatcher {base} answered {} on /healthz", response.status()),
                "check the dispatcher's logs; it is up but not healthy",
            ),
            Err(error) => Check::fail(
                format!("dispatcher {base} is not reachable: {error}"),
                "check the URL (canopy-worker register --force --dispatcher URL …) and that the dispatcher runs",
            ),
        });
    }
    checks
}

/// Docker reachable, each runtime image present, the host firewall rule in place.
async fn docker_checks(config: &WorkerConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    match DockerEngine::connect(config.docker_host.as_deref()).await {
        Err(error) => checks.push(Check::fail(
            format!("Docker is not reachable: {error}"),
            "run scripts/ensure-docker (or start Docker and make its socket accessible to this user)",
        )),
        Ok(engine) => {
            checks.push(Check::pass("Docker is reachable"));
            for lang in Lang::ALL {
                let Some(image) = config.runtime_images.get(&lang) else { continue };
                checks.push(match engine.image_exists(image).await {
                    Ok(true) => Check::pass(format!("runtime image {image} ({}) is present", lang.lowercase())),
                    Ok(false) => Check::fail(format!("runtime image {image} ({}) is missing", lang.lowercase()), image_fix(lang)),
                    Err(error) => Check::fail(format!("cannot inspect {image}: {error}"), "run scripts/ensure-docker"),
                });
            }
        }
    }
    checks.push(match firewall::rule_present().await {
        Ok(true) => Check::pass(format!("containers on {BRIDGE_NAME} cannot open connections to this host")),
        Ok(false) => Check::fail(
            format!("containers on {BRIDGE_NAME} could reach services on this host (the iptables rule is missing)"),
            format!("start canopy-worker run as root once, or {}", firewall::manual_fix()),
        ),
        Err(error) => Check::fail(error.to_string(), firewall::manual_fix()),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_checks_print_their_fix() {
        let check = Check::fail("runtime image x is missing", image_fix(Lang::Py));
        assert_eq!(
            check.line(),
            "✗ runtime image x is missing\n    fix: run runtimes/build-offline.sh python"
        );
        assert_eq!(image_fix(Lang::Cs), "run runtimes/build-offline.sh csharp");
        assert_eq!(image_fix(Lang::Rs), "run runtimes/build-offline.sh rust");
        assert_eq!(
            Check::pass("Docker is reachable").line(),
            "✓ Docker is reachable"
        );
    }

    #[tokio::test]
    async fn the_noop_executor_skips_the_docker_checks() {
        let config = WorkerConfig::resolve(
            "w.toml".into(),
            crate::config::FileConfig::default(),
            &crate::cli::Overrides {
                executor: Some(ExecutorKind::Noop),
                ..Default::default()
            },
            crate::config::HostFacts {
                cpus: 1,
                total_memory_mb: 1000,
            },
        )
        .expect("valid");
        let lines: Vec<String> = checks(&config).await.iter().map(Check::line).collect();
        // Registration, the skipped Docker checks, the missing dispatcher: nothing about
        // Docker, images or the firewall is probed.
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[1].starts_with("✓ Docker checks skipped for the noop executor"),
            "{lines:?}"
        );
    }
}
