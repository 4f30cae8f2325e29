//! `canopy-worker doctor`: checks what the worker needs and says how to fix each problem.

use std::time::Duration;

use canopy_shared::Lang;

use crate::config::{ExecutorKind, WorkerConfig};
use crate::executor::docker::DockerEngine;
use crate::executor::engine::ContainerEngine;
use crate::executor::firewall::{self, BRIDGE_NAME};
use crate::volunteer::power::EnergyMeter;
use crate::volunteer::{cgroup, probes};

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
    checks.extend(volunteer_checks(config));
    checks.push(Check::pass(custom_images_line(config.allow_custom_images)));
    checks.push(artifact_cache_check(config));
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

/// Whether functions that bring their own image may run here (a setting, not a problem).
pub fn custom_images_line(allowed: bool) -> &'static str {
    if allowed {
        "custom images: allowed (--allow-custom-images); they run hardened and pinned by digest"
    } else {
        "custom images: not allowed (the default; --allow-custom-images to accept them)"
    }
}

/// The task containers' parent cgroup: version, driver, and whether the caps can be enforced.
fn cgroup_check(config: &WorkerConfig, driver: &str) -> Check {
    let settings = &config.volunteer;
    let node_id = config.node_id.as_deref().unwrap_or("unregistered");
    let driver_kind = if driver == "systemd" {
        cgroup::Driver::Systemd
    } else {
        cgroup::Driver::Cgroupfs
    };
    let cgroup =
        cgroup::TaskCgroup::detect(std::path::Path::new("/sys/fs/cgroup"), driver_kind, node_id);
    let caps = match (settings.cpu_cap_percent, settings.memory_cap_mb) {
        (None, None) => "no CPU or memory cap set".to_owned(),
        (cpu, memory) => format!(
            "CPU cap {}, memory cap {}",
            cpu.map_or("none".into(), |p| format!("{p} % of the host")),
            memory.map_or("none".into(), |mb| format!("{mb} MB"))
        ),
    };
    if cgroup.writable() {
        Check::pass(format!(
            "{}; {caps}: enforceable by the kernel",
            cgroup.describe()
        ))
    } else if settings.cpu_cap_percent.is_none() && settings.memory_cap_mb.is_none() {
        Check::pass(format!(
            "{}; {caps} (a cap could not be enforced: the hierarchy is not writable)",
            cgroup.describe()
        ))
    } else {
        Check::fail(
            format!("{}; {caps}: NOT enforceable (the cgroup hierarchy is not writable)", cgroup.describe()),
            "run the worker as root (or in a delegated cgroup), or drop --cpu-cap-percent/--memory-cap-mb",
        )
    }
}

/// The conditions in force and where energy figures come from.
fn volunteer_checks(config: &WorkerConfig) -> Vec<Check> {
    let settings = &config.volunteer;
    let conditions = &settings.conditions;
    let mut rules = Vec::new();
    if let Some(hours) = &conditions.active_hours {
        rules.push(format!("active hours {hours} (local time)"));
    }
    if conditions.idle_only {
        let user = match probes::logind_user_active() {
            Some(_) => "user activity from logind's idle hint",
            None => "no logind user session: user activity unknown, counted as idle",
        };
        rules.push(format!(
            "idle only (other processes below {} % CPU; {user})",
            conditions.idle_load_percent
        ));
    }
    if conditions.not_on_battery {
        let now = if probes::on_battery(std::path::Path::new("/sys/class/power_supply")) {
            "on battery now"
        } else {
            "on mains now"
        };
        rules.push(format!("not on battery ({now})"));
    }
    if let Some(path) = &conditions.pause_file {
        rules.push(format!("paused while {} exists", path.display()));
    }
    let rules = if rules.is_empty() {
        "none: always works".to_owned()
    } else {
        rules.join("; ")
    };
    let meter = EnergyMeter::detect(std::path::Path::new("/sys/class/powercap"), settings.power);
    let rapl = if meter.source().starts_with("RAPL") {
        ""
    } else {
        " (RAPL is not readable under /sys/class/powercap)"
    };
    vec![
        Check::pass(format!(
            "volunteer conditions: {rules}; running tasks handed back after a {} s pause",
            settings.pause_handback.as_secs()
        )),
        Check::pass(format!("energy per task from the {}{rapl}", meter.source())),
    ]
}

/// How much of its disk budget the code package cache takes.
fn artifact_cache_check(config: &WorkerConfig) -> Check {
    let usage = crate::executor::artifact_cache::Usage::default();
    match crate::executor::artifact_cache::scan(&config.cache_dir, &usage) {
        Ok(cached) => Check::pass(format!(
            "code package cache: {} packages, {} MB of {} MB (--artifact-cache-mb) in {}",
            cached.len(),
            cached.iter().map(|entry| entry.bytes).sum::<u64>() / (1024 * 1024),
            config.artifact_cache_mb,
            config.cache_dir.display()
        )),
        Err(error) => Check::fail(
            format!(
                "code package cache {} is unreadable: {error}",
                config.cache_dir.display()
            ),
            "check the permissions of --cache-dir",
        ),
    }
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
            let driver = engine.cgroup_driver().await.unwrap_or_else(|_| "cgroupfs".into());
            checks.push(cgroup_check(config, &driver));
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
        // Registration, the skipped Docker checks, the volunteer conditions and energy source,
        // the custom images setting, the code cache, the missing dispatcher: nothing about
        // Docker, images or the firewall is probed.
        assert_eq!(lines.len(), 7, "{lines:?}");
        assert_eq!(
            lines[4],
            "✓ custom images: not allowed (the default; --allow-custom-images to accept them)"
        );
        assert!(
            lines[5].contains("code package cache:") && lines[5].contains("of 2048 MB"),
            "{lines:?}"
        );
        assert!(lines[2].contains("volunteer conditions: none"), "{lines:?}");
        assert!(
            lines[3]
                .contains("energy per task from the power model (12 W per busy core, 30 W idle)"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("✓ Docker checks skipped for the noop executor"),
            "{lines:?}"
        );
    }
}
