//! The ramp: starts one small task per session at a steady rate, with a bound on connections
//! being opened at once, pausing at checkpoints to measure the dispatcher's RSS.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::client::{self, OpenError, Stats, Target};
use crate::memory::{self, Process, Sample};
use crate::setup::Node;

/// Time one session has for TCP, the upgrade and `hello` → `welcome`.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// How far the ramp may run behind its schedule before it stops trying to catch up.
const CATCH_UP: Duration = Duration::from_millis(100);
/// Quiet time before a checkpoint's measurement.
const SETTLE: Duration = Duration::from_secs(3);

/// How to ramp.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rate: u32,
    pub max_in_flight: usize,
    pub sources: Vec<IpAddr>,
    /// Measure every this many sessions (0 = never).
    pub checkpoint: usize,
}

/// The dispatcher's memory with this many sessions alive (ramp paused, nothing in flight).
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    pub alive: usize,
    pub dispatcher: Sample,
}

/// What the ramp did.
#[derive(Debug, Clone)]
pub struct Ramp {
    pub checkpoints: Vec<Checkpoint>,
    /// Wall time of the ramp without the checkpoint pauses.
    pub opening_s: f64,
}

/// Opens one session per node; returns once every attempt has succeeded or failed.
pub async fn run(
    nodes: Vec<Node>,
    target: Arc<Target>,
    stats: Arc<Stats>,
    plan: &Plan,
    dispatcher: Process,
    shutdown: &CancellationToken,
) -> anyhow::Result<Ramp> {
    anyhow::ensure!(!plan.sources.is_empty(), "no source address");
    let total = nodes.len();
    let in_flight = Arc::new(Semaphore::new(plan.max_in_flight.max(1)));
    let progress = tokio::spawn(print_progress(
        Arc::clone(&stats),
        Arc::clone(&in_flight),
        plan.max_in_flight.max(1),
        total,
        dispatcher,
    ));
    let per_session = Duration::from_secs_f64(1.0 / f64::from(plan.rate.max(1)));
    let mut checkpoints = Vec::new();
    let mut paused = Duration::ZERO;
    let started = Instant::now();
    let mut due = Instant::now();
    for (index, node) in nodes.into_iter().enumerate() {
        if plan.checkpoint > 0 && index > 0 && index % plan.checkpoint == 0 {
            let pause = Instant::now();
            checkpoints.push(checkpoint(&stats, &in_flight, plan.max_in_flight, dispatcher).await?);
            paused += pause.elapsed();
            due = Instant::now();
        }
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        } else if now - due > CATCH_UP {
            // Stalled (every slot in flight): the rate is a ceiling, never a burst to catch up.
            due = now;
        }
        due += per_session;
        let permit = Arc::clone(&in_flight)
            .acquire_owned()
            .await
            .context("the in-flight bound closed")?;
        let source = plan.sources[index % plan.sources.len()];
        tokio::spawn(session(
            node,
            source,
            Arc::clone(&target),
            Arc::clone(&stats),
            shutdown.clone(),
            permit,
        ));
    }
    drain(&in_flight, plan.max_in_flight).await?;
    let opening_s = (started.elapsed().saturating_sub(paused)).as_secs_f64();
    progress.abort();
    checkpoints.push(checkpoint(&stats, &in_flight, plan.max_in_flight, dispatcher).await?);
    Ok(Ramp {
        checkpoints,
        opening_s,
    })
}

/// Opens one session; an established one moves to its own small task.
async fn session(
    node: Node,
    source: IpAddr,
    target: Arc<Target>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    permit: OwnedSemaphorePermit,
) {
    match tokio::time::timeout(OPEN_TIMEOUT, client::open(&node, source, &target)).await {
        Ok(Ok((socket, welcome))) => {
            stats
                .heartbeat_interval_ms
                .store(welcome.heartbeat_interval_ms, Ordering::Relaxed);
            stats.established.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(client::hold(socket, stats, shutdown));
        }
        Ok(Err(error)) => stats.record_failure(&error),
        Err(_) => stats.record_failure(&OpenError::TimedOut),
    }
    drop(permit);
}

/// Waits until no connection is being opened.
async fn drain(in_flight: &Semaphore, max_in_flight: usize) -> anyhow::Result<()> {
    let all = u32::try_from(max_in_flight.max(1)).unwrap_or(u32::MAX);
    let permits = in_flight
        .acquire_many(all)
        .await
        .context("the in-flight bound closed")?;
    drop(permits);
    Ok(())
}

async fn checkpoint(
    stats: &Stats,
    in_flight: &Semaphore,
    max_in_flight: usize,
    dispatcher: Process,
) -> anyhow::Result<Checkpoint> {
    drain(in_flight, max_in_flight).await?;
    tokio::time::sleep(SETTLE).await;
    let sample = memory::sample(dispatcher)?;
    let alive = stats.alive();
    println!(
        "checkpoint: {alive} sessions alive, dispatcher RSS {:.1} MiB (anon {:.1} MiB, peak {:.1} MiB)",
        sample.rss_mib(),
        sample.anon_kib as f64 / 1024.0,
        sample.hwm_kib as f64 / 1024.0
    );
    Ok(Checkpoint {
        alive,
        dispatcher: sample,
    })
}

async fn print_progress(
    stats: Arc<Stats>,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    total: usize,
    dispatcher: Process,
) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        let established = stats.established.load(Ordering::Relaxed);
        let rss = memory::sample(dispatcher).map_or(0.0, |s| s.rss_mib());
        println!(
            "ramp: t={:>4.0}s established={established}/{total} (+{}/s) failed={} dropped={} in-flight={} dispatcher RSS {rss:.1} MiB",
            started.elapsed().as_secs_f64(),
            established.saturating_sub(last),
            stats.failed.load(Ordering::Relaxed),
            stats.dropped.load(Ordering::Relaxed),
            max_in_flight.saturating_sub(in_flight.available_permits()),
        );
        last = established;
    }
}
