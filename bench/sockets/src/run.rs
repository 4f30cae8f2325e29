//! The benchmark from start to end: checks, setup, the baseline measurement, the ramp, the idle
//! period, the final measurement and the report.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::client::{Stats, Target};
use crate::memory::{self, Process, Sample};
use crate::ramp::{self, Plan, Ramp};
use crate::report::{self, Closing, Outcome};
use crate::{probe, setup, Args};

/// Quiet time after the setup before the baseline RSS is taken.
const WARM_UP: Duration = Duration::from_secs(5);
/// Open files a process needs besides its sockets (listeners, database pool, epoll, logs).
const FD_RESERVE: u64 = 128;
/// How long closing every session may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(120);
/// The dispatcher's default, if no `welcome` arrived to say otherwise.
const DEFAULT_HEARTBEAT_MS: u64 = 5_000;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let dispatcher = Process::Pid(args.dispatcher_pid);
    check_open_files(args.sockets, dispatcher)?;
    let base = args.dispatcher_url.trim_end_matches('/').to_owned();
    let target = Arc::new(target(&base)?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.setup_concurrency)
        .build()
        .context("while building the HTTP client")?;
    setup::wait_ready(&client, &base).await?;
    let at_start = memory::sample(dispatcher)?;
    println!(
        "dispatcher pid {} ready at {base}: RSS {:.1} MiB",
        args.dispatcher_pid,
        at_start.rss_mib()
    );

    let setup_started = Instant::now();
    let token = setup::account(&client, &base).await?;
    let nodes = setup::nodes(&client, &base, &token, args.sockets, args.setup_concurrency).await?;
    let setup_s = setup_started.elapsed().as_secs_f64();
    let (before, client_before) = baseline(dispatcher).await?;

    let plan = Plan {
        rate: args.rate,
        max_in_flight: args.max_in_flight,
        sources: sources(args.first_source, args.source_addrs),
        checkpoint: args.checkpoint,
    };
    print_plan(&args, &plan);
    let stats = Arc::new(Stats::default());
    let shutdown = CancellationToken::new();
    let ramp = ramp::run(
        nodes,
        target,
        Arc::clone(&stats),
        &plan,
        dispatcher,
        &shutdown,
    )
    .await?;

    let heartbeat_ms = match stats.heartbeat_interval_ms.load(Ordering::Relaxed) {
        0 => DEFAULT_HEARTBEAT_MS,
        ms => ms,
    };
    let idle_s = args.idle_s.max(2 * heartbeat_ms.div_ceil(1000) + 1);
    idle(&stats, idle_s, dispatcher).await;
    let after = memory::sample(dispatcher)?;
    let client_after = memory::sample(Process::Current)?;
    let view = probe::view(&client, &base, &token).await;
    let measured = Measured {
        setup_s,
        heartbeat_ms,
        idle_s,
        at_start,
        before,
        after,
        client_before,
        client_after,
        view,
    };
    let mut outcome = outcome(&args, &plan, &stats, ramp, measured);
    outcome.closing = Some(close_all(&stats, &shutdown, dispatcher).await?);
    report::print(&outcome);
    if let Some(path) = &args.report {
        report::write(path, &outcome)?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

/// What was measured besides the session counters.
struct Measured {
    setup_s: f64,
    heartbeat_ms: u64,
    idle_s: u64,
    at_start: Sample,
    before: Sample,
    after: Sample,
    client_before: Sample,
    client_after: Sample,
    view: probe::View,
}

fn outcome(args: &Args, plan: &Plan, stats: &Stats, ramp: Ramp, measured: Measured) -> Outcome {
    Outcome {
        sockets: args.sockets,
        rate: args.rate,
        sources: plan.sources.len(),
        established: stats.established.load(Ordering::Relaxed),
        failed: stats.failed.load(Ordering::Relaxed),
        dropped: stats.dropped.load(Ordering::Relaxed),
        alive: stats.alive(),
        pings: stats.pings.load(Ordering::Relaxed),
        failures: stats.failures(),
        drops: stats.drops(),
        heartbeat_ms: measured.heartbeat_ms,
        idle_s: measured.idle_s,
        setup_s: measured.setup_s,
        opening_s: ramp.opening_s,
        at_start: measured.at_start,
        before: measured.before,
        after: measured.after,
        client_before: measured.client_before,
        client_after: measured.client_after,
        checkpoints: ramp.checkpoints,
        view: measured.view,
        closing: None,
        command: args.command.clone(),
        dispatcher_command: args.dispatcher_command.clone(),
        notes: args.note.clone(),
    }
}

/// The dispatcher's and this client's memory once the setup is over and things are quiet.
async fn baseline(dispatcher: Process) -> anyhow::Result<(Sample, Sample)> {
    tokio::time::sleep(WARM_UP).await;
    let before = memory::sample(dispatcher)?;
    let client_before = memory::sample(Process::Current)?;
    println!(
        "baseline (after setup and {} s idle): dispatcher RSS {:.1} MiB, client RSS {:.1} MiB",
        WARM_UP.as_secs(),
        before.rss_mib(),
        client_before.rss_mib()
    );
    Ok((before, client_before))
}

fn print_plan(args: &Args, plan: &Plan) {
    println!(
        "ramp: {} sessions at {}/s from {} source addresses ({}–{}), at most {} opening at once",
        args.sockets,
        args.rate,
        plan.sources.len(),
        plan.sources
            .first()
            .map_or_else(String::new, IpAddr::to_string),
        plan.sources
            .last()
            .map_or_else(String::new, IpAddr::to_string),
        args.max_in_flight
    );
}

/// Every session says `goodbye`; waits until the dispatcher closed them all, then measures.
async fn close_all(
    stats: &Stats,
    shutdown: &CancellationToken,
    dispatcher: Process,
) -> anyhow::Result<Closing> {
    let open = stats.alive();
    let started = Instant::now();
    shutdown.cancel();
    while stats.alive() > 0 && started.elapsed() < CLOSE_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let left_open = stats.alive();
    tokio::time::sleep(WARM_UP).await;
    let dispatcher = memory::sample(dispatcher)?;
    println!(
        "close: {} of {open} sessions said goodbye and were closed in {seconds:.1} s; dispatcher RSS {:.1} MiB {} s later",
        open - left_open,
        dispatcher.rss_mib(),
        WARM_UP.as_secs()
    );
    Ok(Closing {
        seconds,
        left_open,
        dispatcher,
    })
}

/// Every session is a file descriptor on both sides: refuse early, with the fix, when the limits
/// cannot hold them.
fn check_open_files(sockets: usize, dispatcher: Process) -> anyhow::Result<()> {
    let needed = sockets as u64 + FD_RESERVE;
    for (who, process) in [
        ("this client", Process::Current),
        ("the dispatcher", dispatcher),
    ] {
        let limit = memory::open_files_limit(process)?;
        anyhow::ensure!(
            limit >= needed,
            "{who} may open {limit} files but {sockets} sockets need about {needed}: raise `ulimit -n` (bench/sockets.sh does when it can)"
        );
    }
    Ok(())
}

/// The socket address and WebSocket URL of the gateway behind an `http://ip:port` base.
fn target(base: &str) -> anyhow::Result<Target> {
    let url = reqwest::Url::parse(base).with_context(|| format!("{base} is not a URL"))?;
    let host = url.host_str().context("the dispatcher URL has no host")?;
    let ip: IpAddr = host
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .with_context(|| format!("the dispatcher host {host} must be an IP address (loopback)"))?;
    let port = url
        .port_or_known_default()
        .context("the dispatcher URL has no port")?;
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        url: format!("ws://{host}:{port}/v1/worker/connect"),
    })
}

