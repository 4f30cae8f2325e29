//! The volunteer's settings: the `[volunteer]` and `[power]` tables of the config file and the
//! flags that override them, resolved into [`VolunteerSettings`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::hours::ActiveHours;
use super::monitor::Conditions;
use super::power::PowerModel;

/// Default share of the host's CPU that other processes may use while `--idle-only` still
/// counts the machine as idle, percent.
pub const DEFAULT_IDLE_LOAD_PERCENT: u8 = 25;
/// Default bound on a pause before running tasks are handed back.
pub const DEFAULT_PAUSE_HANDBACK_SECS: u64 = 600;

/// The `[volunteer]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolunteerFile {
    pub cpu_cap_percent: Option<u32>,
    pub memory_cap_mb: Option<u32>,
    pub active_hours: Option<String>,
    pub idle_only: Option<bool>,
    pub idle_load_percent: Option<u8>,
    pub not_on_battery: Option<bool>,
    pub pause_file: Option<PathBuf>,
    pub pause_handback_secs: Option<u64>,
}

/// The `[power]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerFile {
    pub watts_per_core: Option<f64>,
    pub idle_watts: Option<f64>,
}

/// Volunteer controls and the power model on the command line (each also reads its
/// `CANOPY_WORKER_…` variable).
#[derive(Debug, Clone, Default, Args)]
pub struct VolunteerFlags {
    /// Most CPU all task containers may use together, percent of this machine's CPUs
    /// (enforced by the kernel on their parent cgroup).
    #[arg(long, env = "CANOPY_WORKER_CPU_CAP_PERCENT")]
    pub cpu_cap_percent: Option<u32>,
    /// Most memory all task containers may use together, MB (their parent cgroup's limit).
    #[arg(long, env = "CANOPY_WORKER_MEMORY_CAP_MB")]
    pub memory_cap_mb: Option<u32>,
    /// When tasks may run, local time, e.g. "Mon-Fri 09:00-17:00,Sat 10:00-12:00".
    #[arg(long, env = "CANOPY_WORKER_ACTIVE_HOURS")]
    pub active_hours: Option<String>,
    /// Run tasks only while the machine is idle: no active user session (logind's idle hint)
    /// and other processes' CPU below --idle-load-percent.
    #[arg(long, env = "CANOPY_WORKER_IDLE_ONLY", num_args = 0..=1, default_missing_value = "true")]
    pub idle_only: Option<bool>,
    /// CPU other processes may use while the machine still counts as idle, percent (default 25).
    #[arg(long, env = "CANOPY_WORKER_IDLE_LOAD_PERCENT")]
    pub idle_load_percent: Option<u8>,
    /// Pause while the machine runs on battery.
    #[arg(long, env = "CANOPY_WORKER_NOT_ON_BATTERY", num_args = 0..=1, default_missing_value = "true")]
    pub not_on_battery: Option<bool>,
    /// Pause while this file exists (for scripts: `touch` to pause, `rm` to resume).
    #[arg(long, env = "CANOPY_WORKER_PAUSE_FILE")]
    pub pause_file: Option<PathBuf>,
    /// Seconds a pause may last before running tasks are handed back to the dispatcher
    /// (default 600).
    #[arg(long, env = "CANOPY_WORKER_PAUSE_HANDBACK_SECS")]
    pub pause_handback_secs: Option<u64>,
    /// Power model: watts one fully busy core draws above idle (default 12).
    #[arg(long, env = "CANOPY_WORKER_WATTS_PER_CORE")]
    pub watts_per_core: Option<f64>,
    /// Power model: watts the whole machine draws idle (default 30).
    #[arg(long, env = "CANOPY_WORKER_IDLE_WATTS")]
    pub idle_watts: Option<f64>,
}

/// The resolved volunteer controls.
#[derive(Debug, Clone, PartialEq)]
pub struct VolunteerSettings {
    /// Percent of the host's CPUs all task containers may use together.
    pub cpu_cap_percent: Option<u32>,
    /// MB all task containers may use together.
    pub memory_cap_mb: Option<u32>,
    /// When the worker may pull and run tasks.
    pub conditions: Conditions,
    /// How long a pause may last before running tasks are handed back.
    pub pause_handback: Duration,
    pub power: PowerModel,
}

