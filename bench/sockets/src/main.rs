//! `canopy-bench-sockets`: opens many authenticated, idle worker WebSockets to one running
//! dispatcher and measures what each costs it in memory. `bench/sockets.sh` starts PostgreSQL and
//! the dispatcher and runs this; see `bench/README.md`.

mod client;
mod memory;
mod probe;
mod ramp;
mod report;
mod run;
mod setup;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::Parser;

/// Idle-sockets benchmark against a running dispatcher.
#[derive(Debug, Clone, Parser)]
#[command(name = "canopy-bench-sockets", version, about)]
pub struct Args {
    /// Base URL of the dispatcher (loopback).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub dispatcher_url: String,

    /// Process id of the dispatcher, whose memory is measured (`/proc/<pid>/status`).
    #[arg(long)]
    pub dispatcher_pid: u32,

    /// Idle sessions to open.
    #[arg(long, default_value_t = 50_000)]
    pub sockets: usize,

    /// New connections started per second at most.
    #[arg(long, default_value_t = 2_000)]
    pub rate: u32,

    /// Connections being opened (TCP + upgrade + hello/welcome) at once at most.
    #[arg(long, default_value_t = 64)]
    pub max_in_flight: usize,

    /// Source addresses used round robin: 127.0.0.2, 127.0.0.3, …
    #[arg(long, default_value_t = 8)]
    pub source_addrs: u8,

    /// First source address.
    #[arg(long, default_value = "127.0.0.2")]
    pub first_source: Ipv4Addr,

    /// Seconds all sessions stay idle before the final measurement (at least two heartbeat
    /// intervals are enforced).
    #[arg(long, default_value_t = 30)]
    pub idle_s: u64,

    /// The ramp pauses every this many sessions to measure the dispatcher's RSS (0 = never).
    #[arg(long, default_value_t = 10_000)]
    pub checkpoint: usize,

    /// Concurrent `POST /v1/node/{id}` requests while registering the nodes.
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,

    /// Markdown report to write (e.g. bench/results/sockets-2026-11-24.md).
    #[arg(long)]
    pub report: Option<PathBuf>,

    /// The command that ran the benchmark, recorded in the report.
    #[arg(long, default_value = "")]
    pub command: String,

    /// How the dispatcher was started, recorded in the report.
    #[arg(long, default_value = "")]
    pub dispatcher_command: String,

    /// A remark for the report (repeatable), e.g. why fewer sockets than asked were opened.
    #[arg(long)]
    pub note: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run::run(args))
}
