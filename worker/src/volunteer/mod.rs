//! Volunteer controls: caps over all task containers (one parent cgroup), the conditions under
//! which the machine works (active hours, idle only, not on battery, a pause file), and the
//! energy each attempt used (`docs/volunteer.md`, `docs/energy.md`).

pub mod cgroup;
pub mod hours;
pub mod monitor;
pub mod power;
pub mod probes;
pub mod settings;

use std::sync::Arc;

pub use monitor::Gate;
pub use settings::{VolunteerFlags, VolunteerSettings};

use cgroup::TaskCgroup;
use power::{EnergyMeter, Mark};

/// How the executor measures an attempt: CPU time from the container's cgroup, energy from
/// the meter.
#[derive(Debug, Clone)]
pub struct Accounting {
    pub cgroup: Option<Arc<TaskCgroup>>,
    pub meter: EnergyMeter,
    pub host_cpus: u32,
}

impl Accounting {
    /// The container's CPU seconds so far (`None` when unreadable) and the meter's readings.
    pub fn start(&self, container_id: &str) -> (Option<f64>, Mark) {
        let cpu = self
            .cgroup
            .as_ref()
            .and_then(|cgroup| cgroup.container_cpu_seconds(container_id));
        (cpu, self.meter.mark())
    }

    /// The attempt's usage since `start`, for a container limited to `cpus` CPUs.
    pub fn finish(
        &self,
        container_id: &str,
        (before, mark): &(Option<f64>, Mark),
        cpus: u32,
    ) -> Option<canopy_shared::protocol::Usage> {
        let after = self
            .cgroup
            .as_ref()
            .and_then(|cgroup| cgroup.container_cpu_seconds(container_id))?;
        let cpu_seconds = (after - (*before)?).max(0.0);
        let share = f64::from(cpus) / f64::from(self.host_cpus.max(1));
        Some(canopy_shared::protocol::Usage {
            cpu_seconds,
            energy_wh: self.meter.energy_wh(mark, cpu_seconds, share),
        })
    }
}

/// Starts the condition monitor when any condition is set; the returned gate stays open
/// otherwise.
pub fn start_monitor(
    settings: &VolunteerSettings,
    cgroup: Option<Arc<TaskCgroup>>,
    cancel: tokio_util::sync::CancellationToken,
) -> tokio::sync::watch::Receiver<Gate> {
    if !settings.conditions.any() {
        return tokio::sync::watch::channel(Gate::Open).1;
    }
    let probe = probes::HostProbe::new(cgroup);
    let (mut monitor, gate) = monitor::Monitor::new(settings.conditions.clone(), probe);
    // Decide before the first connection, so a worker started outside its hours never pulls.
    monitor.run_once();
    tokio::spawn(monitor.run(cancel));
    gate
}

/// The task containers' parent cgroup for Docker's `driver`, with the caps set. A cap that
/// cannot be set is an error (the volunteer asked for it); without caps a failure only loses
/// the grouping's limits, not the accounting, and is logged.
pub fn prepare_cgroup(
    settings: &VolunteerSettings,
    driver: &str,
    node_id: &str,
    host_cpus: u32,
) -> anyhow::Result<TaskCgroup> {
    let driver = if driver == "systemd" {
        cgroup::Driver::Systemd
    } else {
        cgroup::Driver::Cgroupfs
    };
    let cgroup = TaskCgroup::detect(std::path::Path::new("/sys/fs/cgroup"), driver, node_id);
    let caps = cgroup::Caps {
        cpu_percent: settings.cpu_cap_percent,
        host_cpus,
        memory_mb: settings.memory_cap_mb,
    };
    match cgroup.apply(&caps) {
        Ok(()) => {}
        Err(error) if caps.cpu_percent.is_none() && caps.memory_mb.is_none() => {
            tracing::warn!(%error, "cannot prepare the task containers' parent cgroup");
        }
        Err(error) => anyhow::bail!(
            "cannot set the CPU/memory cap on {}: {error}; run the worker as root, or drop --cpu-cap-percent/--memory-cap-mb",
            cgroup.describe()
        ),
    }
    tracing::info!(
        cgroup = %cgroup.describe(),
        cpu_cap_percent = ?caps.cpu_percent,
        memory_cap_mb = ?caps.memory_mb,
        "task containers' parent cgroup ready"
    );
    Ok(cgroup)
}
