//! The real [`Probe`]: the wall clock, `/proc/stat` less this worker's containers (other
//! processes' load), logind's idle hint (user activity), `/sys/class/power_supply` (battery)
//! and the pause file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cgroup::TaskCgroup;
use super::monitor::{Conditions, Probe, Readings};

/// How long logind's answer is reused (asking costs two process spawns).
const USER_CHECK_EVERY: Duration = Duration::from_secs(5);
/// `/proc/stat` counts in USER_HZ, 100 on every Linux the worker supports.
const CLOCK_TICKS: f64 = 100.0;

/// Reads this host.
pub struct HostProbe {
    cgroup: Option<Arc<TaskCgroup>>,
    proc_stat: PathBuf,
    power_supply: PathBuf,
    /// Host busy and total CPU seconds, and the containers' CPU seconds, at the last reading.
    last: Option<(f64, f64, f64)>,
    user: Option<(Instant, Option<bool>)>,
}

impl HostProbe {
    /// A probe of this host; `cgroup` is where the task containers run (their CPU is not
    /// "other processes").
    pub fn new(cgroup: Option<Arc<TaskCgroup>>) -> Self {
        HostProbe {
            cgroup,
            proc_stat: "/proc/stat".into(),
            power_supply: "/sys/class/power_supply".into(),
            last: None,
            user: None,
        }
    }

    fn other_load(&mut self) -> Option<u8> {
        let (busy, total) = host_cpu_seconds(&self.proc_stat)?;
        let own = self
            .cgroup
            .as_ref()
            .and_then(|cgroup| cgroup.parent_cpu_seconds())
            .unwrap_or(0.0);
        let previous = self.last.replace((busy, total, own));
        let (busy0, total0, own0) = previous?;
        let elapsed = total - total0;
        if elapsed <= 0.0 {
            return None;
        }
        let other = ((busy - busy0) - (own - own0)).max(0.0);
        Some((other / elapsed * 100.0).round().clamp(0.0, 100.0) as u8)
    }

    fn user_active(&mut self) -> Option<bool> {
        if let Some((at, answer)) = self.user {
            if at.elapsed() < USER_CHECK_EVERY {
                return answer;
            }
        }
        let answer = logind_user_active();
        self.user = Some((Instant::now(), answer));
        answer
    }
}

impl Probe for HostProbe {
    fn read(&mut self, conditions: &Conditions) -> Readings {
        Readings {
            local: chrono::Local::now().naive_local(),
            other_load_percent: if conditions.idle_only {
                self.other_load()
            } else {
                None
            },
            user_active: if conditions.idle_only {
                self.user_active()
            } else {
                None
            },
            on_battery: conditions.not_on_battery && on_battery(&self.power_supply),
            pause_file_present: conditions
                .pause_file
                .as_deref()
                .is_some_and(|path| path.exists()),
        }
    }
}

/// Busy and total CPU seconds of the whole host since boot (`cpu` line of `/proc/stat`).
pub(super) fn host_cpu_seconds(proc_stat: &Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(proc_stat).ok()?;
    let line = text.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let get = |index: usize| fields.get(index).copied().unwrap_or(0.0);
    let idle = get(3) + get(4);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    Some((busy / CLOCK_TICKS, (busy + idle) / CLOCK_TICKS))
}

/// Whether the machine runs on battery: a battery discharging and no mains supply online. A
/// machine without power supplies listed (desktops, servers, VMs) is on mains.
pub fn on_battery(power_supply: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(power_supply) else {
        return false;
    };
    let read = |dir: &Path, name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map(|text| text.trim().to_owned())
            .unwrap_or_default()
    };
    let (mut discharging, mut mains) = (false, false);
    for entry in entries.flatten() {
        let dir = entry.path();
        match read(&dir, "type").as_str() {
            "Battery" => discharging |= read(&dir, "status") == "Discharging",
            "Mains" | "USB" => mains |= read(&dir, "online") == "1",
            _ => {}
        }
    }
    discharging && !mains
}

/// Whether a user session is active and not idle, by logind (`loginctl`): `None` when logind
/// is not there or has no user session (a headless machine: nobody to disturb).
pub fn logind_user_active() -> Option<bool> {
    let list = Command::new("loginctl")
        .args(["list-sessions", "--no-legend"])
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    let mut seen = false;
    for id in String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
    {
        let Ok(show) = Command::new("loginctl")
            .args([
                "show-session",
                &id,
                "-p",
                "Class",
                "-p",
                "Active",
                "-p",
                "IdleHint",
            ])
            .output()
        else {
            continue;
        };
        let text = String::from_utf8_lossy(&show.stdout);
        let has = |pair: &str| text.lines().any(|line| line.trim() == pair);
        if !has("Class=user") {
            continue;
        }
        seen = true;
        if has("Active=yes") && has("IdleHint=no") {
            return Some(true);
        }
    }
    seen.then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discharging_battery_without_mains_is_battery() {
        let dir = tempfile::tempdir().expect("dir");
        let supply = |name: &str, files: &[(&str, &str)]| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(&path).expect("dir");
            for (file, value) in files {
                std::fs::write(path.join(file), format!("{value}\n")).expect("write");
            }
        };
        assert!(!on_battery(dir.path()), "nothing listed: mains");
        assert!(!on_battery(&dir.path().join("missing")));
        supply("BAT0", &[("type", "Battery"), ("status", "Discharging")]);
        assert!(on_battery(dir.path()));
        supply("AC", &[("type", "Mains"), ("online", "1")]);
        assert!(!on_battery(dir.path()), "plugged in");
        supply("AC", &[("type", "Mains"), ("online", "0")]);
        assert!(on_battery(dir.path()));
        supply("BAT0", &[("type", "Battery"), ("status", "Charging")]);
        assert!(!on_battery(dir.path()));
    }

    #[test]
    fn other_load_is_the_host_load_less_the_containers() {
        let dir = tempfile::tempdir().expect("dir");
        let stat = dir.path().join("stat");
        let mut probe = HostProbe::new(None);
        probe.proc_stat = stat.clone();
        std::fs::write(&stat, "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 1 1 1\n").expect("write");
        assert_eq!(probe.other_load(), None, "one reading is not a rate");
        // 100 busy of 400 ticks since: 25 %.
        std::fs::write(&stat, "cpu  150 0 150 1100 0 0 0 0 0 0\n").expect("write");
        assert_eq!(probe.other_load(), Some(25));
        assert_eq!(host_cpu_seconds(&stat), Some((3.0, 14.0)));
    }
}
