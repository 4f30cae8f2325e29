//! Energy per attempt: the attempt's CPU time through the node's power model, or its share of
//! the package energy that RAPL measured meanwhile when `/sys/class/powercap` is readable
//! (`docs/energy.md` explains the attribution).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::probes::host_cpu_seconds;

/// Watts per busy core and idle watts of the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerModel {
    /// Power one fully busy core adds above idle, W.
    pub watts_per_core: f64,
    /// Power the whole machine draws idle, W.
    pub idle_watts: f64,
}

impl Default for PowerModel {
    /// A typical desktop: about 30 W idle, and a 65 W, 6-core processor adding about 12 W per
    /// busy core.
    fn default() -> Self {
        PowerModel {
            watts_per_core: 12.0,
            idle_watts: 30.0,
        }
    }
}

impl PowerModel {
    /// Wh of an attempt: its CPU seconds at `watts_per_core`, plus the idle draw of the part
    /// of the machine it held (`share` of the host, e.g. 1 CPU of 4 = 0.25) for `wall_seconds`.
    pub fn energy_wh(&self, cpu_seconds: f64, wall_seconds: f64, share: f64) -> f64 {
        let joules = cpu_seconds.max(0.0) * self.watts_per_core
            + wall_seconds.max(0.0) * share.clamp(0.0, 1.0) * self.idle_watts;
        joules / 3600.0
    }
}

/// The package energy counters of RAPL (`intel-rapl:N/energy_uj`).
#[derive(Debug, Clone)]
struct Rapl {
    /// (counter, wrap-around range) of each package.
    packages: Vec<(PathBuf, u64)>,
}

impl Rapl {
    fn detect(powercap: &Path) -> Option<Self> {
        let packages: Vec<(PathBuf, u64)> = std::fs::read_dir(powercap)
            .ok()?
            .flatten()
            .map(|entry| entry.path())
            .filter(|dir| {
                dir.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| {
                        name.starts_with("intel-rapl:") && !name[11..].contains(':')
                    })
            })
            .filter_map(|dir| {
                let counter = dir.join("energy_uj");
                read_u64(&counter)?;
                let range = read_u64(&dir.join("max_energy_range_uj")).unwrap_or(u64::MAX);
                Some((counter, range))
            })
            .collect();
        (!packages.is_empty()).then_some(Rapl { packages })
    }

    fn read(&self) -> Option<Vec<u64>> {
        self.packages
            .iter()
            .map(|(counter, _)| read_u64(counter))
            .collect()
    }

    /// Joules between two readings, across a counter wrap.
    fn joules(&self, before: &[u64], after: &[u64]) -> f64 {
        let micro: u64 = self
            .packages
            .iter()
            .zip(before.iter().zip(after))
            .map(|((_, range), (b, a))| if a >= b { a - b } else { range - b + a })
            .sum();
        micro as f64 / 1e6
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Where the energy figures come from.
#[derive(Debug, Clone)]
pub struct EnergyMeter {
    model: PowerModel,
    rapl: Option<Rapl>,
    proc_stat: PathBuf,
}

/// Readings at the start of an attempt.
#[derive(Debug, Clone)]
pub struct Mark {
    at: Instant,
    rapl: Option<Vec<u64>>,
    host_busy_seconds: Option<f64>,
}

impl EnergyMeter {
    /// RAPL under `powercap` (`/sys/class/powercap`) when its counters are readable, else the
    /// model alone.
    pub fn detect(powercap: &Path, model: PowerModel) -> Self {
        EnergyMeter {
            model,
            rapl: Rapl::detect(powercap),
            proc_stat: "/proc/stat".into(),
        }
    }

    /// `RAPL (…)` or `power model (…)`, for logs and doctor.
    pub fn source(&self) -> String {
        match &self.rapl {
            Some(rapl) => format!("RAPL ({} package counters)", rapl.packages.len()),
            None => format!(
                "power model ({} W per busy core, {} W idle)",
                self.model.watts_per_core, self.model.idle_watts
            ),
        }
    }

    /// Readings before an attempt runs.
    pub fn mark(&self) -> Mark {
        Mark {
            at: Instant::now(),
            rapl: self.rapl.as_ref().and_then(Rapl::read),
            host_busy_seconds: self
                .rapl
                .as_ref()
                .and_then(|_| host_cpu_seconds(&self.proc_stat))
                .map(|(busy, _)| busy),
        }
    }

    /// Wh of an attempt that used `cpu_seconds` since `mark` and held `share` of the host.
    /// With RAPL: the package energy meanwhile, in the proportion of the host's busy CPU time
    /// that was the attempt's; otherwise the power model.
    pub fn energy_wh(&self, mark: &Mark, cpu_seconds: f64, share: f64) -> f64 {
        let wall = mark.at.elapsed().as_secs_f64();
        let measured = (|| {
            let rapl = self.rapl.as_ref()?;
            let (before, after) = (mark.rapl.as_ref()?, rapl.read()?);
            let (busy_before, busy_after) = (
                mark.host_busy_seconds?,
                host_cpu_seconds(&self.proc_stat)?.0,
            );
            let busy = (busy_after - busy_before).max(cpu_seconds);
            let fraction = if busy > 0.0 { cpu_seconds / busy } else { 0.0 };
            Some(rapl.joules(before, &after) * fraction / 3600.0)
        })();
        measured.unwrap_or_else(|| self.model.energy_wh(cpu_seconds, wall, share))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_counts_busy_cores_and_a_share_of_idle() {
        let model = PowerModel {
            watts_per_core: 10.0,
            idle_watts: 40.0,
        };
        // 36 CPU-seconds at 10 W = 0.1 Wh; 90 s holding a quarter of a 40 W idle draw = 0.25 Wh.
        assert!((model.energy_wh(36.0, 90.0, 0.25) - 0.35).abs() < 1e-9);
        assert_eq!(model.energy_wh(0.0, 0.0, 1.0), 0.0);
        assert!(model.energy_wh(-1.0, 10.0, 5.0) <= 40.0 * 10.0 / 3600.0 + 1e-9);
    }

    #[test]
    fn rapl_counters_are_found_and_wrap_around() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(Rapl::detect(dir.path()).is_none(), "no counters: the model");
        let package = dir.path().join("intel-rapl:0");
        std::fs::create_dir_all(package.join("intel-rapl:0:0")).expect("dirs");
        std::fs::write(package.join("energy_uj"), "900\n").expect("w");
        std::fs::write(package.join("max_energy_range_uj"), "1000\n").expect("w");
        // A sub-zone is not a package.
        std::fs::create_dir_all(dir.path().join("intel-rapl:0:0")).expect("dirs");
        std::fs::write(dir.path().join("intel-rapl:0:0/energy_uj"), "5").expect("w");
        let rapl = Rapl::detect(dir.path()).expect("found");
        assert_eq!(rapl.packages.len(), 1);
        assert_eq!(rapl.read(), Some(vec![900]));
        assert!((rapl.joules(&[900], &[100]) - 200e-6).abs() < 1e-12);
        let meter = EnergyMeter::detect(dir.path(), PowerModel::default());
        assert!(meter.source().starts_with("RAPL"));
        let none = EnergyMeter::detect(&dir.path().join("none"), PowerModel::default());
        assert_eq!(none.source(), "power model (12 W per busy core, 30 W idle)");
    }
}
