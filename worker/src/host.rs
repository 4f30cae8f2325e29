//! Host facts and live load: a sampler task refreshes a cached snapshot every few seconds so
//! heartbeats read it for free.

use std::time::Duration;

use sysinfo::{MemoryRefreshKind, RefreshKind, System};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::HostFacts;

/// What the host looks like right now.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSnapshot {
    pub cpus: u32,
    pub total_memory_mb: u32,
    pub available_memory_mb: u32,
    /// Whole-host CPU busy, percent (0 until the second sample).
    pub cpu_busy_percent: u8,
    /// e.g. `x86_64`.
    pub arch: String,
    /// e.g. `linux`.
    pub os: String,
}

impl HostSnapshot {
    /// The facts the configuration defaults are derived from.
    pub fn facts(&self) -> HostFacts {
        HostFacts {
            cpus: self.cpus,
            total_memory_mb: self.total_memory_mb,
        }
    }
}

/// Reads the host with sysinfo; keeps its state between samples (CPU usage is a difference).
pub struct HostSampler {
    system: System,
}

impl Default for HostSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSampler {
    /// A sampler with memory and CPU usage loaded once.
    pub fn new() -> Self {
        let system = System::new_with_specifics(
            RefreshKind::nothing()
                .with_memory(MemoryRefreshKind::nothing().with_ram())
                .with_cpu(sysinfo::CpuRefreshKind::nothing().with_cpu_usage()),
        );
        HostSampler { system }
    }

    /// Refreshes memory and CPU usage and returns the snapshot.
    pub fn sample(&mut self) -> HostSnapshot {
        self.system.refresh_memory();
        self.system.refresh_cpu_usage();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or_else(|_| self.system.cpus().len().max(1));
        HostSnapshot {
            cpus: u32::try_from(cpus).unwrap_or(u32::MAX),
            total_memory_mb: to_mb(self.system.total_memory()),
            available_memory_mb: to_mb(self.system.available_memory()),
            cpu_busy_percent: self.system.global_cpu_usage().clamp(0.0, 100.0).round() as u8,
            arch: std::env::consts::ARCH.to_owned(),
            os: std::env::consts::OS.to_owned(),
        }
    }
}

fn to_mb(bytes: u64) -> u32 {
    u32::try_from(bytes / (1024 * 1024)).unwrap_or(u32::MAX)
}

/// Starts the sampler task: the returned receiver always holds the latest snapshot.
pub fn spawn_sampler(
    every: Duration,
    cancel: CancellationToken,
) -> (watch::Receiver<HostSnapshot>, tokio::task::JoinHandle<()>) {
    let mut sampler = HostSampler::new();
    let (tx, rx) = watch::channel(sampler.sample());
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {
                    if tx.send(sampler.sample()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    (rx, handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_describes_this_machine() {
        let snapshot = HostSampler::new().sample();
        assert!(snapshot.cpus >= 1);
        assert!(snapshot.total_memory_mb > 0);
        assert!(snapshot.available_memory_mb <= snapshot.total_memory_mb);
        assert_eq!(snapshot.os, std::env::consts::OS);
        assert!(snapshot.cpu_busy_percent <= 100);
    }

    #[tokio::test]
    async fn the_sampler_stops_with_the_token() {
        let cancel = CancellationToken::new();
        let (rx, handle) = spawn_sampler(Duration::from_millis(10), cancel.clone());
        assert!(rx.borrow().cpus >= 1);
        cancel.cancel();
        handle.await.expect("sampler ends");
    }
}