impl VolunteerSettings {
    /// Defaults ← file ← flags, validated.
    pub fn resolve(
        flags: &VolunteerFlags,
        file: VolunteerFile,
        power: PowerFile,
    ) -> Result<Self, String> {
        let cpu_cap_percent = flags.cpu_cap_percent.or(file.cpu_cap_percent);
        if let Some(cap) = cpu_cap_percent {
            if !(1..=100).contains(&cap) {
                return Err(format!("cpu cap {cap} % is not between 1 and 100"));
            }
        }
        let memory_cap_mb = flags.memory_cap_mb.or(file.memory_cap_mb);
        if memory_cap_mb.is_some_and(|mb| mb < 64) {
            return Err("memory cap must be at least 64 MB".into());
        }
        let active_hours = flags
            .active_hours
            .clone()
            .or(file.active_hours)
            .map(|text| text.parse::<ActiveHours>())
            .transpose()
            .map_err(|error| error.to_string())?;
        let idle_load_percent = flags
            .idle_load_percent
            .or(file.idle_load_percent)
            .unwrap_or(DEFAULT_IDLE_LOAD_PERCENT);
        if !(1..=100).contains(&idle_load_percent) {
            return Err(format!(
                "idle load {idle_load_percent} % is not between 1 and 100"
            ));
        }
        let model = PowerModel::default();
        let power = PowerModel {
            watts_per_core: flags
                .watts_per_core
                .or(power.watts_per_core)
                .unwrap_or(model.watts_per_core),
            idle_watts: flags
                .idle_watts
                .or(power.idle_watts)
                .unwrap_or(model.idle_watts),
        };
        for (name, watts) in [
            ("watts per core", power.watts_per_core),
            ("idle watts", power.idle_watts),
        ] {
            if !(0.0..=10_000.0).contains(&watts) {
                return Err(format!("{name} {watts} is not between 0 and 10000"));
            }
        }
        Ok(VolunteerSettings {
            cpu_cap_percent,
            memory_cap_mb,
            conditions: Conditions {
                active_hours,
                idle_only: flags.idle_only.or(file.idle_only).unwrap_or(false),
                idle_load_percent,
                not_on_battery: flags
                    .not_on_battery
                    .or(file.not_on_battery)
                    .unwrap_or(false),
                pause_file: flags.pause_file.clone().or(file.pause_file),
            },
            pause_handback: Duration::from_secs(
                flags
                    .pause_handback_secs
                    .or(file.pause_handback_secs)
                    .unwrap_or(DEFAULT_PAUSE_HANDBACK_SECS),
            ),
            power,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let file: VolunteerFile = toml::from_str(
            "cpu_cap_percent = 30\nactive_hours = \"Sat-Sun\"\nidle_only = true\npause_handback_secs = 60",
        )
        .expect("toml");
        let flags = VolunteerFlags {
            cpu_cap_percent: Some(50),
            watts_per_core: Some(8.0),
            ..Default::default()
        };
        let settings =
            VolunteerSettings::resolve(&flags, file, PowerFile::default()).expect("valid");
        assert_eq!(settings.cpu_cap_percent, Some(50));
        assert_eq!(settings.memory_cap_mb, None);
        assert!(settings.conditions.idle_only);
        assert_eq!(
            settings.conditions.idle_load_percent,
            DEFAULT_IDLE_LOAD_PERCENT
        );
        assert_eq!(
            settings.conditions.active_hours.map(|h| h.to_string()),
            Some("Sat-Sun".into())
        );
        assert_eq!(settings.pause_handback, Duration::from_secs(60));
        assert_eq!(settings.power.watts_per_core, 8.0);
        assert_eq!(settings.power.idle_watts, PowerModel::default().idle_watts);
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let cases: [(VolunteerFlags, &str); 6] = [
            (
                VolunteerFlags {
                    cpu_cap_percent: Some(0),
                    ..Default::default()
                },
                "cpu cap 0 % is not between 1 and 100",
            ),
            (
                VolunteerFlags {
                    cpu_cap_percent: Some(101),
                    ..Default::default()
                },
                "cpu cap 101 %",
            ),
            (
                VolunteerFlags {
                    memory_cap_mb: Some(10),
                    ..Default::default()
                },
                "memory cap must be at least 64 MB",
            ),
            (
                VolunteerFlags {
                    active_hours: Some("Mon 9-5".into()),
                    ..Default::default()
                },
                "active hours `Mon 9-5`",
            ),
            (
                VolunteerFlags {
                    idle_load_percent: Some(0),
                    ..Default::default()
                },
                "idle load 0 %",
            ),
            (
                VolunteerFlags {
                    idle_watts: Some(-1.0),
                    ..Default::default()
                },
                "idle watts -1 is not between 0 and 10000",
            ),
        ];
        for (flags, message) in cases {
            let error =
                VolunteerSettings::resolve(&flags, VolunteerFile::default(), PowerFile::default())
                    .expect_err(message);
            assert!(error.contains(message), "{error}");
        }
        let unknown = toml::from_str::<VolunteerFile>("cpu_cap = 5");
        assert!(unknown.is_err(), "a misspelt key is refused");
    }
}
