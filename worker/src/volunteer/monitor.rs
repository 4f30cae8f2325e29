//! The condition monitor: every [`CHECK_EVERY`] it reads the machine (a [`Probe`]) and decides
//! whether the volunteer's conditions hold. The decision is published on a watch channel: the
//! connection stops pulling and tells the dispatcher, the executor freezes its containers.
//! Pausing is immediate; resuming waits until the conditions held for [`RESUME_AFTER_CHECKS`]
//! checks in a row, so a machine on the edge of a threshold does not flap.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::hours::ActiveHours;

/// How often the conditions are checked (the pause must follow a trigger within 2 s).
pub const CHECK_EVERY: Duration = Duration::from_millis(500);
/// Checks in a row that must pass before a paused worker resumes.
pub const RESUME_AFTER_CHECKS: u32 = 3;

/// When the volunteer lets the machine work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    pub active_hours: Option<ActiveHours>,
    /// Only while no user is active and other processes use little CPU.
    pub idle_only: bool,
    /// CPU other processes may use (percent of the host) while the machine counts as idle.
    pub idle_load_percent: u8,
    /// Not while on battery.
    pub not_on_battery: bool,
    /// Not while this file exists.
    pub pause_file: Option<PathBuf>,
}

/// What a probe saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Readings {
    /// The volunteer's wall clock.
    pub local: NaiveDateTime,
    /// CPU used by processes other than this worker's containers since the last reading,
    /// percent of the host; `None` until two readings exist.
    pub other_load_percent: Option<u8>,
    /// Whether a user is active (logind's idle hint); `None` when unknown (no session manager).
    pub user_active: Option<bool>,
    pub on_battery: bool,
    pub pause_file_present: bool,
}

/// Reads the machine; the real one is `probes::HostProbe`, tests pass their own.
pub trait Probe: Send + 'static {
    fn read(&mut self, conditions: &Conditions) -> Readings;
}

/// Whether the worker may work, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Paused by the owner's conditions, with the reason shown to the dispatcher.
    Paused(String),
}

impl Gate {
    pub fn is_open(&self) -> bool {
        matches!(self, Gate::Open)
    }
}

impl Conditions {
    /// Whether any condition is set (without any, the monitor is not started).
    pub fn any(&self) -> bool {
        self.active_hours.is_some()
            || self.idle_only
            || self.not_on_battery
            || self.pause_file.is_some()
    }

    /// The first condition that does not hold, as a reason; `Open` when all hold.
    pub fn decide(&self, readings: &Readings) -> Gate {
        if readings.pause_file_present {
            let path = self.pause_file.as_deref().map(|p| p.display().to_string());
            return Gate::Paused(format!("pause file {} present", path.unwrap_or_default()));
        }
        if let Some(hours) = &self.active_hours {
            if !hours.contains(readings.local) {
                return Gate::Paused(format!("outside the active hours ({hours})"));
            }
        }
        if self.not_on_battery && readings.on_battery {
            return Gate::Paused("on battery".into());
        }
        if self.idle_only {
            if readings.user_active == Some(true) {
                return Gate::Paused("not idle: a user is active".into());
            }
            if let Some(load) = readings.other_load_percent {
                if load >= self.idle_load_percent {
                    return Gate::Paused(format!(
                        "not idle: other processes use {load} % CPU (limit {} %)",
                        self.idle_load_percent
                    ));
                }
            }
        }
        Gate::Open
    }
}

/// Checks the conditions and publishes the gate.
pub struct Monitor<P: Probe> {
    conditions: Conditions,
    probe: P,
    gate: watch::Sender<Gate>,
    /// Passing checks in a row while paused.
    passes: u32,
}

impl<P: Probe> Monitor<P> {
    /// A monitor whose gate starts open; the first check may close it.
    pub fn new(conditions: Conditions, probe: P) -> (Self, watch::Receiver<Gate>) {
        let (gate, rx) = watch::channel(Gate::Open);
        let monitor = Monitor {
            conditions,
            probe,
            gate,
            passes: 0,
        };
        (monitor, rx)
    }

