//! The closed-loop load driver shared by both phases: C clients each repeat one operation until
//! the window ends; what happens during the warm-up is not counted (its errors are kept apart).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::stats::Latency;

/// The measured interval, after the warm-up.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    /// A window that opens after `warmup` and lasts `seconds`.
    pub fn after(warmup: Duration, seconds: Duration) -> Window {
        let start = Instant::now() + warmup;
        Window {
            start,
            end: start + seconds,
        }
    }

    pub fn contains(&self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }

    pub fn seconds(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

/// One successful operation: when it started, when its measured event happened, and an
/// optional second duration (create→assign also records POST→201).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub started: Instant,
    pub finished: Instant,
    pub secondary: Option<Duration>,
}

/// Why an operation failed, as a short stable label (`http_503`, `transport`, `assign_timeout`).
pub type Failure = String;

/// What the clients saw.
#[derive(Debug, Default)]
struct Recorder {
    /// Operations started inside the window (their latency counts even if they end after it).
    latencies: Vec<Duration>,
    secondary: Vec<Duration>,
    /// Successful operations that finished inside the window (the throughput).
    finished_in_window: u64,
    errors: BTreeMap<String, u64>,
    warmup_errors: BTreeMap<String, u64>,
}

impl Recorder {
    fn merge(&mut self, other: Recorder) {
        self.latencies.extend(other.latencies);
        self.secondary.extend(other.secondary);
        self.finished_in_window += other.finished_in_window;
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_default() += count;
        }
        for (kind, count) in other.warmup_errors {
            *self.warmup_errors.entry(kind).or_default() += count;
        }
    }
}

/// The result of one round at one client count, as written to `<phase>-c<clients>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Round {
    pub clients: usize,
    pub seconds: f64,
    /// Successful operations finished in the window.
    pub ok: u64,
    /// `ok` per second.
    pub throughput: f64,
    /// Failures in the window, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Failures during the warm-up (not in `errors`).
    pub warmup_errors: BTreeMap<String, u64>,
    /// The phase's latency (create→result, or create→assign).
    pub latency: Latency,
    /// POST→201 in the create→assign phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_latency: Option<Latency>,
    /// Assignments that matched no request of this round (left over from earlier phases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched_assigns: Option<u64>,
}

impl Round {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Runs `clients` loops of `op` over `window` and summarises them. Every in-flight operation is
/// awaited, so the system is quiet again when this returns.
pub async fn run<F, Fut>(clients: usize, window: Window, op: F) -> Round
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Sample, Failure>> + Send + 'static,
{
    let handles: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(client_loop(window, op.clone())))
        .collect();
    let mut total = Recorder::default();
    for handle in handles {
        match handle.await {
            Ok(recorder) => total.merge(recorder),
            Err(_) => *total.errors.entry("client_panicked".into()).or_default() += 1,
        }
    }
    let has_secondary = !total.secondary.is_empty();
    Round {
        clients,
        seconds: window.seconds(),
        ok: total.finished_in_window,
        throughput: total.finished_in_window as f64 / window.seconds(),
        errors: total.errors,
        warmup_errors: total.warmup_errors,
        latency: Latency::from_samples(&mut total.latencies),
        create_latency: has_secondary.then(|| Latency::from_samples(&mut total.secondary)),
        unmatched_assigns: None,
    }
}

async fn client_loop<F, Fut>(window: Window, op: F) -> Recorder
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Sample, Failure>>,
{
    let mut recorder = Recorder::default();
    while Instant::now() < window.end {
        let attempted = Instant::now();
        match op().await {
            Ok(sample) => {
                if window.contains(sample.started) {
                    recorder.latencies.push(sample.finished - sample.started);
                    recorder.secondary.extend(sample.secondary);
                }
                if window.contains(sample.finished) {
                    recorder.finished_in_window += 1;
                }
            }
            Err(kind) => {
                let bucket = if attempted >= window.start {
                    &mut recorder.errors
                } else {
                    &mut recorder.warmup_errors
                };
                *bucket.entry(kind).or_default() += 1;
                // A refusing or dead server must not turn the loop into a busy spin.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    recorder
}