/// `count` consecutive IPv4 addresses from `first`.
fn sources(first: Ipv4Addr, count: u8) -> Vec<IpAddr> {
    let first = u32::from(first);
    (0..u32::from(count.max(1)))
        .map(|offset| IpAddr::V4(Ipv4Addr::from(first.saturating_add(offset))))
        .collect()
}

/// Holds every session for `seconds`, printing who is still alive every five seconds.
async fn idle(stats: &Stats, seconds: u64, dispatcher: Process) {
    println!("idle: holding {} sessions for {seconds} s", stats.alive());
    let started = Instant::now();
    let total = Duration::from_secs(seconds);
    while started.elapsed() < total {
        let step = Duration::from_secs(5).min(total.saturating_sub(started.elapsed()));
        tokio::time::sleep(step).await;
        let rss = memory::sample(dispatcher).map_or(0.0, |s: Sample| s.rss_mib());
        println!(
            "idle: t={:>3.0}s alive={} dropped={} pings answered={} dispatcher RSS {rss:.1} MiB",
            started.elapsed().as_secs_f64(),
            stats.alive(),
            stats.dropped.load(Ordering::Relaxed),
            stats.pings.load(Ordering::Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_derived_from_the_base_url() {
        let found = target("http://127.0.0.1:8123").expect("a target");
        assert_eq!(found.addr.to_string(), "127.0.0.1:8123");
        assert_eq!(found.url, "ws://127.0.0.1:8123/v1/worker/connect");
        assert!(target("http://localhost:1").is_err());
    }

    #[test]
    fn sources_are_consecutive() {
        let list = sources(Ipv4Addr::new(127, 0, 0, 2), 3);
        assert_eq!(list.len(), 3);
        assert_eq!(list[2].to_string(), "127.0.0.4");
    }
}