    /// One check: reads, decides, publishes a change; returns the gate now.
    pub fn run_once(&mut self) -> Gate {
        let readings = self.probe.read(&self.conditions);
        let decided = self.conditions.decide(&readings);
        let current = self.gate.borrow().clone();
        let next = match (&current, decided) {
            (Gate::Open, Gate::Open) => Gate::Open,
            (_, Gate::Paused(reason)) => {
                self.passes = 0;
                Gate::Paused(reason)
            }
            (Gate::Paused(reason), Gate::Open) => {
                self.passes += 1;
                if self.passes >= RESUME_AFTER_CHECKS {
                    self.passes = 0;
                    Gate::Open
                } else {
                    Gate::Paused(reason.clone())
                }
            }
        };
        if next != current {
            match &next {
                Gate::Open => info!("volunteer conditions hold again: resuming"),
                Gate::Paused(reason) => {
                    info!(%reason, "volunteer conditions stopped holding: pausing")
                }
            }
            self.gate.send_replace(next.clone());
        }
        next
    }

    /// Checks every [`CHECK_EVERY`] until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    self.run_once();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::NaiveDate;

    use super::*;

    /// A probe that returns whatever the test set.
    #[derive(Clone)]
    struct Scripted(Arc<Mutex<Readings>>);

    impl Probe for Scripted {
        fn read(&mut self, _conditions: &Conditions) -> Readings {
            self.0.lock().expect("lock").clone()
        }
    }

    fn readings() -> Readings {
        Readings {
            // A Monday.
            local: NaiveDate::from_ymd_opt(2026, 11, 30)
                .and_then(|d| d.and_hms_opt(10, 0, 0))
                .expect("date"),
            other_load_percent: Some(5),
            user_active: Some(false),
            on_battery: false,
            pause_file_present: false,
        }
    }

    fn all_conditions() -> Conditions {
        Conditions {
            active_hours: Some("Mon-Fri 09:00-17:00".parse().expect("hours")),
            idle_only: true,
            idle_load_percent: 25,
            not_on_battery: true,
            pause_file: Some("/run/pause".into()),
        }
    }

    #[test]
    fn each_condition_pauses_with_its_reason() {
        let conditions = all_conditions();
        assert_eq!(conditions.decide(&readings()), Gate::Open);
        type Change = Box<dyn Fn(&mut Readings)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|r| r.pause_file_present = true),
                "pause file /run/pause present",
            ),
            (
                Box::new(|r| r.local = r.local.date().and_hms_opt(18, 0, 0).expect("time")),
                "outside the active hours (Mon-Fri 09:00-17:00)",
            ),
            (Box::new(|r| r.on_battery = true), "on battery"),
            (
                Box::new(|r| r.user_active = Some(true)),
                "not idle: a user is active",
            ),
            (
                Box::new(|r| r.other_load_percent = Some(40)),
                "not idle: other processes use 40 % CPU (limit 25 %)",
            ),
        ];
        for (change, reason) in cases {
            let mut r = readings();
            change(&mut r);
            assert_eq!(conditions.decide(&r), Gate::Paused(reason.into()));
        }
    }

    #[test]
    fn unknown_readings_and_unset_conditions_do_not_pause() {
        let mut r = readings();
        r.user_active = None;
        r.other_load_percent = None;
        assert_eq!(all_conditions().decide(&r), Gate::Open);
        r.on_battery = true;
        r.other_load_percent = Some(99);
        r.user_active = Some(true);
        assert_eq!(Conditions::default().decide(&r), Gate::Open);
        assert!(!Conditions::default().any());
        assert!(all_conditions().any());
    }

    #[test]
    fn the_monitor_pauses_at_once_and_resumes_after_steady_checks() {
        let shared = Arc::new(Mutex::new(readings()));
        let (mut monitor, rx) = Monitor::new(all_conditions(), Scripted(shared.clone()));
        assert_eq!(monitor.run_once(), Gate::Open);
        shared.lock().expect("lock").pause_file_present = true;
        assert!(!monitor.run_once().is_open(), "pauses on the first check");
        assert!(!rx.borrow().is_open(), "and publishes it");
        shared.lock().expect("lock").pause_file_present = false;
        for _ in 1..RESUME_AFTER_CHECKS {
            assert!(!monitor.run_once().is_open(), "still paused while settling");
        }
        assert_eq!(monitor.run_once(), Gate::Open);
        assert!(rx.borrow().is_open());
        // A failing check while settling starts the count again.
        shared.lock().expect("lock").on_battery = true;
        monitor.run_once();
        shared.lock().expect("lock").on_battery = false;
        monitor.run_once();
        shared.lock().expect("lock").on_battery = true;
        assert_eq!(monitor.run_once(), Gate::Paused("on battery".into()));
        shared.lock().expect("lock").on_battery = false;
        for _ in 1..RESUME_AFTER_CHECKS {
            assert!(!monitor.run_once().is_open());
        }
        assert!(monitor.run_once().is_open());
    }
}
